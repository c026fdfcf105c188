"""Request parameters every API route reads the same way (the platform's and the
sectors'): model versions in the path or the query, bounded like the store's.

Layer: surface helpers (docs/architecture.md)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

from odlar.core.tasks import MAX_VERSION
from odlar.core.versions import VERSION_DEFAULT

VERSION = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Model version")]
OPTIONAL_VERSION = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description=VERSION_DEFAULT)
]


def _iso_time(value: object) -> object:
    """Times are ISO 8601 text: pydantic would also read a bare number as seconds since
    1970, which the schema does not promise (a fuzzer's integer was answered 200)."""
    if not isinstance(value, str | datetime) or (
        isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value)
    ):
        raise ValueError("give an ISO 8601 time such as 2026-12-01 or 2026-12-01T08:00:00Z")
    return value


#: an optional time bound in the query (since, until, before), ISO 8601 only
OPTIONAL_TIME = Annotated[
    datetime | None, BeforeValidator(_iso_time), Query(description="ISO 8601 time (UTC if no zone)")
]

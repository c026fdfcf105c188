"""Request parameters every API route reads the same way (the platform's and the
sectors'): model versions in the path or the query, bounded like the store's.

Layer: surface helpers (docs/architecture.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from odlar.core.tasks import MAX_VERSION
from odlar.core.versions import VERSION_DEFAULT

VERSION = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Model version")]
OPTIONAL_VERSION = Annotated[
    int | None, Query(ge=1, le=MAX_VERSION, description=VERSION_DEFAULT)
]

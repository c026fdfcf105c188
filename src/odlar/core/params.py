"""`name=value` settings (hyperparameters, protocol settings): one parser for every surface."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from odlar.core.errors import UsageError


def parse_params(pairs: Iterable[str], *, label: str = "--param") -> dict[str, Any]:
    """Each ``name=value`` as a dict; a value is read as JSON when it is JSON (numbers,
    true/false, lists), else kept as text. `label` names the input in the error."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"{label} '{pair}' must look like name=value")
        try:
            out[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[name.strip()] = value.strip()
    return out


def split_params(text: str) -> list[str]:
    """A form field of settings, separated by commas or lines, as pairs."""
    return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]

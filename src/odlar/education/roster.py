"""A teacher's roster: which pseudonym is which of their pupils. It is written on the
school's side from a file that already holds the real identifiers (the answers export or a
class list) and opened in the browser on the class page, which shows names beside
pseudonyms; odlar stores nothing of it and the console never receives it."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from odlar.core.errors import DataError
from odlar.core.privacy import is_pseudonym, pseudonym
from odlar.core.tables import lines_of
from odlar.education.interactions import STUDENT_COLUMNS, _find, read_log

NAME_COLUMNS = ("name", "student_name", "full_name", "display_name")


def roster(path: Path, *, tenant: str) -> pd.DataFrame:
    """Columns `pseudonym` and `name`, one row per student of the file at `path` (a
    `name` column is used when the file has one, else the identifier itself)."""
    frame = read_log(path)
    column = _find(list(frame.columns), STUDENT_COLUMNS)
    if column is None:
        raise DataError(f"no student column (one of {', '.join(STUDENT_COLUMNS)})", file=str(path))
    named = _find(list(frame.columns), NAME_COLUMNS)
    rows: dict[str, str] = {}
    for i, (ident, line) in enumerate(zip(frame[column].str.strip(), lines_of(frame), strict=True)):
        where = {"file": str(path), "line": int(line), "field": column}
        if not ident:
            raise DataError("empty student id", **where)
        if is_pseudonym(ident):
            raise DataError("already a pseudonym: a roster needs the real identifiers", **where)
        rows.setdefault(pseudonym(ident, tenant=tenant), frame[named].iloc[i] if named else ident)
    return pd.DataFrame({"pseudonym": list(rows), "name": list(rows.values())})

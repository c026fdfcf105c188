"""Shared checks of text tables before and after pandas reads them: the encoding, and the
physical line of each data row (pandas skips blank lines, so a row's index is not its line).
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import numpy as np
import pandas as pd

from odlar.core.errors import DataError

_BLOCK = 1 << 20


def require_utf8(path: Path, *, name: str | None = None) -> None:
    """Refuse a file that is not UTF-8 text, naming the line and byte offset of the first
    bad byte (read in blocks: memory stays flat on a large file)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with path.open("rb") as f:
        while True:
            block = f.read(_BLOCK)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                # exc.start counts from the bytes the decoder held back plus this block
                held = len(exc.object) - len(block)
                bad = offset - held + exc.start
                line += exc.object[: exc.start].count(b"\n")
                raise DataError(
                    f"not UTF-8 text: byte 0x{exc.object[exc.start]:02x} at byte offset {bad} "
                    "(save the file as UTF-8)",
                    file=name or str(path),
                    line=line,
                ) from None
            if not block:
                return
            line += block.count(b"\n")
            offset += len(block)


def data_lines(path: Path, rows: int, *, sep: str | None = ",", header: bool = True) -> np.ndarray:
    """The 1-based physical line of each of the `rows` data rows pandas read from `path`,
    skipping blank (empty or whitespace-only) lines as pandas does. `sep=None`: fields
    separated by whitespace. Counting newlines settles the common case (no blank line, no
    quoted line break) without parsing the file twice."""
    first = 2 if header else 1
    with path.open("rb") as f:
        newlines, last = 0, b""
        for block in iter(lambda: f.read(_BLOCK), b""):
            newlines += block.count(b"\n")
            last = block[-1:]
    physical = newlines + (1 if last and last != b"\n" else 0)
    if physical == rows + first - 1:
        return np.arange(rows, dtype=np.int64) + first
    lines: list[int] = []
    with path.open("r", encoding="utf-8", errors="replace", newline="") as f:
        if sep is None or sep.isspace():
            records = ((n, line.split()) for n, line in enumerate(f, start=1))
            numbered = ((n, r) for n, r in records if r)
        else:
            reader = csv.reader(f, delimiter=sep)
            numbered = (
                (reader.line_num, r) for r in reader if r and (len(r) > 1 or r[0].strip())
            )
            # a quoted field over several lines: its row starts where the record started,
            # which line_num (the record's last line) does not say; close enough for errors
        seen_header = not header
        for n, _ in numbered:
            if not seen_header:
                seen_header = True
                continue
            lines.append(n)
            if len(lines) == rows:
                break
    if len(lines) < rows:  # the parser saw rows this scan did not: fall back to positions
        return np.arange(rows, dtype=np.int64) + first
    return np.asarray(lines, dtype=np.int64)


def with_lines(frame: pd.DataFrame, lines: np.ndarray) -> pd.DataFrame:
    """Attach the physical line of each row, for error messages after validation."""
    frame.attrs["lines"] = lines
    return frame


def lines_of(frame: pd.DataFrame, first: int = 2) -> np.ndarray:
    """The physical lines attached by `with_lines`, or positions after a header line."""
    lines = frame.attrs.get("lines")
    if lines is not None and len(lines) == len(frame):
        return np.asarray(lines)
    return np.arange(len(frame), dtype=np.int64) + first

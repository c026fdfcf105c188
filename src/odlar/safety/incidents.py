"""Incident records (time, category, latitude, longitude) and their aggregation into a
grid of cells and days: the input of every `safety.hotspots` model.

Accepted files: CSV or Parquet with a header naming `time`, `category`, `latitude` and
`longitude` (the New York release's `Occurrence Date`, `Offense`, `Latitude`,
`Longitude` are understood too), a headerless four-column CSV in that order (the Chicago
release), or a zip holding one such CSV.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from odlar.core.errors import DataError

COLUMNS = ("time", "category", "latitude", "longitude")
ALIASES = {
    "occurrence date": "time",
    "date": "time",
    "offense": "category",
    "primary type": "category",
    "lat": "latitude",
    "lon": "longitude",
    "lng": "longitude",
}
#: the releases' own timestamp format; other files may use ISO 8601
RELEASE_TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
MAX_ROWS = 20_000_000


def _read_raw(path: Path) -> tuple[pd.DataFrame, str, int]:
    """(frame of strings, name shown in errors, line number of the first data row)."""
    name = str(path)
    if path.suffix.lower() == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many kinds for a bad file
            raise DataError(f"not a readable Parquet file ({exc})", file=name) from None
        return _named(frame, name), name, 1
    raw = path.read_bytes()
    if path.suffix.lower() == ".zip":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                members = [m for m in zf.namelist() if m.lower().endswith(".csv")]
                if len(members) != 1:
                    raise DataError("a zip must hold exactly one .csv file", file=name)
                name = f"{path}!{members[0]}"
                raw = zf.read(members[0])
        except zipfile.BadZipFile:
            raise DataError("not a readable zip file", file=name) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"not UTF-8 text (byte {exc.start})", file=name) from None
    first = text.split("\n", 1)[0].strip().split(",")
    headerless = len(first) == 4 and _looks_like_time(first[0])
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            header=None if headerless else 0,
            dtype=str,
            keep_default_na=False,
            names=list(COLUMNS) if headerless else None,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"not a readable CSV file ({str(exc).strip()})", file=name) from None
    return (frame if headerless else _named(frame, name)), name, 1 if headerless else 2


def _looks_like_time(value: str) -> bool:
    return not pd.isna(pd.to_datetime(value, format=RELEASE_TIME_FORMAT, errors="coerce"))


def _named(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    renamed = {c: ALIASES.get(str(c).strip().lower(), str(c).strip().lower()) for c in frame}
    frame = frame.rename(columns=renamed)
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {', '.join(missing)} (an incident file needs {', '.join(COLUMNS)})",
            file=name,
        )
    return frame[list(COLUMNS)]


def _parse_time(values: pd.Series) -> pd.Series:
    text = values.astype(str).str.strip()
    parsed = pd.to_datetime(text, format=RELEASE_TIME_FORMAT, errors="coerce", cache=False)
    rest = parsed.isna()
    if rest.any():  # ISO 8601 for everything else
        parsed[rest] = pd.to_datetime(text[rest], format="ISO8601", errors="coerce")
    return parsed


def load_incidents(source: str | Path) -> tuple[pd.DataFrame, str, str]:
    """Validated incidents (columns time, category, latitude, longitude, line), the name of
    the file read and its SHA-256. Any bad cell is a DataError naming file, line, column."""
    path = Path(source)
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    frame, name, first_line = _read_raw(path)
    if frame.empty:
        raise DataError("no incident rows", file=name)
    if len(frame) > MAX_ROWS:
        raise DataError(f"{len(frame)} rows; at most {MAX_ROWS} accepted", file=name)
    lines = np.arange(len(frame)) + first_line
    out = pd.DataFrame({"time": _parse_time(frame["time"])})
    _first_bad(out["time"].isna(), frame["time"], lines, name, "time", "not a date and time")
    out["category"] = frame["category"].astype(str).str.strip().str.upper()
    _first_bad(out["category"] == "", frame["category"], lines, name, "category", "empty")
    for col, bound in (("latitude", 90.0), ("longitude", 180.0)):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values) | (values.abs() > bound)
        _first_bad(bad, frame[col], lines, name, col, f"not a number within +-{bound:g}")
        out[col] = values.astype(float)
    out["line"] = lines
    return out, name, hashlib.sha256(path.read_bytes()).hexdigest()


def _first_bad(
    bad: pd.Series, raw: pd.Series, lines: np.ndarray, name: str, col: str, what: str
) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{raw.iloc[i]!r}: {what}", file=name, line=int(lines[i]), field=col)


@dataclass(frozen=True)
class Grid:
    """Rectangular cells from the south-west corner: row = int((lat - lat0) * lat_div),
    col = int((lon - lon0) * lon_div). The published setting divides by 111/3 and 84/3
    (about 3 km at Chicago's and New York's latitude)."""

    lat0: float
    lon0: float
    rows: int
    cols: int
    lat_div: float = 111 / 3
    lon_div: float = 84 / 3

    @classmethod
    def covering(cls, frame: pd.DataFrame, lat_div: float = 111 / 3, lon_div: float = 84 / 3):
        lat0, lon0 = float(frame["latitude"].min()), float(frame["longitude"].min())
        rows = int((frame["latitude"].max() - lat0) * lat_div) + 1
        cols = int((frame["longitude"].max() - lon0) * lon_div) + 1
        return cls(lat0, lon0, rows, cols, lat_div, lon_div)

    @property
    def cells(self) -> int:
        return self.rows * self.cols

    def cell_of(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of each point; points outside the grid get -1."""
        r = np.floor((np.asarray(lat) - self.lat0) * self.lat_div).astype(int)
        c = np.floor((np.asarray(lon) - self.lon0) * self.lon_div).astype(int)
        outside = (r < 0) | (r >= self.rows) | (c < 0) | (c >= self.cols)
        return np.where(outside, -1, r), np.where(outside, -1, c)

    def centre(self, cell: int) -> tuple[float, float]:
        r, c = divmod(cell, self.cols)
        return self.lat0 + (r + 0.5) / self.lat_div, self.lon0 + (c + 0.5) / self.lon_div

    def neighbours(self) -> np.ndarray:
        """(cells, cells) 0/1 matrix of the 8 surrounding cells (queen contiguity)."""
        r, c = np.divmod(np.arange(self.cells), self.cols)
        dr, dc = np.abs(r[:, None] - r[None, :]), np.abs(c[:, None] - c[None, :])
        return ((dr <= 1) & (dc <= 1) & ~((dr == 0) & (dc == 0))).astype(float)


def cube(
    frame: pd.DataFrame, grid: Grid, categories: tuple[str, ...], start: pd.Timestamp, days: int
) -> np.ndarray:
    """Daily counts, shape (days, cells, categories); incidents outside the grid, the
    period or the categories are not counted (the caller reports how many)."""
    day = (frame["time"].dt.normalize() - start).dt.days.to_numpy()
    r, c = grid.cell_of(frame["latitude"].to_numpy(), frame["longitude"].to_numpy())
    k = pd.Categorical(frame["category"], categories=list(categories)).codes
    keep = (day >= 0) & (day < days) & (r >= 0) & (k >= 0)
    out = np.zeros((days, grid.cells, len(categories)))
    np.add.at(out, (day[keep], r[keep] * grid.cols + c[keep], k[keep]), 1.0)
    return out

"""Run-to-failure fleet histories: the NASA C-MAPSS text format and a user's CSV or Parquet.

Every problem is reported with the file, the line (1-based, as an editor shows it) and the
column, so a reliability engineer can open the file and fix it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from odlar.core.datasets import Fetcher, register_fetcher, sha256_file, verify_checksums
from odlar.core.errors import DataError
from odlar.core.tables import data_lines, require_utf8
from odlar.core.tasks import Dataset

CMAPSS_COLUMNS = (
    ["unit", "cycle"]
    + [f"setting_{i}" for i in range(1, 4)]
    + [f"sensor_{i}" for i in range(1, 22)]
)
ID_COLUMNS = ("unit", "cycle")


def load_fleet(path: str | Path, *, truth: str | Path | None = None) -> Dataset:
    """Load and validate a fleet; `truth` (or RUL_FDxxx.txt beside test_FDxxx.txt) adds
    the true remaining life of each unit at its last cycle, for evaluation."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file", file=str(path))
    if path.is_dir():
        raise DataError("is a folder; give the fleet file inside it", file=str(path))
    if path.stat().st_size == 0:
        raise DataError("the file is empty", file=str(path))
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = _read_parquet(path)
        lines = np.arange(1, len(frame) + 1)  # rows, not lines: report row numbers from 1
        header = False
    else:
        require_utf8(path)
        header = suffix == ".csv"
        frame = _read_csv(path) if header else _read_cmapss_text(path)
        sep = _separator(path) if header else None
        lines = data_lines(path, len(frame), sep=sep, header=header)
    _check_frame(frame, path, lines, header=header)
    truth_path = Path(truth) if truth else _beside(path)
    truth_series = _read_truth(truth_path, frame) if truth_path else None
    return Dataset(
        frame=frame,
        source=str(path),
        sha256=sha256_file(path),
        rows=len(frame),
        summary=_summary(frame),
        truth=truth_series,
    )


def _beside(path: Path) -> Path | None:
    if path.name.startswith("test_") and path.suffix == ".txt":
        candidate = path.with_name("RUL_" + path.name.removeprefix("test_"))
        return candidate if candidate.exists() else None
    return None


def _read_cmapss_text(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_csv(
            path, sep=r"\s+", header=None, dtype=np.float64, engine="c", na_filter=False
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        frame = None
    # a short line is padded with NaN by pandas: find it and report it exactly
    if frame is None or frame.shape[1] != len(CMAPSS_COLUMNS) or frame.isna().to_numpy().any():
        _diagnose_text(path)  # raises with the exact line
    if frame.empty:
        raise DataError("the file holds no data rows", file=str(path))
    frame.columns = CMAPSS_COLUMNS
    return frame


def _diagnose_text(path: Path) -> None:
    """Scan line by line to name the first malformed line of a C-MAPSS text file."""
    n = len(CMAPSS_COLUMNS)
    seen = False
    with path.open("r", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            seen = True
            if len(fields) != n:
                raise DataError(
                    f"expected {n} columns (unit, cycle, 3 settings, 21 sensors), "
                    f"found {len(fields)}",
                    file=str(path),
                    line=lineno,
                )
            for name, value in zip(CMAPSS_COLUMNS, fields, strict=True):
                try:
                    float(value)
                except ValueError:
                    raise DataError(
                        f"'{value[:40]}' is not a number", file=str(path), line=lineno, field=name
                    ) from None
    if not seen:
        raise DataError("the file holds no data rows", file=str(path))
    raise DataError("could not be parsed as C-MAPSS text", file=str(path))


def _read_csv(path: Path) -> pd.DataFrame:
    sep = _separator(path)
    try:
        frame = pd.read_csv(path, sep=sep, engine="c")
    except pd.errors.EmptyDataError:
        raise DataError("the file is empty", file=str(path)) from None
    except pd.errors.ParserError as exc:
        raise DataError(f"not valid CSV: {exc}".splitlines()[0], file=str(path)) from None
    if frame.empty:
        raise DataError("the file has a header but no data rows", file=str(path))
    return frame


def _separator(path: Path) -> str:
    """Comma unless the header has none and holds semicolons or tabs."""
    with path.open("r", errors="replace") as f:
        head = f.readline()
    if "," in head:
        return ","
    return "\t" if head.count("\t") > head.count(";") else (";" if ";" in head else ",")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a broken file
        raise DataError(
            f"not a readable Parquet file ({type(exc).__name__})", file=str(path)
        ) from None
    if frame.empty:
        raise DataError("the file holds no rows", file=str(path))
    return frame.reset_index(drop=True)


def _check_frame(frame: pd.DataFrame, path: Path, lines: np.ndarray, *, header: bool) -> None:
    """Types, missing values and cycle order; mutates numeric columns to float64. `lines`:
    the physical line (or Parquet row) of each row, for the messages."""
    where = str(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    for col in ID_COLUMNS:
        if col not in frame.columns:
            raise DataError(
                f"missing required column '{col}' (columns found: {', '.join(frame.columns[:12])})",
                file=where,
                line=1 if header else None,
            )
    dupes = frame.columns[frame.columns.duplicated()].tolist()
    if dupes:
        raise DataError(f"column '{dupes[0]}' appears twice", file=where)
    features = [c for c in frame.columns if c not in ID_COLUMNS]
    if not features:
        raise DataError("no sensor or setting columns besides unit and cycle", file=where)

    def line_of(i: int) -> int:
        return int(lines[i])

    for col in ["cycle", *features]:
        raw = frame[col]
        values = pd.to_numeric(raw, errors="coerce")
        bad = values.isna() & raw.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(
                f"'{str(raw.iloc[i])[:40]}' is not a number", file=where, line=line_of(i), field=col
            )
        missing = values.isna()
        if missing.any():
            i = int(np.flatnonzero(missing.to_numpy())[0])
            raise DataError("missing value", file=where, line=line_of(i), field=col)
        if not np.isfinite(values.to_numpy()).all():
            i = int(np.flatnonzero(~np.isfinite(values.to_numpy()))[0])
            raise DataError("value is not finite", file=where, line=line_of(i), field=col)
        frame[col] = values.astype(np.float64)
    if frame["unit"].isna().any():
        i = int(np.flatnonzero(frame["unit"].isna().to_numpy())[0])
        raise DataError("missing unit", file=where, line=line_of(i), field="unit")
    if pd.api.types.is_float_dtype(frame["unit"]) and (frame["unit"] % 1 == 0).all():
        frame["unit"] = frame["unit"].astype(np.int64)
    # cycles must strictly increase within each unit, in file order
    prev = frame.groupby("unit", sort=False)["cycle"].shift()
    bad = (frame["cycle"] <= prev).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"cycle {frame['cycle'].iloc[i]:g} of unit {frame['unit'].iloc[i]} does not come "
            f"after cycle {prev.iloc[i]:g}: cycles must increase within a unit",
            file=where,
            line=line_of(i),
            field="cycle",
        )


def _read_truth(path: Path, frame: pd.DataFrame) -> pd.Series:
    """True RUL at the last cycle of each unit: one number a line in unit order, or a CSV
    with columns unit and rul."""
    units = pd.unique(frame["unit"])
    if not path.exists():
        raise DataError("no such file (ground truth)", file=str(path))
    require_utf8(path)
    if path.suffix.lower() == ".csv":
        t = pd.read_csv(path)
        if not {"unit", "rul"} <= set(t.columns):
            raise DataError("a truth CSV needs columns 'unit' and 'rul'", file=str(path), line=1)
        series = pd.Series(pd.to_numeric(t["rul"], errors="coerce").to_numpy(), index=t["unit"])
    else:
        values = []
        with path.open(encoding="utf-8") as f:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    values.append(float(line.split()[0]))
                except ValueError:
                    raise DataError(
                        f"'{line.strip()[:40]}' is not a number", file=str(path), line=lineno
                    ) from None
        if len(values) != len(units):
            raise DataError(f"{len(values)} truth values for {len(units)} units", file=str(path))
        series = pd.Series(values, index=units)
    missing = [u for u in units if u not in series.index]
    if missing:
        raise DataError(f"no truth for unit {missing[0]}", file=str(path))
    if series.isna().any() or (series < 0).any():
        raise DataError("truth values must be numbers >= 0", file=str(path))
    return series.loc[units].astype(float)


def _summary(frame: pd.DataFrame) -> dict:
    lengths = frame.groupby("unit", sort=False).size()
    return {
        "units": int(lengths.size),
        "rows": int(len(frame)),
        "cycles_per_unit": {
            "min": int(lengths.min()),
            "median": float(lengths.median()),
            "max": int(lengths.max()),
        },
        "cycle_span": [float(frame["cycle"].min()), float(frame["cycle"].max())],
        "columns": [c for c in frame.columns if c not in ID_COLUMNS],
    }


# --- download from the publisher -------------------------------------------------------

CMAPSS_URL = (
    "https://phm-datasets.s3.amazonaws.com/NASA/"
    "6.+Turbofan+Engine+Degradation+Simulation+Data+Set.zip"
)
#: SHA-256 of the files as NASA publishes them (checked against the shared copy).
CMAPSS_SHA256 = {
    "train_FD001.txt": "963b5e22825b34d8b21c69e1aeb4af3e647050eb672ee8834ba4b5d91d2de0f8",
    "test_FD001.txt": "3cda7109ce17bafb5443f2ac926cfcf88154b941b8c4cf95eb55d1ddd6f52851",
    "RUL_FD001.txt": "a19c8ec94931949d0485bdc35118206e9c81c4547b422efb9cf86f4ceddbceca",
}


def install_cmapss(archive: Path, dest: Path) -> list[str]:
    """Unpack NASA's archive (it nests CMAPSSData.zip inside) and verify FD001."""
    import shutil
    import tempfile

    if not zipfile.is_zipfile(archive):
        raise DataError("not a zip archive", file=str(archive))
    with tempfile.TemporaryDirectory() as tmp:  # verify before anything reaches `dest`
        staged = Path(tmp)
        _extract_txt(zipfile.ZipFile(archive), staged)
        verify_checksums(staged, CMAPSS_SHA256)
        names = sorted(p.name for p in staged.glob("*.txt"))
        for name in names:
            shutil.copyfile(staged / name, dest / name)
    return names


def _extract_txt(zf: zipfile.ZipFile, dest: Path) -> None:
    import io

    for info in zf.infolist():
        name = Path(info.filename).name
        if info.is_dir() or not name:
            continue
        if name.lower().endswith(".zip"):
            _extract_txt(zipfile.ZipFile(io.BytesIO(zf.read(info))), dest)
        elif name.lower().endswith(".txt"):
            (dest / name).write_bytes(zf.read(info))  # flat: names are unique in the set


register_fetcher(
    Fetcher(
        name="cmapss",
        description="NASA C-MAPSS turbofan run-to-failure simulation (FD001-FD004)",
        url=CMAPSS_URL,
        install=install_cmapss,
        target="energy/cmapss",
    )
)

"""Process sensor tables: reading, validation and explicit repair of imperfect data.

A table has an optional time column, numeric sensor columns and an optional label column
(0 normal; N an event of class N; 100+N the transient into event N, as in 3W). Every repair
(rows sorted, duplicates dropped, gaps filled, dead or frozen sensors dropped) is recorded
and returned; anything that cannot be repaired safely is refused with a DataError naming
the file, line and column.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from odlar.core.errors import DataError
from odlar.core.tables import data_lines, lines_of, require_utf8, with_lines

TIME_COLUMNS = ("timestamp", "datetime", "time")
LABEL_COLUMNS = ("label", "class", "anomaly", "fault")
#: Columns that describe rows but are not sensors (SKAB's changepoint marker).
IGNORED_COLUMNS = ("changepoint",)
#: Gaps longer than this many samples are recorded one by one (and, live, raise a sensor alert).
MAX_FILL = 10
#: A sensor missing in more than this share of training rows is dropped.
MAX_MISSING_SHARE = 0.5


@dataclass
class Repair:
    """One change made to the data, kept with the dataset and with the model trained on it."""

    kind: str
    detail: str
    column: str | None = None
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Table:
    """A validated sensor table: finite values in `values`, one row per sample in time order."""

    variables: list[str]
    values: np.ndarray  # (samples, variables) float64, finite
    labels: np.ndarray | None  # (samples,) int event class per row, -1 = unlabelled
    transient: np.ndarray | None  # (samples,) bool: row is in the transient into an event
    time: np.ndarray | None  # (samples,) datetime64[ns] or None
    source: str
    repairs: list[Repair] = field(default_factory=list)
    #: (samples, variables) readings missing in the source; `values` holds the last reading
    #: there, and a trained model replaces it with an estimate from the other sensors
    missing: np.ndarray | None = None


def read_frame(path: str | Path) -> pd.DataFrame:
    """CSV (comma or semicolon, sniffed from the header) or Parquet, as text-safe columns."""
    path = Path(path)
    if not path.is_file():
        raise DataError("no such file", file=str(path))
    if path.suffix.lower() in {".parquet", ".pq"}:
        try:
            return pd.read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for bad files
            raise DataError(f"not a readable Parquet file ({exc})", file=str(path)) from None
    require_utf8(path)
    with path.open("r", encoding="utf-8") as handle:
        header = handle.readline()
    if not header.strip():
        raise DataError("the file is empty", file=str(path))
    sep = ";" if header.count(";") > header.count(",") else ","
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise DataError(f"not a readable CSV file ({exc})", file=str(path)) from None
    if frame.empty:
        raise DataError("the file has a header but no rows", file=str(path))
    return with_lines(frame, data_lines(path, len(frame), sep=sep))


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lowered = {c.strip().lower(): c for c in columns}
    return next((lowered[n] for n in names if n in lowered), None)


def _numeric(
    frame: pd.DataFrame, column: str, source: str, lines: np.ndarray | None = None
) -> np.ndarray:
    """Numbers from a text column; empty cells and NaN become NaN, anything else is refused."""
    raw = frame[column]
    if pd.api.types.is_numeric_dtype(raw.dtype) or pd.api.types.is_bool_dtype(raw.dtype):
        return raw.to_numpy(dtype=float, na_value=np.nan)
    text = raw.astype(object).where(raw.notna(), "").astype(str).str.strip()
    values = pd.to_numeric(text.where(text != "", None), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(values) & (text != "").to_numpy() & ~text.str.lower().isin(["nan", "na"])
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"'{text.iloc[row]}' is not a number",
            file=source,
            line=int(lines_of(frame)[row] if lines is None else lines[row]),
            field=column,
        )
    return values


def parse_table(
    frame: pd.DataFrame,
    source: str,
    *,
    variables: list[str] | None = None,
    training: bool = True,
    fill_gaps: bool = True,
) -> Table:
    """Validate and repair a raw frame. With `variables` given (a trained model's), those
    columns must all be present; others are ignored and recorded. A live monitor passes
    `fill_gaps=False` and fills gaps itself from the stream's previous readings."""
    repairs: list[Repair] = []
    columns = [str(c) for c in frame.columns]
    frame = frame.copy()
    frame.columns = columns
    time_col = _find(columns, TIME_COLUMNS)
    label_col = _find(columns, LABEL_COLUMNS)
    skip = {time_col, label_col, *[c for c in columns if c.lower() in IGNORED_COLUMNS]}
    candidates = [c for c in columns if c not in skip and not c.lower().startswith("unnamed")]
    if variables is None:
        chosen = candidates
    else:
        missing = [v for v in variables if v not in columns]
        if missing:
            raise DataError(
                f"missing sensor column(s) the model needs: {', '.join(missing)}",
                file=source,
                field=missing[0],
            )
        chosen = list(variables)
        unknown = [c for c in candidates if c not in variables]
        if unknown:
            repairs.append(Repair("columns_ignored", "not used by the model", ", ".join(unknown)))
    if not chosen:
        raise DataError("no sensor columns found", file=source)

    line = lines_of(frame)  # file line of each row (header is line 1)
    values = np.column_stack([_numeric(frame, c, source, line) for c in chosen])
    if np.isinf(values).any():
        row, col = (int(i[0]) for i in np.nonzero(np.isinf(values)))
        raise DataError("value is infinite", file=source, line=int(line[row]), field=chosen[col])

    time = None
    if time_col is not None:
        stamps = pd.to_datetime(frame[time_col], errors="coerce", utc=True, format="mixed")
        if stamps.isna().any():
            row = int(np.flatnonzero(stamps.isna().to_numpy())[0])
            raise DataError(
                f"'{frame[time_col].iloc[row]}' is not a timestamp",
                file=source,
                line=int(line[row]),
                field=time_col,
            )
        time = stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")

    labels = transient = None
    if label_col is not None:
        raw_labels = _numeric(frame, label_col, source, line)
        labels = np.where(np.isnan(raw_labels), -1, raw_labels).astype(int)
        if (labels < -1).any():
            row = int(np.flatnonzero(labels < -1)[0])
            raise DataError("labels must be 0 or positive", file=source, line=int(line[row]))
        transient = labels >= 100
        labels = np.where(transient, labels - 100, labels)

    if time is not None:
        order = np.argsort(time, kind="stable")
        if (order != np.arange(len(order))).any():
            moved = int((order != np.arange(len(order))).sum())
            repairs.append(Repair("sorted_by_time", "rows were out of time order", time_col, moved))
            values, line, time = values[order], line[order], time[order]
            if labels is not None:
                labels, transient = labels[order], transient[order]
        dup = np.zeros(len(time), bool)
        dup[1:] = time[1:] == time[:-1]
        if dup.any():
            first = int(line[np.flatnonzero(dup)[0]])
            repairs.append(
                Repair(
                    "duplicate_timestamps_dropped",
                    f"later rows with an already-seen timestamp were dropped (first: line {first})",
                    time_col,
                    int(dup.sum()),
                )
            )
            keep = ~dup
            values, line, time = values[keep], line[keep], time[keep]
            if labels is not None:
                labels, transient = labels[keep], transient[keep]

    if training:
        keep_cols = []
        for j, name in enumerate(chosen):
            column = values[:, j]
            share = float(np.isnan(column).mean())
            finite = column[~np.isnan(column)]
            if share > MAX_MISSING_SHARE:
                repairs.append(
                    Repair(
                        "sensor_dropped",
                        f"dead sensor: {share:.0%} of readings missing",
                        name,
                        len(column),
                    )
                )
            elif finite.size and np.ptp(finite) == 0:
                repairs.append(
                    Repair(
                        "sensor_dropped",
                        f"frozen sensor: constant at {finite[0]:g}",
                        name,
                        len(column),
                    )
                )
            else:
                keep_cols.append(j)
        if not keep_cols:
            raise DataError("every sensor column is empty or constant", file=source)
        chosen = [chosen[j] for j in keep_cols]
        values = values[:, keep_cols]

    missing = None
    if fill_gaps and np.isnan(values).any():
        missing = np.isnan(values)
        values = _fill_gaps(values, chosen, line, repairs)
    return Table(chosen, values, labels, transient, time, source, repairs, missing)


def _fill_gaps(
    values: np.ndarray, names: list[str], line: np.ndarray, repairs: list[Repair]
) -> np.ndarray:
    """Carry the last reading over gaps (leading gaps take the first reading). Each column's
    filled readings are recorded, and every gap longer than MAX_FILL separately, with the
    line where it starts, so a reviewer sees exactly what was invented."""
    if not np.isnan(values).any():
        return values
    for j, name in enumerate(names):
        missing = np.isnan(values[:, j])
        if not missing.any():
            continue
        repairs.append(
            Repair(
                "gaps_filled",
                "missing readings: carried from the last value, estimated from the other "
                "sensors when a model scores them",
                name,
                int(missing.sum()),
            )
        )
        for start, stop in _runs(missing):
            if stop - start > MAX_FILL:
                repairs.append(
                    Repair(
                        "long_gap_filled",
                        f"{stop - start} consecutive readings missing from line {int(line[start])}",
                        name,
                        stop - start,
                    )
                )
    return pd.DataFrame(values).ffill().bfill().to_numpy()


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index ranges where mask is True."""
    padded = np.concatenate([[False], mask, [False]]).astype(int)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def load_table(path: str | Path, *, variables: list[str] | None = None) -> Table:
    return parse_table(read_frame(path), str(path), variables=variables, training=variables is None)


def longest_constant_run(values: np.ndarray) -> np.ndarray:
    """Per column, the longest run of identical consecutive readings (frozen-sensor baseline)."""
    if len(values) < 2:
        return np.ones(values.shape[1], int)
    same = values[1:] == values[:-1]
    out = np.zeros(values.shape[1], int)
    for j in range(values.shape[1]):
        runs = _runs(same[:, j])
        out[j] = 1 + max((b - a for a, b in runs), default=0)
    return out

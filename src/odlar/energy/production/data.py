"""Daily or monthly per-well production data: the Volve export, a user's CSV, Parquet or the
original Excel workbook, with column mapping.

Every problem is either repaired and written to the dataset's repair log (file, line,
column, value, what was done) or refused with a DataError naming the file, line and column.
Line numbers are as an editor or spreadsheet shows them (the header is line 1).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from odlar.core.datasets import sha256_file
from odlar.core.errors import DataError
from odlar.core.tasks import Dataset

PHASES = ("oil", "gas", "water")
#: Measurements and controls kept as covariates (all optional).
MEASUREMENTS = (
    "choke",
    "downhole_pressure",
    "downhole_temperature",
    "dp_tubing",
    "annulus_pressure",
    "whp",
    "wht",
    "dp_choke",
)
NUMERIC = ("on_stream_hours", *PHASES, "water_injected", *MEASUREMENTS)

#: Column names of the Volve daily sheet -> our names (the default mapping).
VOLVE_DAILY = {
    "DATEPRD": "date",
    "WELL_BORE_CODE": "well",
    "ON_STREAM_HRS": "on_stream_hours",
    "BORE_OIL_VOL": "oil",
    "BORE_GAS_VOL": "gas",
    "BORE_WAT_VOL": "water",
    "BORE_WI_VOL": "water_injected",
    "AVG_CHOKE_SIZE_P": "choke",
    "AVG_CHOKE_UOM": "choke_unit",
    "AVG_DOWNHOLE_PRESSURE": "downhole_pressure",
    "AVG_DOWNHOLE_TEMPERATURE": "downhole_temperature",
    "AVG_DP_TUBING": "dp_tubing",
    "AVG_ANNULUS_PRESS": "annulus_pressure",
    "AVG_WHP_P": "whp",
    "AVG_WHT_P": "wht",
    "DP_CHOKE_SIZE": "dp_choke",
    "WELL_TYPE": "well_type",
}
#: The Volve monthly sheet (row 2 holds units, not data).
VOLVE_MONTHLY = {
    "Wellbore name": "well",
    "On Stream": "on_stream_hours",
    "Oil": "oil",
    "Gas": "gas",
    "Water": "water",
    "WI": "water_injected",
}
PERCENT = {"%", "pct", "percent"}
SIXTY_FOURTHS = {"1/64", "1/64 in", "64ths", "in/64", "/64"}
INJECTOR_TYPES = {"WI", "GI", "WAG", "INJ", "INJECTOR"}
#: A flowing oil rate above this (Sm3/day, one well) is a unit mistake, not a well.
MAX_RATE = 20_000.0


def load_production(
    source: str | Path,
    *,
    columns: dict[str, str] | None = None,
    sheet: str | None = None,
    choke_unit: str | None = None,
    choke_full_64ths: float | None = None,
    timezone: str = "Europe/Oslo",
    negative: str = "repair",
) -> Dataset:
    """Read, validate and repair one file of well data.

    columns: extra mapping, our name -> the file's column (e.g. {"oil": "OilVol"}).
    choke_unit: the choke's unit when the file has no unit column ("%" or "1/64").
    choke_full_64ths: bean size of the fully open choke, to turn 1/64 in into %.
    timezone: where the day boundaries lie; a 25-hour day at a clock change is allowed.
    negative: "repair" (set a negative volume missing and record it) or "refuse".
    """
    path = Path(source)
    if not path.exists():
        raise DataError("no such file", file=str(path))
    if path.is_dir():
        raise DataError("is a folder; give the production file inside it", file=str(path))
    if path.stat().st_size == 0:
        raise DataError("the file is empty", file=str(path))
    if negative not in ("repair", "refuse"):
        raise DataError(f"negative must be 'repair' or 'refuse', not '{negative}'")
    raw, first_line = _read(path, sheet)
    repairs: list[dict[str, Any]] = []
    frame, freq = _map_columns(raw, path, columns or {}, first_line, repairs)
    frame = _coerce(frame, path, first_line)
    _check_duplicates(frame, path)
    _check_hours(frame, path, timezone, freq)
    _convert_choke(frame, path, choke_unit, choke_full_64ths, repairs)
    _negative_volumes(frame, path, negative, repairs)
    _impossible(frame, path, freq, repairs)
    frame = _fill_calendar(frame, freq, repairs)
    frame = _rates(frame, freq)
    return Dataset(
        frame=frame,
        source=str(path),
        sha256=sha256_file(path),
        rows=len(frame),
        summary=_summary(frame, freq, repairs),
    )


def _read(path: Path, sheet: str | None) -> tuple[pd.DataFrame, int]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path), 1  # rows, numbered from 1
        if suffix in (".xlsx", ".xlsm", ".xls"):
            book = pd.ExcelFile(path)
            name = sheet or next((s for s in book.sheet_names if "daily" in s.lower()), None)
            name = name or book.sheet_names[0]
            if name not in book.sheet_names:
                raise DataError(
                    f"no sheet '{name}' (sheets: {', '.join(book.sheet_names)})", file=str(path)
                )
            return book.parse(name, dtype=object), 2
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]), 2
    except DataError:
        raise
    except (ValueError, OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"cannot be read as a table: {first}", file=str(path)) from None


def _map_columns(
    raw: pd.DataFrame,
    path: Path,
    mapping: dict[str, str],
    first_line: int,
    repairs: list[dict[str, Any]],
) -> tuple[pd.DataFrame, str]:
    raw = raw.rename(columns=lambda c: str(c).strip())
    known = set(NUMERIC) | {"date", "well", "choke_unit", "well_type", "year", "month"}
    for ours, theirs in mapping.items():
        if ours not in known:
            raise DataError(
                f"cannot map '{ours}': our columns are {', '.join(sorted(known))}",
                file=str(path),
            )
        if theirs not in raw.columns:
            raise DataError(
                f"mapped column '{theirs}' (for {ours}) is not in the file", file=str(path)
            )
    monthly = {"Year", "Month"} <= set(raw.columns) or {"year", "month"} <= set(mapping)
    defaults = VOLVE_MONTHLY if monthly else VOLVE_DAILY
    rename = {theirs: ours for theirs, ours in defaults.items() if theirs in raw.columns}
    rename |= {theirs: ours for ours, theirs in mapping.items()}
    # columns already named our way are taken as they are
    frame = raw.rename(columns=rename)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    frame["_line"] = np.arange(len(frame)) + first_line
    if monthly:
        frame = frame.rename(columns={"Year": "year", "Month": "month"})
        year = pd.to_numeric(frame["year"], errors="coerce")
        units = year.isna() & frame["well"].isna()
        for line in frame.loc[units, "_line"]:  # the Volve sheet's units row
            repairs.append(_entry(line, "year", None, "skipped", "a units row, not data"))
        frame = frame.loc[~units].copy()
        for col in ("year", "month"):
            bad = pd.to_numeric(frame[col], errors="coerce").isna()
            if bad.any():
                row = frame.loc[bad].iloc[0]
                raise DataError(
                    f"'{row[col]}' is not a {col}", file=str(path), line=int(row._line), field=col
                )
        frame["date"] = pd.to_datetime(
            {"year": frame["year"].astype(float), "month": frame["month"].astype(float), "day": 1}
        )
    missing = [c for c in ("date", "well", "oil") if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column '{missing[0]}' (found: {', '.join(map(str, raw.columns))}; map "
            "yours with columns={'" + missing[0] + "': 'YOUR NAME'})",
            file=str(path),
        )
    keep = ["_line", "date", "well", "choke_unit", "well_type", *NUMERIC]
    return frame[[c for c in keep if c in frame.columns]].copy(), "monthly" if monthly else "daily"


def _coerce(frame: pd.DataFrame, path: Path, first_line: int) -> pd.DataFrame:
    if frame.empty:
        raise DataError("the file holds no data rows", file=str(path))
    wells = frame["well"]
    blank = wells.isna() | (wells.astype(str).str.strip() == "")
    if blank.any():
        line = int(frame.loc[blank, "_line"].iloc[0])
        raise DataError("no well name", file=str(path), line=line, field="well")
    frame["well"] = wells.astype(str).str.strip().str.removeprefix("NO ")
    dates = pd.to_datetime(frame["date"], errors="coerce", format="mixed")
    if dates.isna().any():
        row = frame.loc[dates.isna()].iloc[0]
        raise DataError(
            f"'{row['date']}' is not a date", file=str(path), line=int(row._line), field="date"
        )
    frame["date"] = dates.dt.tz_localize(None).dt.normalize().astype("datetime64[ns]")
    for col in NUMERIC:
        if col not in frame.columns:
            frame[col] = np.nan
            continue
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = values.isna() & frame[col].notna() & (frame[col].astype(str).str.strip() != "")
        if bad.any():
            row = frame.loc[bad].iloc[0]
            raise DataError(
                f"'{row[col]}' is not a number", file=str(path), line=int(row._line), field=col
            )
        if np.isinf(values).any():
            row = frame.loc[np.isinf(values)].iloc[0]
            raise DataError("infinite value", file=str(path), line=int(row._line), field=col)
        frame[col] = values.astype(float)
    for col in ("choke_unit", "well_type"):
        if col not in frame.columns:
            frame[col] = None
    return frame


def _check_duplicates(frame: pd.DataFrame, path: Path) -> None:
    dup = frame.duplicated(["well", "date"], keep=False)
    if dup.any():
        rows = frame.loc[dup].sort_values(["well", "date", "_line"]).iloc[:2]
        first, second = rows.iloc[0], rows.iloc[1]
        raise DataError(
            f"well {first.well} on {first.date:%Y-%m-%d} appears twice (also line "
            f"{int(first._line)})",
            file=str(path),
            line=int(second._line),
            field="date",
        )


def _day_hours(day: date, zone: ZoneInfo) -> float:
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return (
        end.astimezone(ZoneInfo("UTC")) - start.astimezone(ZoneInfo("UTC"))
    ).total_seconds() / 3600


def _check_hours(frame: pd.DataFrame, path: Path, timezone: str, freq: str) -> None:
    hours = frame["on_stream_hours"]
    if (hours < 0).any():
        row = frame.loc[hours < 0].iloc[0]
        raise DataError(
            f"on-stream hours {row.on_stream_hours:g} is negative",
            file=str(path),
            line=int(row._line),
            field="on_stream_hours",
        )
    if freq == "monthly":
        limit = frame["date"].dt.days_in_month * 24 + 1
        over = hours > limit
        if over.any():
            row = frame.loc[over].iloc[0]
            raise DataError(
                f"on-stream hours {row.on_stream_hours:g} exceed the hours in {row.date:%Y-%m}",
                file=str(path),
                line=int(row._line),
                field="on_stream_hours",
            )
        return
    over = hours > 24
    if not over.any():
        return
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise DataError(f"unknown time zone '{timezone}'", file=str(path)) from None
    for _, row in frame.loc[over].iterrows():
        length = _day_hours(row.date.date(), zone)
        if row.on_stream_hours > length + 1e-6:
            raise DataError(
                f"on-stream hours {row.on_stream_hours:g} exceed the {length:g} hours of "
                f"{row.date:%Y-%m-%d} in {timezone}",
                file=str(path),
                line=int(row._line),
                field="on_stream_hours",
            )


def _convert_choke(
    frame: pd.DataFrame,
    path: Path,
    unit: str | None,
    full_64ths: float | None,
    repairs: list[dict[str, Any]],
) -> None:
    """Choke opening in % of fully open; a bean size in 1/64 in is converted when the fully
    open size is known, and refused otherwise."""
    choke = frame["choke"]
    declared = frame["choke_unit"].where(frame["choke_unit"].notna(), unit)
    declared = declared.map(lambda u: None if u is None or pd.isna(u) else str(u).strip().lower())
    bad = declared.notna() & ~declared.isin(PERCENT | SIXTY_FOURTHS) & choke.notna()
    if bad.any():
        row = frame.loc[bad].iloc[0]
        raise DataError(
            f"choke unit '{row.choke_unit or unit}' is neither % nor 1/64 in",
            file=str(path),
            line=int(row._line),
            field="choke_unit",
        )
    in_64ths = declared.isin(SIXTY_FOURTHS) & choke.notna()
    if in_64ths.any():
        if not full_64ths or full_64ths <= 0:
            row = frame.loc[in_64ths].iloc[0]
            raise DataError(
                "choke is in 1/64 in: give the fully open bean size (choke_full_64ths) to "
                "convert it to % opening",
                file=str(path),
                line=int(row._line),
                field="choke",
            )
        frame.loc[in_64ths, "choke"] = choke[in_64ths] / full_64ths * 100.0
        repairs.append(
            _entry(
                int(frame.loc[in_64ths, "_line"].iloc[0]),
                "choke",
                None,
                "converted",
                f"{int(in_64ths.sum())} values from 1/64 in to % of {full_64ths:g}/64 in",
            )
        )
    over = frame["choke"] > 100.0 + 1e-6
    if over.any():
        row = frame.loc[over].iloc[0]
        hint = (
            "is it in 1/64 in? pass choke_unit='1/64' and choke_full_64ths"
            if not in_64ths[over].any()
            else "larger than the fully open bean size"
        )
        raise DataError(
            f"choke {row.choke:g} exceeds 100 % open: {hint}",
            file=str(path),
            line=int(row._line),
            field="choke",
        )
    if (frame["choke"] < 0).any():
        row = frame.loc[frame["choke"] < 0].iloc[0]
        raise DataError(
            f"choke {row.choke:g} is negative", file=str(path), line=int(row._line), field="choke"
        )


def _negative_volumes(
    frame: pd.DataFrame, path: Path, policy: str, repairs: list[dict[str, Any]]
) -> None:
    for col in (*PHASES, "water_injected"):
        neg = frame[col] < 0
        if not neg.any():
            continue
        if policy == "refuse":
            row = frame.loc[neg].iloc[0]
            raise DataError(
                f"negative volume {row[col]:g}", file=str(path), line=int(row._line), field=col
            )
        for _, row in frame.loc[neg].iterrows():
            repairs.append(
                _entry(row._line, col, row[col], "set missing", "a volume cannot be negative")
            )
        frame.loc[neg, col] = np.nan


def _impossible(frame: pd.DataFrame, path: Path, freq: str, repairs: list[dict[str, Any]]) -> None:
    """A day's volume above any one well's rate is a unit mistake (refused); volumes on a day
    of 0 hours, or a partial day whose hours give a rate far above the well's best full day,
    mean the hours are wrong: they are set missing (the volume is kept) and recorded."""
    days = frame["date"].dt.days_in_month if freq == "monthly" else 1
    over = frame["oil"] > MAX_RATE * days
    if over.any():
        row = frame.loc[over].iloc[0]
        raise DataError(
            f"oil {row.oil:g} is above {MAX_RATE:g} Sm3 a day for one well: check the "
            "unit (Sm3 expected)",
            file=str(path),
            line=int(row._line),
            field="oil",
        )
    hours = frame["on_stream_hours"]
    produced = frame[list(PHASES)].fillna(0).sum(axis=1) > 0
    closed = (hours == 0) & produced
    if freq == "monthly":
        frame.loc[closed, "on_stream_hours"] = np.nan
        return
    full_day = frame["oil"].where(hours >= 23.5)
    best = full_day.groupby(frame["well"]).transform("max")
    rate = frame["oil"] / hours.where(hours > 0) * 24
    implausible = (hours < 23.5) & (rate > 1.5 * best) & best.notna()
    for mask, reason in (
        (closed, "volumes reported on a day with 0 on-stream hours: hours unknown"),
        (implausible, "the hours give a rate over 1.5 x the well's best full day: hours unknown"),
    ):
        for _, row in frame.loc[mask].iterrows():
            repairs.append(
                _entry(row._line, "on_stream_hours", row.on_stream_hours, "set missing", reason)
            )
        frame.loc[mask, "on_stream_hours"] = np.nan


def _fill_calendar(frame: pd.DataFrame, freq: str, repairs: list[dict[str, Any]]) -> pd.DataFrame:
    """Missing days (or months) become explicit rows with status 'missing', never zeros."""
    step = "D" if freq == "daily" else "MS"
    parts = []
    for well, rows in frame.groupby("well", sort=True):
        rows = rows.set_index("date").sort_index()
        full = pd.date_range(rows.index[0], rows.index[-1], freq=step)
        gaps = full.difference(rows.index)
        if len(gaps):
            runs = _runs(gaps, step)
            repairs.append(
                {
                    "line": None,
                    "column": "date",
                    "value": None,
                    "action": "added as missing",
                    "reason": f"well {well}: {len(gaps)} {'days' if freq == 'daily' else 'months'}"
                    f" absent ({'; '.join(runs[:5])}{' ...' if len(runs) > 5 else ''})",
                }
            )
        rows = rows.reindex(full)
        rows.index.name = "date"
        rows["well"] = well
        rows["missing"] = ~rows.index.isin(frame.loc[frame.well == well, "date"])
        parts.append(rows.reset_index())
    return pd.concat(parts, ignore_index=True)


def _runs(gaps: pd.DatetimeIndex, step: str) -> list[str]:
    delta = pd.Timedelta(days=1) if step == "D" else pd.Timedelta(days=31)
    out, start, prev = [], gaps[0], gaps[0]
    for day in list(gaps[1:]) + [None]:
        if day is not None and day - prev <= delta:
            prev = day
            continue
        out.append(f"{start:%Y-%m-%d}" + (f"..{prev:%Y-%m-%d}" if prev != start else ""))
        if day is not None:
            start = prev = day
    return out


def _rates(frame: pd.DataFrame, freq: str) -> pd.DataFrame:
    """Role, status and flowing rates: volume per 24 on-stream hours, what an engineer means
    by a well's rate on a partial day."""
    wtype = frame["well_type"].map(lambda t: str(t).strip().upper() if isinstance(t, str) else "")
    # a day with oil produced is a producing day whatever the well type says (F-5 AH has
    # 16 days typed WI with oil); otherwise the type or injected water makes an injector
    no_oil = frame["oil"].fillna(0) == 0
    injecting = no_oil & (wtype.isin(INJECTOR_TYPES) | (frame["water_injected"].fillna(0) > 0))
    role = pd.Series(np.where(injecting, "injector", "producer"), index=frame.index)
    # a missing day takes the role of the well's day before (F-4 AH's gaps are injector days)
    role = role.where(~frame["missing"]).groupby(frame["well"]).ffill().fillna("producer")
    frame["role"] = role
    hours = frame["on_stream_hours"]
    produced = frame[list(PHASES)].fillna(0).sum(axis=1) > 0
    status = np.select(
        [frame["missing"], frame["role"] == "injector", (hours > 0) & produced, hours == 0],
        ["missing", "injecting", "producing", "shut-in"],
        default="unknown",
    )
    frame["status"] = status
    frame["partial"] = (frame["status"] == "producing") & (hours < 23.5)
    flowing = hours.where((frame["status"] == "producing") & (hours > 0))
    for phase in PHASES:
        frame[f"{phase}_rate"] = frame[phase] / flowing * 24.0
    cols = ["well", "date", "role", "status", "partial", *NUMERIC]
    cols += [f"{p}_rate" for p in PHASES] + ["_line"]
    return frame[cols].sort_values(["well", "date"]).reset_index(drop=True)


def _entry(line: Any, column: str, value: Any, action: str, reason: str) -> dict[str, Any]:
    return {
        "line": None if line is None or pd.isna(line) else int(line),
        "column": column,
        "value": None if value is None or pd.isna(value) else float(value),
        "action": action,
        "reason": reason,
    }


def _summary(frame: pd.DataFrame, freq: str, repairs: list[dict[str, Any]]) -> dict[str, Any]:
    wells = {}
    for well, rows in frame.groupby("well"):
        counts = rows["status"].value_counts().to_dict()
        roles = sorted(set(rows["role"]))
        wells[well] = {
            "role": roles[0] if len(roles) == 1 else "producer and injector",
            "first": f"{rows.date.min():%Y-%m-%d}",
            "last": f"{rows.date.max():%Y-%m-%d}",
            "producing": int(counts.get("producing", 0)),
            "shut_in": int(counts.get("shut-in", 0)),
            "injecting": int(counts.get("injecting", 0)),
            "missing": int(counts.get("missing", 0)),
            "partial": int(rows["partial"].sum()),
            "oil_sm3": round(float(rows["oil"].sum()), 2),
        }
    return {"frequency": freq, "wells": wells, "repairs": repairs}


def producers(frame: pd.DataFrame) -> list[str]:
    """Wells with at least one producing day."""
    return sorted(frame.loc[frame["status"] == "producing", "well"].unique())


def find_well(frame: pd.DataFrame, name: str) -> str:
    """A well by its full name or an unambiguous end of it ('F-14' for '15/9-F-14 H')."""
    wells = sorted(frame["well"].unique())
    if name in wells:
        return name
    key = name.strip().upper()
    # the name without its field prefix ("15/9-"), followed by the end or a space
    short = {w: w.upper().split("/", 1)[-1].split("-", 1)[-1] for w in wells}
    key = key.split("/", 1)[-1].removeprefix("9-")
    hits = [
        w
        for w, s in short.items()
        if re.fullmatch(re.escape(key) + r"( .*)?", s)
        or re.fullmatch(re.escape(key) + r"( .*)?", "F-" + s)
    ]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise DataError(f"no well '{name}' (wells: {', '.join(wells)})", field="well")
    raise DataError(f"'{name}' matches several wells: {', '.join(hits)}", field="well")


def from_records(records: list[dict[str, Any]]) -> pd.DataFrame:
    """A loader frame from already-validated day records (an API request): the same
    calendar filling, status and rates as a file gets."""
    frame = pd.DataFrame.from_records(records)
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    for col in (*NUMERIC, "well_type"):
        if col not in frame.columns:
            frame[col] = np.nan if col != "well_type" else None
        elif col != "well_type":
            frame[col] = frame[col].astype(float)
    frame["_line"] = np.arange(len(frame)) + 1
    frame = _fill_calendar(frame, "daily", [])
    return _rates(frame, "daily")

"""What the safety API routes and console pages answer, as the signed-in principal: the
forecast of a day as map data, and stationing plans compared by a dispatch replay. Both go
through the serving gate (the approved safety.hotspots version of the tenant, each forecast
an event-log record); the routes and pages only translate to JSON or HTML."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from odlar.core import datasets
from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import get_task
from odlar.governance import serving

HOTSPOTS = "safety.hotspots"
#: the longest look-back of any hotspots method (gbm, sepp: 90 days)
LOOK_BACK_DAYS = 90
_LOADED: dict[tuple[str, float, int], Any] = {}


def incidents(ref: str, *, tenant: str) -> Any:
    """The incident data a reference names (a dataset id of the tenant or a path under
    ODLAR_DATA, as every API route resolves it), loaded once per file version."""
    path = datasets.resolve_source(ref, tenant=tenant, confined=True)
    stat = os.stat(path)
    key = (str(path), stat.st_mtime, stat.st_size)
    if key not in _LOADED:
        data = get_task(HOTSPOTS).load(Path(path))
        if len(_LOADED) >= 4:  # a city's file is tens of MB in memory
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = data
    return _LOADED[key]


def _day_in_range(frame: pd.DataFrame, day: date | None, field: str = "day") -> pd.Timestamp:
    first = frame["time"].min().normalize()
    after_last = frame["time"].max().normalize() + pd.Timedelta(days=1)
    chosen = pd.Timestamp(day) if day else after_last
    if not first + pd.Timedelta(days=30) <= chosen <= after_last:
        raise UsageError(
            f"{field} {chosen.date()}: the data's incidents run {first.date()} to "
            f"{(after_last - pd.Timedelta(days=1)).date()}; choose a day from "
            f"{(first + pd.Timedelta(days=30)).date()} to {after_last.date()} (30 days of "
            "history before it)"
        )
    return chosen


def _model(tenant: str, model_version: int | None) -> tuple[int, Any]:
    version = serving.serving_version(HOTSPOTS, model_version, tenant=tenant)
    return version, serving.load_model(HOTSPOTS, version, tenant=tenant)[1]


def _forecast(data: Any, day: pd.Timestamp, *, tenant: str, actor: str, version: int) -> Any:
    """The served model's forecast of every cell and category for `day` from the recorded
    incidents of the days before it, logged like any prediction."""
    from odlar.safety.hotspots.task import HotspotRequest, Incident

    frame = data.frame
    since = day - pd.Timedelta(days=LOOK_BACK_DAYS)
    recent = frame[(frame["time"] >= since) & (frame["time"] < day)]
    request = HotspotRequest(
        model_version=version,
        day=day.date(),
        incidents=[
            Incident.model_construct(time=t.to_pydatetime(), category=c, latitude=la, longitude=lo)
            for t, c, la, lo in zip(
                recent["time"], recent["category"], recent["latitude"], recent["longitude"],
                strict=True,
            )
        ],  # fmt: skip
    )
    return serving.predict(get_task(HOTSPOTS), request, tenant=tenant, actor=actor, serving=version)


def forecast_map(
    ref: str,
    *,
    tenant: str,
    actor: str,
    day: date | None = None,
    category: str | None = None,
    model_version: int | None = None,
    top: int | None = None,
) -> dict[str, Any]:
    """The day's forecast as a GeoJSON FeatureCollection (one polygon per cell and category,
    highest expected count first) with the day, model version and categories."""
    from odlar.safety.maps import forecast_geojson

    data = incidents(ref, tenant=tenant)
    when = _day_in_range(data.frame, day)
    version, model = _model(tenant, model_version)
    wanted = None if category is None else category.strip().upper()
    if wanted is not None and wanted not in model.categories:
        raise UsageError(
            f"category '{category}': the model forecasts {', '.join(model.categories)}"
        )
    response = _forecast(data, when, tenant=tenant, actor=actor, version=version)
    rows = response.model_dump()["predictions"]
    if wanted is not None:
        rows = [r for r in rows if r["category"] == wanted]
    if top is not None:
        rows = rows[:top]
    return forecast_geojson(model.grid, rows) | {
        "day": str(response.day),
        "model_version": response.model_version,
        "categories": list(model.categories),
        "not_counted": response.not_counted,
        "grid": {"rows": model.grid.rows, "cols": model.grid.cols},
    }


def stationing(
    ref: str,
    *,
    tenant: str,
    actor: str,
    methods: tuple[str, ...] = ("mclp", "pmedian", "lscp"),
    stations: int = 10,
    crews: int = 30,
    radius_min: float = 8.0,
    on_scene_min: float = 30.0,
    replay_from: date | None = None,
    replay_days: int = 7,
    model_version: int | None = None,
) -> dict[str, Any]:
    """Stationing plans for `crews` crews at `stations` stations, one per siting method,
    over demand = the served forecast for the first replayed day (expected incidents per
    cell, all categories); each plan is then judged by replaying the recorded incidents of
    `replay_days` days from `replay_from` (default: the data's last days)."""
    from odlar.safety.response.siting import METHODS
    from odlar.safety.response.task import DISPATCH, dispatch_plan, dispatch_setting

    for name, value, low, high in (("stations", stations, 1, 500), ("crews", crews, 1, 5000),
                                   ("radius_min", radius_min, 0.5, 120),
                                   ("on_scene_min", on_scene_min, 0, 600),
                                   ("replay_days", replay_days, 1, 92)):  # fmt: skip
        if not low <= value <= high:
            raise UsageError(f"{name} {value:g}: choose from {low:g} to {high:g}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise UsageError(
            f"siting method(s) {', '.join(unknown) or 'none'}: choose from {', '.join(METHODS)}"
        )
    if crews < stations:
        raise UsageError(f"{crews} crews for {stations} stations: every station needs a crew")
    data = incidents(ref, tenant=tenant)
    frame = data.frame
    last = frame["time"].max().normalize()
    start = (
        pd.Timestamp(replay_from) if replay_from else last - pd.Timedelta(days=replay_days - 1)
    )
    start = _day_in_range(frame, start.date(), "replay_from")
    end = start + pd.Timedelta(days=replay_days)
    if end > last + pd.Timedelta(days=1):
        raise UsageError(
            f"replay {start.date()} + {replay_days} days runs past the data's last day "
            f"{last.date()}: choose an earlier replay_from or fewer replay_days"
        )
    version, model = _model(tenant, model_version)
    response = _forecast(data, start, tenant=tenant, actor=actor, version=version)
    expected = np.zeros(model.grid.cells)
    for p in response.predictions:
        expected[p.cell] += p.expected
    if int((expected > 0).sum()) < stations:
        raise UsageError(
            f"{stations} stations, but only {int((expected > 0).sum())} cells have expected "
            "incidents: choose fewer stations"
        )
    replay = frame[
        (frame["time"] >= start) & (frame["time"] < end) & frame["category"].isin(model.categories)
    ].sort_values("time", kind="stable")
    if replay.empty:
        raise DataError(
            f"no incidents of {', '.join(model.categories)} from {start.date()} for "
            f"{replay_days} days to replay",
            file=data.source,
        )
    city = dispatch_setting(model.grid, expected, replay)
    settings = {**DISPATCH, "stations": stations, "crews": crews, "radius_min": radius_min,
                "on_scene_min": on_scene_min}  # fmt: skip
    plans = []
    for method in methods:
        row = dispatch_plan(city, method, settings)
        cells = [int(c) for c in row["station_cells"]]
        per_station = np.bincount(np.arange(max(crews, len(cells))) % len(cells))
        row["stations_at"] = [
            {"cell": c, "latitude": round(lat, 5), "longitude": round(lon, 5), "crews": int(n)}
            for c, (lat, lon), n in zip(
                cells, (model.grid.centre(c) for c in cells), per_station, strict=True
            )
        ]
        plans.append({"method": method, **row})
    return {
        "model_version": response.model_version,
        "demand_day": str(response.day),
        "replay_from": str(start.date()),
        "replay_days": replay_days,
        "incidents": len(replay),
        "demand_cells": int((expected > 0).sum()),
        "settings": {k: settings[k] for k in ("stations", "crews", "radius_min", "on_scene_min",
                                              "detour", "kmh")},  # fmt: skip
        "plans": plans,
        "grid": {"rows": model.grid.rows, "cols": model.grid.cols},
        "expected": [
            {"cell": int(c), "latitude": round(model.grid.centre(int(c))[0], 5),
             "longitude": round(model.grid.centre(int(c))[1], 5),
             "expected": round(float(expected[c]), 4)}
            for c in np.flatnonzero(expected > 0)
        ],  # fmt: skip
    }

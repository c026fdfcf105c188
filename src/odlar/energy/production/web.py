"""Console pages of energy.production (under /ui/energy/production): the field view with
departure checks, one well's forecast with intervals beside its history and its decline
curve, and the choke what-if form. Forecasts and what-ifs use the tenant's approved
version (the serving gate) and are event-log records, as through the API; mounted by the
energy sector's web router."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse

from odlar.core import audit, datasets
from odlar.core.errors import DataError, OdlarError, UsageError
from odlar.core.tasks import get_task
from odlar.governance import serving
from odlar.governance.roles import ROLES
from odlar.governance.roles import Permission as P
from odlar.web.console import chart, data_source, form_value, need, principal_of, render

router = APIRouter()

TASK = "energy.production"
DEFAULT_DATA = "energy/volve/volve_daily.csv"
PHASES = ("oil", "water", "gas")
_LOADED: dict[tuple[str, float, int], Any] = {}


def _data(me: Any, ref: str) -> Any:
    """The well data a reference names, resolved as the API resolves it, loaded once per
    file version (Volve's daily export takes seconds to validate)."""
    path = data_source(me, ref)
    stat = os.stat(path)
    key = (str(path), stat.st_mtime, stat.st_size)
    if key not in _LOADED:
        if len(_LOADED) >= 4:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = get_task(TASK).load(path)
    return _LOADED[key]


def _uploads(tenant: str) -> list[dict[str, Any]]:
    return [d for d in datasets.list_datasets(tenant=tenant) if d["task"] == TASK]


# --- field ----------------------------------------------------------------------------


@router.get("/energy/production", response_class=HTMLResponse)
def field_page(request: Request, data: str | None = Query(None, max_length=4096)) -> HTMLResponse:
    me = principal_of(request)
    return _field(request, me, data)


@router.post("/energy/production/departures", response_class=HTMLResponse)
def check_departures(
    request: Request,
    data: str = Form(..., max_length=4096),
    days: int = Form(30, ge=7, le=365),
) -> HTMLResponse:
    """Check every producer against the approved model's band; store the alerts."""
    from odlar.energy.production.field import store_departures

    me = need(principal_of(request), P.OPERATE)  # alerts are monitoring: operators
    try:
        loaded = _data(me, data)
        version = serving.serving_version(TASK, None, tenant=me.tenant)
        _, model = serving.load_model(TASK, version, tenant=me.tenant)
        stored = store_departures(
            model, loaded.frame, tenant=me.tenant, model_version=version, actor=me.name,
            days=days, input_digest=loaded.sha256,
        )  # fmt: skip
    except OdlarError as exc:
        return _field(request, me, data, exc)
    return _field(request, me, data, checked={"version": version, "alerts": stored, "days": days})


def _field(
    request: Request,
    me: Any,
    data: str | None,
    error: OdlarError | None = None,
    checked: dict[str, Any] | None = None,
) -> HTMLResponse:
    from odlar.energy.production.field import field_summary

    context: dict[str, Any] = {"data": data or DEFAULT_DATA, "uploads": _uploads(me.tenant),
                               "checked": checked}  # fmt: skip
    if data:
        try:
            summary = field_summary(_data(me, data).frame)
        except OdlarError as exc:
            error = error or exc
        else:
            context |= {"summary": summary, "figure": chart(field_figure(summary))}
    if error is not None:
        return render(request, "energy/production_field.html", me, error.http_status,
                      error=error.message, **context)  # fmt: skip
    return render(request, "energy/production_field.html", me, **context)


def field_figure(summary: dict[str, Any]) -> dict[str, Any]:
    """Monthly field volumes, water cut and gas-oil ratio, each on its own axis."""
    months = [m["date"] for m in summary["field"]]
    panels = [("oil", "oil, Sm3/month"), ("water", "water, Sm3/month"),
              ("gas", "gas, Sm3/month"), ("water_cut", "water cut"), ("gor", "GOR, Sm3/Sm3")]
    data, layout = [], {"grid": {"rows": len(panels), "columns": 1, "pattern": "independent"},
                        "height": 150 * len(panels) + 100, "showlegend": False,
                        "title": {"text": "Field by month (producers)"}}  # fmt: skip
    for i, (key, label) in enumerate(panels, start=1):
        data.append({"type": "scatter", "mode": "lines", "name": label, "x": months,
                     "y": [m[key] for m in summary["field"]], "xaxis": f"x{i}",
                     "yaxis": f"y{i}"})  # fmt: skip
        layout[f"yaxis{i}"] = {"title": {"text": label}, "automargin": True, "nticks": 4}
        layout[f"xaxis{i}"] = {"matches": "x", "showticklabels": i == len(panels)}
    return {"data": data, "layout": layout}


# --- one well -------------------------------------------------------------------------


@router.get("/energy/production/well", response_class=HTMLResponse)
def well_page(
    request: Request,
    data: str = Query(DEFAULT_DATA, max_length=4096),
    well: str = Query(..., min_length=1, max_length=200),
    level: float = Query(0.9, gt=0.5, lt=1.0),
) -> HTMLResponse:
    """History and forecast with intervals per phase (approved model: operators), and the
    decline curve with its EUR (the well's own data: everyone who reads)."""
    from odlar.energy.production.data import find_well
    from odlar.energy.production.decline import analyse_well
    from odlar.energy.production.figures import decline_figure

    me = principal_of(request)
    context: dict[str, Any] = {"data": data, "well": well, "level": level}
    try:
        frame = _data(me, data).frame
        well = context["well"] = find_well(frame, well)
        rows = frame[frame["well"] == well]
        analysis = analyse_well(rows, boot=100)
        if analysis is not None:
            figure = decline_figure(rows, analysis).update_layout(height=480)
            context |= {"decline": analysis.describe(), "decline_figure": figure.to_json()}
        if P.OPERATE in ROLES.get(me.role, frozenset()):  # a forecast: operators
            response = _well_forecast(me, data, well, level)
            context |= {"forecast": response,
                        "figure": chart(forecast_figure(rows, response, level))}  # fmt: skip
    except OdlarError as exc:
        return render(request, "energy/production_well.html", me, exc.http_status,
                      error=exc.message, **context)  # fmt: skip
    return render(request, "energy/production_well.html", me, **context)


def _well_forecast(me: Any, ref: str, well: str, level: float) -> Any:
    task = get_task(TASK)
    loaded = _data(me, ref)
    request = task.request_from(loaded, level=level)
    wells = [w for w in request.wells if w.well == well]
    if not wells:
        raise DataError(
            f"well {well} has no producing day with enough history in its last 60 days of "
            "data: no forecast from here (its decline curve is below)",
            field="well",
        )
    request = request.model_copy(update={"wells": wells})
    return serving.predict(task, request, tenant=me.tenant, actor=me.name)


def forecast_figure(rows: Any, response: Any, level: float, days: int = 180) -> dict[str, Any]:
    """Per phase, its own panel: the flowing rate of the last `days` days and the forecast
    from the last day at each horizon with its interval."""
    import pandas as pd

    prod = rows[rows["status"] == "producing"]
    prod = prod[prod["date"] > rows["date"].max() - pd.Timedelta(days=days)]
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "grid": {"rows": len(PHASES), "columns": 1, "pattern": "independent"},
        "height": 180 * len(PHASES) + 120,
        "title": {"text": f"{response.predictions[0].well}: flowing rates and forecast "
                          f"with {level:.0%} intervals"},
        "legend": {"orientation": "h", "y": -0.08},
    }  # fmt: skip
    for i, phase in enumerate(PHASES, start=1):
        ahead = sorted((p for p in response.predictions if p.phase == phase),
                       key=lambda p: p.horizon_days)  # fmt: skip
        axes = {"xaxis": f"x{i}", "yaxis": f"y{i}"}
        data.append({"type": "scatter", "mode": "markers", "name": "history", **axes,
                     "x": [f"{d:%Y-%m-%d}" for d in prod["date"]],
                     "y": prod[f"{phase}_rate"].round(2).tolist(),
                     "marker": {"size": 4, "color": "#888"}, "showlegend": i == 1})  # fmt: skip
        data.append({"type": "scatter", "mode": "lines+markers", "name": "forecast", **axes,
                     "x": [p.date for p in ahead], "y": [p.rate for p in ahead],
                     "error_y": {"type": "data", "symmetric": False,
                                 "array": [round(p.upper - p.rate, 3) for p in ahead],
                                 "arrayminus": [round(p.rate - p.lower, 3) for p in ahead]},
                     "line": {"color": "#c0392b"}, "showlegend": i == 1})  # fmt: skip
        layout[f"yaxis{i}"] = {"title": {"text": f"{phase}, Sm3/d"}, "automargin": True,
                               "rangemode": "tozero"}  # fmt: skip
        layout[f"xaxis{i}"] = {"matches": "x", "showticklabels": i == len(PHASES)}
    return {"data": data, "layout": layout}


# --- choke what-if --------------------------------------------------------------------


@router.get("/energy/production/whatif", response_class=HTMLResponse)
def whatif_page(
    request: Request,
    data: str = Query(DEFAULT_DATA, max_length=4096),
    well: str | None = Query(None, max_length=200),
    choke: str | None = Query(None, max_length=40),
    days: str | None = Query(None, max_length=40),
) -> HTMLResponse:
    from odlar.energy.production.whatif import choke_whatif

    me = principal_of(request)
    context: dict[str, Any] = {"data": data, "well": well, "choke": choke, "days": days}
    try:
        from odlar.energy.production.data import producers

        context["wells"] = producers(_data(me, data).frame)
        opening = form_value(choke, float, "choke opening")
        horizon = form_value(days, int, "horizons up to")
        if horizon is not None and not 1 <= horizon <= 365:
            raise UsageError(f"horizons up to {horizon} days: choose from 1 to 365")
        if well and opening is not None:
            need(me, P.OPERATE)  # a what-if is a prediction: operators
            loaded = _data(me, data)
            mv, model = serving.load_model(TASK, None, tenant=me.tenant)
            answer = choke_whatif(model, loaded.frame, well, opening, days=horizon)
            audit.record(
                tenant=me.tenant, actor=me.name, action="predict", target=TASK,
                model_version=f"{TASK}/{mv.version}", input_digest=loaded.sha256,
                output={"what_if": answer},
            )  # fmt: skip
            context |= {"answer": answer, "version": mv.version,
                        "figure": chart(whatif_figure(answer))}  # fmt: skip
    except OdlarError as exc:
        return render(request, "energy/production_whatif.html", me, exc.http_status,
                      error=exc.message, **context)  # fmt: skip
    return render(request, "energy/production_whatif.html", me, **context)


def whatif_figure(answer: dict[str, Any]) -> dict[str, Any]:
    """Per phase, its own panel: the rate at each horizon with the choke as it is and at
    the chosen opening, with intervals."""
    data: list[dict[str, Any]] = []
    layout: dict[str, Any] = {
        "grid": {"rows": 1, "columns": len(PHASES), "pattern": "independent"},
        "height": 380, "barmode": "group", "legend": {"orientation": "h", "y": -0.2},
        "title": {"text": f"{answer['well']}: choke {answer['choke_now']} % (now) vs "
                          f"{answer['choke']} %, {answer['level']:.0%} intervals"},
    }  # fmt: skip
    for i, phase in enumerate(PHASES, start=1):
        rows = sorted((r for r in answer["rates"] if r["phase"] == phase),
                      key=lambda r: r["horizon_days"])  # fmt: skip
        x = [f"{r['horizon_days']} d" for r in rows]
        for key, name, colour in (("rate_now", "choke as now", "#7f8c8d"),
                                  ("rate_at_choke", f"choke {answer['choke']} %", "#2874a6")):
            lo = [round(r[key] - r[f"{key}_interval"][0], 2) for r in rows]
            hi = [round(r[f"{key}_interval"][1] - r[key], 2) for r in rows]
            data.append({"type": "bar", "name": name, "x": x, "y": [r[key] for r in rows],
                         "xaxis": f"x{i}", "yaxis": f"y{i}", "marker": {"color": colour},
                         "showlegend": i == 1, "error_y": {"type": "data", "array": hi,
                                                           "arrayminus": lo}})  # fmt: skip
        layout[f"yaxis{i}"] = {"title": {"text": f"{phase}, Sm3/d"}, "automargin": True}
        layout[f"xaxis{i}"] = {"type": "category"}
    return {"data": data, "layout": layout}

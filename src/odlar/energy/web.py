"""The energy sector's console pages (under /ui): fleet RUL (with a fleet's upload), one
unit's trends, alerts; production (field, wells, choke what-if) from
energy/production/web.py."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from odlar.core import alerts, audit, datasets
from odlar.core.config import get_settings
from odlar.core.errors import NotFound, OdlarError, UsageError
from odlar.core.tasks import get_task
from odlar.energy.production.web import router as production_pages
from odlar.governance import serving
from odlar.governance.roles import Permission as P
from odlar.web.console import chart, data_source, need, principal_of, render

router = APIRouter()
router.include_router(production_pages)  # energy.production's pages live with the task
TASK = "energy.rul"


@router.get("/energy/rul", response_class=HTMLResponse)
def fleet(
    request: Request, dataset: str | None = None, level: float = 0.9,
    red: float | None = None, amber: float | None = None,
) -> HTMLResponse:  # fmt: skip
    me = principal_of(request)
    settings = get_settings()
    red = settings.rul_red if red is None else red
    amber = settings.rul_amber if amber is None else amber
    context: dict[str, Any] = {"fleets": _fleets(me.tenant), "dataset": dataset,
                               "level": level, "red": red, "amber": amber}  # fmt: skip
    try:
        check_thresholds(red, amber)
    except OdlarError as exc:
        return render(request, "energy/rul.html", me, exc.http_status, error=exc.message,
                      **context)  # fmt: skip
    if dataset:
        need(me, P.OPERATE)  # a prediction: operators
        level = min(max(level, 0.55), 0.99)
        try:
            version, rows = _fleet_rul(me, dataset, level)
        except OdlarError as exc:
            return render(
                request, "energy/rul.html", me, exc.http_status, error=exc.message, **context
            )
        bands = [band(r.lower, red, amber) for r in rows]
        context |= {
            "rows": list(zip(rows, bands, strict=True)),
            "version": version,
            "figure": chart(_fleet_figure(rows, level, red, amber)),
            "band_counts": {b: bands.count(b) for b in BANDS},
        }
    return render(request, "energy/rul.html", me, **context)


def _fleets(tenant: str) -> list[dict[str, Any]]:
    return [d for d in datasets.list_datasets(tenant=tenant) if d["task"] == TASK]


@router.post("/energy/rul/upload", response_class=HTMLResponse)
def upload_fleet(request: Request, file: UploadFile = File(...)) -> Response:
    """A fleet's run histories (C-MAPSS text, CSV or Parquet), validated by the task's
    loader and kept as a dataset of the tenant, as `POST /api/v1/datasets?task=energy.rul`;
    then the fleet's predicted RUL, as for any fleet chosen on the page."""
    me = need(principal_of(request), P.OPERATE)
    try:
        if not file.filename:
            raise UsageError("choose a fleet file to upload (C-MAPSS text, CSV or Parquet)")
        record = datasets.save_upload(TASK, file.filename, file.file, tenant=me.tenant,
                                      actor=me.name)  # fmt: skip
    except OdlarError as exc:
        settings = get_settings()
        context = {"fleets": _fleets(me.tenant), "dataset": None, "level": 0.9,
                   "red": settings.rul_red, "amber": settings.rul_amber,
                   "upload_name": file.filename}  # fmt: skip
        return render(request, "energy/rul.html", me, exc.http_status, error=exc.message,
                      **context)  # fmt: skip
    return RedirectResponse(f"/ui/energy/rul?dataset={record['id']}", status_code=303)


#: maintenance bands, most urgent first, with their colours
BANDS = {"red": "#b03a2e", "amber": "#d68910", "green": "#1e8449"}


def check_thresholds(red: float, amber: float) -> None:
    if not 0 < red < amber:
        raise UsageError(
            f"thresholds must satisfy 0 < red < amber (cycles), not red={red:g}, amber={amber:g}"
        )


def band(lower: float, red: float, amber: float) -> str:
    """A unit's maintenance band from its interval's lower end (the pessimistic life: the
    failure may come that soon): red at or below `red` cycles, amber at or below `amber`."""
    return "red" if lower <= red else "amber" if lower <= amber else "green"


@router.get("/energy/rul/{dataset:path}/units/{unit}", response_class=HTMLResponse)
def unit_trends(request: Request, dataset: str, unit: str) -> HTMLResponse:
    me = need(principal_of(request), P.OPERATE)  # the readings themselves: operators
    frame = get_task("energy.rul").load(data_source(me, dataset)).frame
    rows = frame[frame["unit"].astype(str) == unit]
    if rows.empty:
        raise NotFound(f"no unit '{unit}' in dataset {dataset}")
    varying = [c for c in rows.columns if c not in ("unit", "cycle") and rows[c].std() > 0]
    sensors = trend_sensors(frame)
    figure = sensor_panels(rows, sensors, f"Unit {unit}: the sensors RUL models use, by cycle")
    settings = get_settings()
    try:
        version, history = rul_history(me, dataset, unit, rows)
        over_time = chart(rul_figure(history, unit, version, settings.rul_red,
                                     settings.rul_amber))  # fmt: skip
        note = None
    except OdlarError as exc:  # no model serves yet: the readings are still worth showing
        over_time, note = None, exc.message
    return render(
        request, "energy/rul_unit.html", me, unit=unit, dataset=dataset, cycles=len(rows),
        varying=varying, sensors=sensors, figure=chart(figure), rul_figure=over_time,
        rul_note=note,
    )  # fmt: skip


#: most points on a unit's RUL-over-time chart (one prediction per point)
HISTORY_POINTS = 60


def rul_history(me: Any, dataset: str, unit: str, rows: Any, level: float = 0.9) -> tuple[int, Any]:
    """The serving model's RUL (with interval) as it would have read at earlier cycles of
    the unit: one prediction per cut of its history (at most HISTORY_POINTS cuts, evenly
    spaced, the last cycle always included), all in one batch, logged as one prediction."""
    import numpy as np

    rows = rows.sort_values("cycle").reset_index(drop=True)
    n = len(rows)
    cuts = np.unique(np.linspace(1, n, min(n, HISTORY_POINTS)).round().astype(int))
    prefixes = [rows.iloc[:c].assign(unit=i) for i, c in enumerate(cuts)]
    import pandas as pd

    batch = pd.concat(prefixes, ignore_index=True)
    mv, model = serving.load_model("energy.rul", None, tenant=me.tenant)
    out = model.predict(batch, level=level).sort_values("last_cycle").round(2)
    audit.record(
        tenant=me.tenant, actor=me.name, action="predict", target="energy.rul",
        model_version=f"energy.rul/{mv.version}",
        input_digest=audit.digest(batch.to_csv(index=False).encode()),
        output={"dataset": dataset, "unit": unit, "level": level, "history_cuts": len(cuts),
                "predictions": out.drop(columns="unit").to_dict(orient="records")},
    )  # fmt: skip
    return mv.version, out


def rul_figure(history: Any, unit: str, version: int, red: float, amber: float) -> dict[str, Any]:
    """Predicted RUL by cycle with its 90% interval as a band, and the red/amber lines."""
    x = history["last_cycle"].tolist()
    lines = [
        {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": y, "y1": y,
         "line": {"color": BANDS[b], "dash": "dash", "width": 1.5}}
        for b, y in (("red", red), ("amber", amber))
    ]  # fmt: skip
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "x": x, "y": history["upper"].tolist(),
             "line": {"width": 0}, "showlegend": False, "hoverinfo": "skip"},
            {"type": "scatter", "mode": "lines", "x": x, "y": history["lower"].tolist(),
             "fill": "tonexty", "fillcolor": "rgba(31, 97, 141, 0.18)", "line": {"width": 0},
             "name": "90% interval"},
            {"type": "scatter", "mode": "lines+markers", "x": x, "y": history["rul"].tolist(),
             "name": "predicted RUL", "line": {"color": "#1f618d"}, "marker": {"size": 4}},
        ],
        "layout": {
            "title": {"text": f"Unit {unit}: predicted remaining life as read at each cycle "
                      f"(model v{version}; dashed: red {red:g}, amber {amber:g} cycles)"},
            "xaxis": {"title": {"text": "cycle"}},
            "yaxis": {"title": {"text": "RUL (cycles)"}, "rangemode": "tozero"},
            "shapes": lines, "height": 380, "legend": {"orientation": "h", "y": -0.2},
        },
    }  # fmt: skip


@router.get("/energy/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, state: str | None = "open") -> HTMLResponse:
    me = principal_of(request)
    found = alerts.list_incidents(tenant=me.tenant, state=state or None, limit=500)
    return render(request, "energy/alerts.html", me, incidents=found, state=state)


@router.post("/energy/alerts/ack", response_class=HTMLResponse)
def ack_incident(
    request: Request, alert_id: list[str] = Form(...), note: str = Form("", max_length=2000),
    state: str = Form("open"),
) -> Response:  # fmt: skip
    """Acknowledge every alert of an incident at once."""
    me = need(principal_of(request), P.OPERATE)
    alerts.acknowledge_all(alert_id, tenant=me.tenant, by=me.name, note=note or None)
    back = state if state in alerts.STATES else ""
    return RedirectResponse(f"/ui/energy/alerts?state={back}", status_code=303)


@router.post("/energy/alerts/{alert_id}/ack", response_class=HTMLResponse)
def ack(request: Request, alert_id: str, note: str = Form("", max_length=2000)) -> Response:
    me = need(principal_of(request), P.OPERATE)
    alerts.acknowledge(alert_id, tenant=me.tenant, by=me.name, note=note or None)
    return RedirectResponse("/ui/energy/alerts", status_code=303)


def trend_sensors(frame: Any) -> list[str]:
    """The columns an RUL model fitted on this fleet keeps (the training selection, with
    the default threshold): flat, two-level and uncorrelated columns such as operating
    settings are left out, strongest link to remaining life first."""
    import numpy as np

    from odlar.energy.rul.features import Scaler, rul_target
    from odlar.energy.rul.regressors import COMMON

    y = rul_target(frame, COMMON["cap"])
    kept = Scaler.fit(frame, y, COMMON["min_corr"]).columns
    strength = {c: abs(np.corrcoef(frame[c].to_numpy(float), y)[0, 1]) for c in kept}
    return sorted(kept, key=lambda c: -strength[c])


def sensor_panels(rows: Any, sensors: list[str], title: str, columns: int = 3) -> dict[str, Any]:
    """One small panel per sensor (own y axis, shared cycle axis) instead of many
    overlapping lines on one axis."""
    n = max(len(sensors), 1)
    grid_rows = -(-n // columns)
    data = []
    layout: dict[str, Any] = {
        "title": {"text": title},
        "grid": {"rows": grid_rows, "columns": min(columns, n), "pattern": "independent"},
        "height": 120 + 170 * grid_rows, "showlegend": False, "annotations": [],
    }  # fmt: skip
    for i, c in enumerate(sensors, start=1):
        data.append({"type": "scatter", "mode": "lines", "name": c, "xaxis": f"x{i}",
                     "yaxis": f"y{i}", "x": rows["cycle"].tolist(),
                     "y": rows[c].round(4).tolist(), "line": {"width": 1.5}})  # fmt: skip
        layout[f"xaxis{i}"] = {"matches": "x", "showticklabels": i > len(sensors) - columns}
        layout[f"yaxis{i}"] = {"automargin": True, "nticks": 4}
        layout["annotations"].append({
            "text": c, "showarrow": False, "xref": f"x{i} domain", "yref": f"y{i} domain",
            "x": 0.02, "y": 1.0, "xanchor": "left", "yanchor": "bottom", "font": {"size": 12},
        })  # fmt: skip
    return {"data": data, "layout": layout}


_FLEETS: dict[tuple[str, str, int, float], list[Any]] = {}


def _fleet_rul(me: Any, dataset: str, level: float) -> tuple[int, list[Any]]:
    """The fleet's predictions by the version now serving, computed (and logged) once per
    dataset, version and level; the page is opened far more often than data changes."""
    source = data_source(me, dataset)  # first: nothing else is said about a refused reference
    version = serving.serving_version("energy.rul", None, tenant=me.tenant)
    key = (me.tenant, dataset, version, round(level, 2))
    if key not in _FLEETS:
        task = get_task("energy.rul")
        data = task.load(source)
        mv, model = serving.load_model("energy.rul", version, tenant=me.tenant)
        # the validated frame straight to the model: no request objects for 10,000s of
        # readings; the input digest is the dataset's recorded SHA-256
        out = model.predict(data.frame, level=level).round(2)
        rows = sorted(out.itertuples(index=False), key=lambda r: r.rul)
        audit.record(
            tenant=me.tenant, actor=me.name, action="predict", target="energy.rul",
            model_version=f"energy.rul/{mv.version}", input_digest=data.sha256,
            output={"dataset": dataset, "level": level, "units": len(rows),
                    "predictions": out.to_dict(orient="records")},
        )  # fmt: skip
        if len(_FLEETS) >= 32:
            _FLEETS.pop(next(iter(_FLEETS)))
        _FLEETS[key] = rows
    return version, _FLEETS[key]


def _fleet_figure(
    rows: list[Any], level: float, red: float = 30, amber: float = 60
) -> dict[str, Any]:
    """Each unit's RUL with its interval, over red/amber/green maintenance bands; a marker
    takes the colour of its unit's band (from the interval's lower end)."""
    top = max([r.upper for r in rows] + [amber * 1.2])
    edges = {"red": (0, red), "amber": (red, amber), "green": (amber, top * 1.05)}
    shapes = [
        {"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": "y", "y0": lo, "y1": hi,
         "fillcolor": BANDS[b], "opacity": 0.12, "line": {"width": 0}, "layer": "below"}
        for b, (lo, hi) in edges.items()
    ]  # fmt: skip
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": [r.unit for r in rows],
                "y": [r.rul for r in rows],
                "marker": {"color": [BANDS[band(r.lower, red, amber)] for r in rows]},
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [round(r.upper - r.rul, 2) for r in rows],
                    "arrayminus": [round(r.rul - r.lower, 2) for r in rows],
                    "color": "#5d6d7e",
                },
                "name": "RUL",
            }
        ],
        "layout": {
            "title": {"text": f"Remaining useful life with {level:.0%} intervals, shortest "
                      f"first: red at or below {red:g} cycles, amber at or below {amber:g}"},
            "xaxis": {"title": {"text": "unit"}, "type": "category"},
            "yaxis": {"title": {"text": "cycles"}, "range": [0, top * 1.05]},
            "shapes": shapes,
            "height": 420,
        },
    }  # fmt: skip


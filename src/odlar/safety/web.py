"""The safety sector's console pages (under /ui): a day's forecast hot spots on a map, and
stationing plans with their coverage and replayed response times side by side. Maps are
plain lon/lat axes (no tile server, nothing from the internet); the answers come from the
same service functions as the /api/v1/safety routes."""

from __future__ import annotations

import math
from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from odlar.core import datasets
from odlar.core.errors import OdlarError
from odlar.governance.roles import Permission as P
from odlar.safety import service
from odlar.web.console import chart, form_value, need, principal_of, render

router = APIRouter()

DEFAULT_DATA = "safety/crime/CHI_Crime.zip"


def _uploads(tenant: str) -> list[dict[str, Any]]:
    return [d for d in datasets.list_datasets(tenant=tenant) if d["task"] == "safety.hotspots"]


@router.get("/safety/forecast", response_class=HTMLResponse)
def forecast_page(
    request: Request,
    data: str | None = Query(None, max_length=4096),
    day: str | None = Query(None, max_length=40),
    category: str | None = Query(None, max_length=200),
) -> HTMLResponse:
    me = principal_of(request)
    category = (category or "").strip() or None
    context: dict[str, Any] = {
        "data": data or DEFAULT_DATA, "day": day, "category": category,
        "uploads": _uploads(me.tenant),
    }  # fmt: skip
    if data:
        need(me, P.OPERATE)  # a forecast is a prediction: operators
        try:
            answer = service.forecast_map(
                data, tenant=me.tenant, actor=me.name, day=form_value(day, date, "day"),
                category=category,
            )  # fmt: skip
            if category is None:  # one category at a time on the map: the first
                category = answer["categories"][0]
                answer["features"] = [f for f in answer["features"]
                                      if f["properties"]["category"] == category]  # fmt: skip
        except OdlarError as exc:
            return render(request, "safety/forecast.html", me, exc.http_status,
                          error=exc.message, **context)  # fmt: skip
        category = category.upper()
        cells = [f["properties"] for f in answer["features"]]
        context |= {
            "answer": answer,
            "category": category,
            "top": cells[:15],
            "centres": _centres(answer),
            "figure": chart(forecast_figure(answer, category)),
        }
    return render(request, "safety/forecast.html", me, **context)


@router.get("/safety/stations", response_class=HTMLResponse)
def stations_page(
    request: Request,
    data: str | None = Query(None, max_length=4096),
    stations: str | None = Query(None, max_length=40),
    crews: str | None = Query(None, max_length=40),
    radius_min: str | None = Query(None, max_length=40),
    replay_from: str | None = Query(None, max_length=40),
    replay_days: str | None = Query(None, max_length=40),
) -> HTMLResponse:
    me = principal_of(request)
    context: dict[str, Any] = {
        "data": data or DEFAULT_DATA, "stations": stations or 10, "crews": crews or 30,
        "radius_min": radius_min or 8, "replay_from": replay_from, "replay_days": replay_days or 7,
        "uploads": _uploads(me.tenant),
    }  # fmt: skip
    if data:
        need(me, P.OPERATE)
        try:
            given = {
                "stations": form_value(stations, int, "stations"),
                "crews": form_value(crews, int, "crews"),
                "radius_min": form_value(radius_min, float, "target response"),
                "replay_from": form_value(replay_from, date, "replay from"),
                "replay_days": form_value(replay_days, int, "days replayed"),
            }  # an empty box: the default
            answer = service.stationing(
                data, tenant=me.tenant, actor=me.name,
                **{k: v for k, v in given.items() if v is not None},
            )
        except OdlarError as exc:
            return render(request, "safety/stations.html", me, exc.http_status,
                          error=exc.message, **context)  # fmt: skip
        context |= {"answer": answer, "figure": chart(stations_figure(answer))}
    return render(request, "safety/stations.html", me, **context)


def _centres(answer: dict[str, Any]) -> dict[int, tuple[float, float]]:
    """Each cell's centre from its GeoJSON ring (for the table)."""
    out = {}
    for f in answer["features"]:
        ring = f["geometry"]["coordinates"][0]
        out[f["properties"]["cell"]] = (
            round((ring[0][1] + ring[2][1]) / 2, 4),
            round((ring[0][0] + ring[2][0]) / 2, 4),
        )
    return out


def _map_axes(lat: float) -> dict[str, Any]:
    """Longitude and latitude axes at the map's true aspect (a degree of longitude is
    cos(latitude) of a degree of latitude), so cells look square as on the ground."""
    return {
        "xaxis": {"title": {"text": "longitude"}, "constrain": "domain"},
        "yaxis": {"title": {"text": "latitude"}, "scaleanchor": "x",
                  "scaleratio": 1 / max(math.cos(math.radians(lat)), 0.1)},
    }  # fmt: skip


def _grid_matrix(answer: dict[str, Any], key: str) -> tuple[list[float], list[float], list[Any]]:
    """Cell centres on each axis and the value per (row, column); empty cells are None."""
    rows, cols = answer["grid"]["rows"], answer["grid"]["cols"]
    z: list[list[float | None]] = [[None] * cols for _ in range(rows)]
    lons: list[float | None] = [None] * cols
    lats: list[float | None] = [None] * rows
    for f in answer["features"]:
        p, ring = f["properties"], f["geometry"]["coordinates"][0]
        r, c = divmod(p["cell"], cols)
        z[r][c] = p[key]
        lons[c] = (ring[0][0] + ring[1][0]) / 2
        lats[r] = (ring[0][1] + ring[2][1]) / 2
    return _fill(lons), _fill(lats), z


def _fill(centres: list[float | None]) -> list[float]:
    """Axis positions of every row or column, from the ones seen (equal steps)."""
    known = [(i, v) for i, v in enumerate(centres) if v is not None]
    if len(known) < 2:
        return [known[0][1] if known else 0.0] * len(centres)
    (i0, v0), (i1, v1) = known[0], known[-1]
    step = (v1 - v0) / (i1 - i0) if i1 != i0 else 0.0
    return [round(v0 + (i - i0) * step, 5) for i in range(len(centres))]


def forecast_figure(answer: dict[str, Any], category: str) -> dict[str, Any]:
    """Two panels on lon/lat axes: the expected count per cell and the calibrated
    probability of at least one incident, hover with the 90% upper bound."""
    x, y, expected = _grid_matrix(answer, "expected")
    _, _, p_any = _grid_matrix(answer, "p_any")
    _, _, upper = _grid_matrix(answer, "upper90")
    hover = "lon %{x:.3f}, lat %{y:.3f}<br>%{z}<extra></extra>"
    lat = sum(y) / max(len(y), 1)
    axes = _map_axes(lat)
    return {
        "data": [
            {"type": "heatmap", "x": x, "y": y, "z": expected, "colorscale": "YlOrRd",
             "reversescale": True,  # more incidents: darker red
             "colorbar": {"title": {"text": "expected"}, "x": 0.41}, "customdata": upper,
             "hovertemplate": "lon %{x:.3f}, lat %{y:.3f}<br>expected %{z:.2f}, "
                              "90% upper bound %{customdata}<extra></extra>",
             "xaxis": "x", "yaxis": "y"},
            {"type": "heatmap", "x": x, "y": y, "z": p_any, "zmin": 0, "zmax": 1,
             "colorscale": "Blues", "reversescale": True,
             "colorbar": {"title": {"text": "P(at least 1)"}},
             "hovertemplate": hover.replace("%{z}", "P(at least one) %{z:.2f}"),
             "xaxis": "x2", "yaxis": "y2"},
        ],  # fmt: skip
        "layout": {
            "title": {"text": f"{category}, {answer['day']}: expected incidents and the "
                              "probability of at least one, per 3 km cell"},
            "grid": {"rows": 1, "columns": 2, "pattern": "independent"},
            "xaxis": {**axes["xaxis"], "domain": [0, 0.38]},
            "yaxis": axes["yaxis"],
            "xaxis2": {**axes["xaxis"], "domain": [0.56, 0.94]},
            "yaxis2": {**axes["yaxis"], "scaleanchor": "x2"},
            "height": 560,
        },  # fmt: skip
    }


SYMBOLS = {"mclp": "star", "pmedian": "diamond", "lscp": "triangle-up"}


def stations_figure(answer: dict[str, Any]) -> dict[str, Any]:
    """The forecast demand per cell as coloured squares and each plan's stations on top."""
    demand = answer["expected"]
    lat = sum(d["latitude"] for d in demand) / max(len(demand), 1)
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "markers", "name": "expected incidents per cell",
         "x": [d["longitude"] for d in demand], "y": [d["latitude"] for d in demand],
         "marker": {"symbol": "square", "size": 14, "color": [d["expected"] for d in demand],
                    "colorscale": "YlOrRd", "reversescale": True,
                    "colorbar": {"title": {"text": "expected/day"}}},
         "hovertemplate": "expected %{marker.color:.2f}<extra></extra>"},
    ]  # fmt: skip
    for plan in answer["plans"]:
        at = plan["stations_at"]
        data.append({
            "type": "scatter", "mode": "markers", "name": f"{plan['method']} stations",
            "x": [s["longitude"] for s in at], "y": [s["latitude"] for s in at],
            "text": [f"cell {s['cell']}: {s['crews']} crews" for s in at],
            "marker": {"symbol": SYMBOLS.get(plan["method"], "circle"), "size": 13,
                       "line": {"width": 1, "color": "#000"}},
            "hovertemplate": "%{text}<extra>" + plan["method"] + "</extra>",
        })  # fmt: skip
    return {
        "data": data,
        "layout": {
            "title": {"text": f"Stations of each plan over the forecast demand of "
                              f"{answer['demand_day']}"},
            **_map_axes(lat), "height": 620, "legend": {"orientation": "h", "y": -0.12},
        },  # fmt: skip
    }

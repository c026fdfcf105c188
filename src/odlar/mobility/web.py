"""The transport sector's console page (under /ui): scenarios, controllers and the latest
RESCO bench beside the best published delay."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from odlar.core import bench
from odlar.governance import approval
from odlar.web.console import chart, principal_of, render

router = APIRouter()


@router.get("/traffic", response_class=HTMLResponse)
def traffic(request: Request) -> HTMLResponse:
    """Scenarios, controllers registered for them, and the latest full RESCO bench
    beside the best published delay of each scenario."""
    from odlar.mobility import bench as resco_bench
    from odlar.mobility import scenarios as sc

    me = principal_of(request)
    names = list(sc.RESCO_NAMES)
    controllers = [
        (v, state, sc.display_name(v.data.get("source")))
        for v, state in approval.versions(me.tenant, "mobility.signals")
    ]
    runs = [r for r in bench.recorded("mobility.signals") if r.get("dataset") == "resco"]
    run = runs[0] if runs else None
    table: list[dict[str, Any]] = []
    figure = None
    if run:
        methods = sorted({r["controller"] for r in run["results"]})
        for name in names:
            rows = {r["controller"]: r for r in run["results"] if r["scenario"] == name}
            if not rows:
                continue
            best_m, best_v = resco_bench.best_published(name)
            ours = min(rows.values(), key=lambda r: r["metrics"]["delay"])
            table.append({"scenario": name, "rows": rows, "best": (best_m, best_v),
                          "ours": ours, "met": ours["metrics"]["delay"] <= best_v})  # fmt: skip
        figure = chart({
            "data": [
                {"type": "bar", "name": m, "x": [t["scenario"] for t in table],
                 "y": [t["rows"][m]["metrics"]["delay"] if m in t["rows"] else None
                       for t in table]}
                for m in methods
            ] + [{"type": "bar", "name": "best published", "marker": {"color": "#b0b0b0"},
                  "x": [t["scenario"] for t in table], "y": [t["best"][1] for t in table]}],
            # dtick 1: ticks at 1, 10, 100 s only (Plotly's default log labels read as a list
            # of unrelated numbers: "1000, 5, 2, 100")
            "layout": {"barmode": "group", "height": 420, "yaxis": {"type": "log", "dtick": 1,
                       "title": {"text": "delay per vehicle (s), log scale"}},
                       "title": {"text": "RESCO scenarios: our controllers beside the best "
                                         "published delay"}},
        })  # fmt: skip
    return render(request, "mobility/traffic.html", me, names=names, controllers=controllers,
                  run=run, table=table, figure=figure)  # fmt: skip

"""The Compute page (admins and auditors): the backend's capacity, running and queued jobs
per tenant with what each queued job waits for, quotas, and CPU time used over time."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from odlar.core import usage
from odlar.core.compute import scheduler
from odlar.core.store import DEFAULT_TENANT
from odlar.governance.roles import Permission as P
from odlar.web.console import chart, need, principal_of, render


def add(ui: APIRouter) -> None:
    @ui.get("/compute", response_class=HTMLResponse)
    def compute_page(request: Request, since: str = "30d") -> HTMLResponse:
        me = need(principal_of(request), P.AUDIT)  # admins hold every permission
        tenant = None if me.tenant == DEFAULT_TENANT else me.tenant
        start = usage.parse_since(since)
        series = usage.series(tenant=tenant, since=start)
        figure = {
            "data": [
                {"type": "bar", "name": t, "x": [b for b, _ in pts], "y": [v for _, v in pts]}
                for t, pts in series.items()
            ],
            "layout": {"barmode": "stack", "height": 320,
                       "title": {"text": "CPU seconds of jobs per day, by tenant"},
                       "yaxis": {"title": {"text": "CPU s"}}},
        }  # fmt: skip
        return render(
            request, "compute.html", me, view=scheduler.overview(tenant),
            report=usage.report(tenant=tenant, since=start), since=since,
            figure=chart(figure) if series else None,
        )  # fmt: skip

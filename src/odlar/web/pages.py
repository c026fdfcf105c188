"""The platform's console pages: jobs, benchmarks, governance (models, documentation,
checks, approval; event log). Sectors bring their own pages (core/sectors.py).

Each page resolves the signed-in user, checks the permission its action needs and calls the
same functions as the API, scoped by the user's tenant."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)

from odlar.core import audit, bench, datasets, jobs, tracking
from odlar.core.errors import OdlarError, UsageError
from odlar.core.figures import readable
from odlar.core.params import parse_params, split_params
from odlar.core.tasks import get_task, task_names
from odlar.governance import approval, checks, documentation
from odlar.governance.roles import Permission as P
from odlar.web.console import chart, data_source, need, principal_of, render


def add(ui: APIRouter) -> None:
    _jobs(ui)
    _benchmarks(ui)
    _governance(ui)


# --- jobs -----------------------------------------------------------------------------


def _jobs(ui: APIRouter) -> None:
    @ui.get("/jobs", response_class=HTMLResponse)
    def jobs_page(request: Request) -> HTMLResponse:
        me = principal_of(request)
        return render(request, "jobs.html", me, **_jobs_context(me.tenant))

    @ui.post("/jobs")
    def submit(
        request: Request,
        task: str = Form(..., max_length=100),
        data: str = Form(..., max_length=1000),
        method: str = Form("", max_length=100),
        params: str = Form("", max_length=2000),
    ) -> Response:
        me = need(principal_of(request), P.OPERATE)
        try:
            parsed = parse_params(split_params(params), label="parameter")
            data_source(me, data)
            spec = jobs.FitSpec(task=task, data=data, method=method or None, params=parsed)
            job = jobs.submit(spec, tenant=me.tenant, created_by=me.name)
        except OdlarError as exc:
            context = _jobs_context(me.tenant)
            return render(request, "jobs.html", me, exc.http_status, error=exc.message, **context)
        return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)

    @ui.get("/jobs/{job_id}", response_class=HTMLResponse)
    def job_page(request: Request, job_id: str) -> HTMLResponse:
        me = principal_of(request)
        jobs.recover()
        job = jobs.get(job_id, tenant=me.tenant)
        return render(request, "job.html", me, job=job, figure=_job_chart(job))

    @ui.get("/jobs/{job_id}/status", response_class=HTMLResponse)
    def job_status(request: Request, job_id: str) -> HTMLResponse:
        """The progress panel alone: htmx polls it until the job ends."""
        me = principal_of(request)
        jobs.recover()
        job = jobs.get(job_id, tenant=me.tenant)
        return render(request, "job_status.html", me, job=job, figure=_job_chart(job))


def _jobs_context(tenant: str) -> dict[str, Any]:
    return {
        "jobs": jobs.list_jobs(tenant=tenant, limit=50),
        "tasks": {n: get_task(n).methods for n in task_names()},
        "datasets": datasets.list_datasets(tenant=tenant),
    }


def _job_chart(job: Any) -> str | None:
    if job.state != "succeeded" or not job.result:
        return None
    metrics = {k: v for k, v in job.result.get("metrics", {}).items() if abs(v) < 1e6}
    title = f"Metrics of {job.task} v{job.result['model']['version']}"
    return chart(metric_panels(metrics, title)) if metrics else None


def metric_panels(metrics: dict[str, float], title: str, columns: int = 4) -> dict[str, Any]:
    """One small bar panel per metric, each on its own axis: metrics have unrelated units
    (a validation score of 2,433 beside an RMSE of 13 flattens the RMSE to nothing)."""
    rows = -(-len(metrics) // columns)
    data = []
    for i, (name, value) in enumerate(metrics.items(), start=1):
        data.append({"type": "bar", "x": [name], "y": [value], "xaxis": f"x{i}",
                     "yaxis": f"y{i}", "showlegend": False, "text": [f"{value:.4g}"],
                     "textposition": "auto", "hovertemplate": f"{name}: %{{y:.4g}}<extra></extra>"})
    layout: dict[str, Any] = {
        "title": {"text": title},
        "grid": {"rows": rows, "columns": min(columns, len(metrics)), "pattern": "independent"},
        "height": 180 + 200 * rows,
    }
    for i in range(1, len(metrics) + 1):
        layout[f"yaxis{i}"] = {"rangemode": "tozero", "automargin": True}
    return {"data": data, "layout": layout}


def compare_versions(tenant: str, refs: list[str]) -> dict[str, Any]:
    """Rows of (name, values per version, differs) for the comparison page; every ref
    `task/version` checked (404 for one the tenant does not have)."""
    if not 2 <= len(refs) <= 6:
        raise UsageError(f"choose 2 to 6 versions to compare, not {len(refs)}")
    found = []
    for ref in refs:
        task, _, number = ref.rpartition("/")
        if not task or not number.isdigit():
            raise UsageError(f"a version is task/number (energy.rul/2), not '{ref[:80]}'")
        found.append(tracking.get_version(task, int(number), tenant=tenant))
    states = {v.task: approval.states(tenant, v.task) for v in found}

    def rows(values: list[dict[str, Any]]) -> list[tuple[str, list[str], bool]]:
        names = sorted({k for d in values for k in d})
        out = []
        for name in names:
            shown = [readable(d[name]) if name in d else "" for d in values]
            out.append((name, shown, len(set(shown)) > 1))
        return out

    general = rows([
        {"task": v.task, "method": v.method, "state": states[v.task].get(v.version, "pending"),
         "created": v.created_at.strftime("%Y-%m-%d %H:%M"), "trained by": v.created_by or "",
         "data": v.data.get("source", ""), "data rows": v.data.get("rows", ""),
         "data SHA-256": str(v.data.get("sha256", ""))[:12]}
        for v in found
    ])  # fmt: skip
    return {
        "versions": found,
        "sections": [
            ("Version", general),
            ("Metrics", rows([v.metrics for v in found])),
            ("Parameters", rows([v.params for v in found])),
        ],
    }


# --- benchmarks ----------------------------------------------------------------------


def _benchmarks(ui: APIRouter) -> None:
    @ui.get("/benchmarks", response_class=HTMLResponse)
    def benchmarks(request: Request) -> HTMLResponse:
        me = principal_of(request)
        runs = []
        for name in task_names():
            for run in bench.recorded(name):
                runs.append(run | {"figure": chart(_bench_figure(run))})
        return render(request, "benchmarks.html", me, runs=runs)


def _bench_figure(run: dict[str, Any]) -> dict[str, Any]:
    """Our figures and the published ones on the run's first shared metric."""
    ours = run.get("results", [])
    published = run.get("anchors", [])
    keys = [k for r in ours for k in r.get("metrics", {})]
    metric = next((k for k in keys if any(k in a["metrics"] for a in published)), None)
    metric = metric or (keys[0] if keys else "")
    names = [r["method"] for r in ours] + [a["method"] for a in published]
    values = [r["metrics"].get(metric) for r in ours] + [
        a["metrics"].get(metric) for a in published
    ]
    colours = ["#1f6f8b"] * len(ours) + ["#b0b0b0"] * len(published)
    return {
        "data": [{"type": "bar", "x": names, "y": values, "marker": {"color": colours}}],
        "layout": {"title": {"text": f"{run.get('task')} on {run.get('dataset')}: {metric}"},
                   "height": 380},
    }  # fmt: skip


# --- governance -----------------------------------------------------------------------


def _governance(ui: APIRouter) -> None:
    @ui.get("/models", response_class=HTMLResponse)
    def models(request: Request, state: str | None = None) -> HTMLResponse:
        me = principal_of(request)
        if state not in (None, "", "pending", "approved", "revoked"):
            raise UsageError(f"state must be pending, approved or revoked, not '{state}'")
        rows = [(v, st, get_task(v.task).risk) for v, st in approval.versions(me.tenant)
                if not state or st == state]  # fmt: skip
        return render(request, "models.html", me, rows=rows, state=state)

    @ui.get("/models/compare", response_class=HTMLResponse)
    def compare(request: Request, v: list[str] = Query(default=[])) -> HTMLResponse:
        """Versions side by side (`?v=energy.rul/1&v=energy.rul/2`): state, data, then
        every metric and parameter any of them has, differing rows marked."""
        me = principal_of(request)
        return render(request, "compare.html", me, **compare_versions(me.tenant, v))

    @ui.get("/models/{task}/{version}", response_class=HTMLResponse)
    def model_page(request: Request, task: str, version: int) -> HTMLResponse:
        me = principal_of(request)
        get_task(task)
        doc = documentation.build(task, version, tenant=me.tenant)
        return render(
            request, "model.html", me, doc=doc, task=task, version=version,
            md=documentation.to_html(doc).split("<body>")[1].split("</body>")[0],
        )  # fmt: skip

    @ui.get("/models/{task}/{version}/documentation")
    def model_documentation(
        request: Request, task: str, version: int, format: str = "html"
    ) -> Response:
        """The API's documentation of a version, for the signed-in browser (the API's own
        route wants a bearer token, which a link cannot send)."""
        me = need(principal_of(request), P.READ)
        get_task(task)
        if format not in ("html", "markdown", "json"):
            raise UsageError(f"format must be html, markdown or json, not '{format}'")
        doc = documentation.build(task, version, tenant=me.tenant)
        if format == "markdown":
            return PlainTextResponse(documentation.to_markdown(doc), media_type="text/markdown")
        if format == "json":
            return JSONResponse(doc)
        return HTMLResponse(documentation.to_html(doc))

    @ui.post("/models/{task}/{version}/checks", response_class=HTMLResponse)
    def run_checks(request: Request, task: str, version: int) -> HTMLResponse:
        me = need(principal_of(request), P.APPROVE)
        mv = tracking.get_version(task, version, tenant=me.tenant)
        report = checks.run(mv, actor=me.name)
        return render(request, "checks.html", me, report=report)

    @ui.post("/models/{task}/{version}/decide")
    def decide(
        request: Request,
        task: str,
        version: int,
        decision: str = Form(..., pattern="^(approve|revoke)$"),
        reason: str = Form("", max_length=4000),
        override: bool = Form(False),
    ) -> Response:
        me = need(principal_of(request), P.APPROVE)
        try:
            if decision == "approve":
                approval.approve(
                    me.tenant, task, version, actor=me.name, reason=reason, override=override
                )
            else:
                approval.revoke(me.tenant, task, version, actor=me.name, reason=reason)
        except OdlarError as exc:
            message = exc.message
            if isinstance(exc, approval.ChecksFailed):
                message += ": tick \"Approve although checks failed\" and write the reason."
            doc = documentation.build(task, version, tenant=me.tenant)
            return render(
                request, "model.html", me, exc.http_status, doc=doc, task=task,
                version=version, error=message,
                md=documentation.to_html(doc).split("<body>")[1].split("</body>")[0],
            )  # fmt: skip
        return RedirectResponse(f"/ui/models/{task}/{version}", status_code=303)

    @ui.get("/audit", response_class=HTMLResponse)
    def audit_page(
        request: Request, action: str | None = None, actor: str | None = None,
        since: str | None = None, until: str | None = None, limit: int = 200,
    ) -> HTMLResponse:  # fmt: skip
        me = need(principal_of(request), P.AUDIT)
        filters = {"action": action or "", "actor": actor or "", "since": since or "",
                   "until": until or ""}  # fmt: skip
        context = {"filters": filters, "facets": audit.facets(me.tenant), "limit": limit}
        try:
            start, end = _moment("since", since), _moment("until", until)
        except UsageError as exc:
            return render(request, "audit.html", me, exc.http_status, rows=[], error=exc.message,
                          **context)  # fmt: skip
        rows = audit.events(
            me.tenant, action=action or None, actor=actor or None, since=start, until=end,
            limit=min(max(limit, 1), 2000), newest_first=True,
        )  # fmt: skip
        return render(request, "audit.html", me, rows=rows, **context)

    @ui.get("/audit/{seq}", response_class=HTMLResponse)
    def audit_event(request: Request, seq: int) -> HTMLResponse:
        me = need(principal_of(request), P.AUDIT)
        event = audit.event(me.tenant, seq)
        try:
            output = json.dumps(json.loads(event["output"]), indent=2, ensure_ascii=False)
        except ValueError:
            output = event["output"]
        return render(request, "audit_event.html", me, event=event, output=output)

    @ui.post("/audit/verify", response_class=HTMLResponse)
    def audit_verify(request: Request) -> HTMLResponse:
        me = need(principal_of(request), P.AUDIT)
        return render(request, "verify.html", me, result=audit.verify(me.tenant).to_dict())


def _moment(name: str, text: str | None) -> datetime | None:
    """A filter's date or date and time (UTC), as the browser's datetime-local sends it."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"{name}: '{text}' is not a date or date and time (YYYY-MM-DD or YYYY-MM-DDTHH:MM)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

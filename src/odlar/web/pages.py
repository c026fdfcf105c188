"""Console pages: jobs, energy (fleet RUL, unit trends, alerts), education (class heat map,
student), governance (models, documentation, checks, approval; event log), benchmarks.

Each page resolves the signed-in user, checks the permission its action needs and calls the
same functions as the API, scoped by the user's tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from odlar.core import alerts, bench, datasets, jobs, tracking
from odlar.core.errors import NotFound, OdlarError, UsageError
from odlar.core.tasks import get_task, task_names
from odlar.governance import approval, audit, checks, documentation
from odlar.governance.roles import Permission as P
from odlar.web.console import chart, need, principal_of, render


def add(ui: APIRouter) -> None:
    _jobs(ui)
    _energy(ui)
    _education(ui)
    _traffic(ui)
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
            parsed = _params(params)
            _source(me, data)
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


def _source(me: Any, ref: str) -> Path:
    """A data reference typed into the console, resolved exactly as the API resolves it:
    a dataset id of the user's tenant, or a path under ODLAR_DATA; never a file elsewhere,
    another tenant's upload or odlar's own state, so no error shows what such a file holds."""
    return datasets.resolve_source(ref, tenant=me.tenant, confined=True)


def _jobs_context(tenant: str) -> dict[str, Any]:
    return {
        "jobs": jobs.list_jobs(tenant=tenant, limit=50),
        "tasks": {n: get_task(n).methods for n in task_names()},
        "datasets": datasets.list_datasets(tenant=tenant),
    }


def _params(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in text.replace("\n", ",").split(","))):
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"parameter '{pair}': write name=value")
        try:
            out[name.strip()] = int(value)
        except ValueError:
            try:
                out[name.strip()] = float(value)
            except ValueError:
                out[name.strip()] = value.strip()
    return out


def _job_chart(job: Any) -> str | None:
    if job.state != "succeeded" or not job.result:
        return None
    metrics = {k: v for k, v in job.result.get("metrics", {}).items() if abs(v) < 1e6}
    return chart(
        {
            "data": [{"type": "bar", "x": list(metrics), "y": list(metrics.values())}],
            "layout": {"title": {"text": f"Metrics of {job.task} v"
                                 f"{job.result['model']['version']}"}, "height": 320},
        }
    )  # fmt: skip


# --- energy ---------------------------------------------------------------------------


def _energy(ui: APIRouter) -> None:
    @ui.get("/energy/rul", response_class=HTMLResponse)
    def fleet(request: Request, dataset: str | None = None, level: float = 0.9) -> HTMLResponse:
        me = principal_of(request)
        fleets = [d for d in datasets.list_datasets(tenant=me.tenant) if d["task"] == "energy.rul"]
        context: dict[str, Any] = {"fleets": fleets, "dataset": dataset, "level": level}
        if dataset:
            need(me, P.OPERATE)  # a prediction: operators
            level = min(max(level, 0.55), 0.99)
            try:
                version, rows = _fleet_rul(me, dataset, level)
            except OdlarError as exc:
                return render(
                    request, "rul.html", me, exc.http_status, error=exc.message, **context
                )
            context |= {
                "rows": rows,
                "version": version,
                "figure": chart(_fleet_figure(rows, level)),
            }
        return render(request, "rul.html", me, **context)

    @ui.get("/energy/rul/{dataset:path}/units/{unit}", response_class=HTMLResponse)
    def unit_trends(request: Request, dataset: str, unit: str) -> HTMLResponse:
        me = need(principal_of(request), P.OPERATE)  # the readings themselves: operators
        frame = get_task("energy.rul").load(_source(me, dataset)).frame
        rows = frame[frame["unit"].astype(str) == unit]
        if rows.empty:
            raise NotFound(f"no unit '{unit}' in dataset {dataset}")
        sensors = [c for c in rows.columns if c not in ("unit", "cycle") and rows[c].std() > 0]
        traces = []
        for c in sensors:
            z = (rows[c] - rows[c].mean()) / rows[c].std()
            traces.append({"type": "scatter", "mode": "lines", "name": c,
                           "x": rows["cycle"].tolist(), "y": z.round(3).tolist()})  # fmt: skip
        figure = {
            "data": traces,
            "layout": {"title": {"text": f"Unit {unit}: sensors (z-scores) by cycle"},
                       "xaxis": {"title": {"text": "cycle"}}, "height": 480},
        }  # fmt: skip
        return render(
            request, "rul_unit.html", me, unit=unit, dataset=dataset, cycles=len(rows),
            sensors=sensors, figure=chart(figure),
        )  # fmt: skip

    @ui.get("/energy/alerts", response_class=HTMLResponse)
    def alerts_page(request: Request, state: str | None = "open") -> HTMLResponse:
        me = principal_of(request)
        rows = alerts.list_alerts(tenant=me.tenant, state=state or None, limit=200)
        return render(request, "alerts.html", me, alerts=rows, state=state)

    @ui.post("/energy/alerts/{alert_id}/ack", response_class=HTMLResponse)
    def ack(request: Request, alert_id: str, note: str = Form("", max_length=2000)) -> Response:
        me = need(principal_of(request), P.OPERATE)
        alerts.acknowledge(alert_id, tenant=me.tenant, by=me.name, note=note or None)
        return RedirectResponse("/ui/energy/alerts", status_code=303)

    @ui.get("/benchmarks", response_class=HTMLResponse)
    def benchmarks(request: Request) -> HTMLResponse:
        me = principal_of(request)
        runs = []
        for name in task_names():
            for run in bench.recorded(name):
                runs.append(run | {"figure": chart(_bench_figure(run))})
        return render(request, "benchmarks.html", me, runs=runs)


_FLEETS: dict[tuple[str, str, int, float], list[Any]] = {}


def _fleet_rul(me: Any, dataset: str, level: float) -> tuple[int, list[Any]]:
    """The fleet's predictions by the version now serving, computed (and logged) once per
    dataset, version and level; the page is opened far more often than data changes."""
    source = _source(me, dataset)  # first: nothing else is said about a refused reference
    version = tracking.serving_version("energy.rul", None, tenant=me.tenant)
    key = (me.tenant, dataset, version, round(level, 2))
    if key not in _FLEETS:
        task = get_task("energy.rul")
        data = task.load(source)
        mv, model = tracking.load_model("energy.rul", version, tenant=me.tenant)
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


def _fleet_figure(rows: list[Any], level: float) -> dict[str, Any]:
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "markers",
                "x": [r.unit for r in rows],
                "y": [r.rul for r in rows],
                "error_y": {
                    "type": "data",
                    "symmetric": False,
                    "array": [round(r.upper - r.rul, 2) for r in rows],
                    "arrayminus": [round(r.rul - r.lower, 2) for r in rows],
                },
                "name": "RUL",
            }
        ],
        "layout": {
            "title": {"text": f"Remaining useful life with {level:.0%} intervals, shortest first"},
            "xaxis": {"title": {"text": "unit"}, "type": "category"},
            "yaxis": {"title": {"text": "cycles"}},
            "height": 420,
        },
    }


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


# --- traffic --------------------------------------------------------------------------


def _traffic(ui: APIRouter) -> None:
    @ui.get("/traffic", response_class=HTMLResponse)
    def traffic(request: Request) -> HTMLResponse:
        """Scenarios, controllers registered for them, and the latest full RESCO bench
        beside the best published delay of each scenario."""
        from odlar.mobility import bench as resco_bench
        from odlar.mobility import scenarios as sc

        me = principal_of(request)
        names = list(sc.RESCO_NAMES)
        controllers = [
            (v, approval.state(me.tenant, v.task, v.version))
            for v in tracking.list_versions("mobility.signals", tenant=me.tenant)
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
                "layout": {"barmode": "group", "height": 420, "yaxis": {"type": "log",
                           "title": {"text": "delay per vehicle (s), log scale"}},
                           "title": {"text": "RESCO scenarios: our controllers beside the best "
                                             "published delay"}},
            })  # fmt: skip
        return render(request, "traffic.html", me, names=names, controllers=controllers,
                      run=run, table=table, figure=figure)  # fmt: skip


# --- education ------------------------------------------------------------------------


def _education(ui: APIRouter) -> None:
    from odlar.core.store import LearnerInteraction, session_scope
    from odlar.education.service import TRACKER

    @ui.get("/education", response_class=HTMLResponse)
    def classes(request: Request) -> HTMLResponse:
        me = principal_of(request)
        from sqlalchemy import select

        with session_scope() as s:
            names = s.scalars(
                select(LearnerInteraction.class_id)
                .distinct()
                .where(
                    LearnerInteraction.tenant == me.tenant,
                    LearnerInteraction.class_id.is_not(None),
                )
            ).all()
        return render(request, "education.html", me, classes=sorted(n for n in names if n))

    @ui.get("/education/classes/{class_id}", response_class=HTMLResponse)
    def class_page(request: Request, class_id: str) -> HTMLResponse:
        me = principal_of(request)
        matrix = TRACKER.class_matrix(tenant=me.tenant, class_id=class_id, actor=me.name)
        report = TRACKER.class_report(tenant=me.tenant, class_id=class_id, actor=me.name)
        figure = {
            "data": [
                {
                    "type": "heatmap",
                    "z": matrix["mastery"],
                    "x": matrix["skills"],
                    "y": matrix["students"],
                    "zmin": 0,
                    "zmax": 1,
                    "colorscale": [[0, "#b03a2e"], [0.5, "#f4d03f"], [1, "#1e8449"]],
                    "colorbar": {"title": {"text": "mastery"}},
                }
            ],
            "layout": {
                "title": {"text": f"Class {class_id}: mastery, students by skills"},
                "height": max(320, 28 * len(matrix["students"]) + 160),
                "xaxis": {"tickangle": -45, "automargin": True, "type": "category"},
                "yaxis": {"automargin": True},
            },
        }
        return render(
            request, "class.html", me, class_id=class_id, report=report, matrix=matrix,
            figure=chart(figure),
        )  # fmt: skip

    @ui.get("/education/students/{student}", response_class=HTMLResponse)
    def student_page(request: Request, student: str) -> HTMLResponse:
        me = principal_of(request)
        mastery = TRACKER.mastery(tenant=me.tenant, student=student, actor=me.name)
        nxt = TRACKER.next_exercises(tenant=me.tenant, student=student, n=5, actor=me.name)
        figure = {
            "data": [{"type": "bar", "orientation": "h",
                      "y": [s["skill"] for s in mastery["skills"]],
                      "x": [s["mastery"] for s in mastery["skills"]]}],
            "layout": {"title": {"text": "Mastery per practised skill"},
                       "xaxis": {"range": [0, 1]}, "yaxis": {"automargin": True},
                       "height": max(300, 24 * len(mastery["skills"]) + 120)},
        }  # fmt: skip
        return render(request, "student.html", me, mastery=mastery, next=nxt, figure=chart(figure))


# --- governance -----------------------------------------------------------------------


def _governance(ui: APIRouter) -> None:
    @ui.get("/models", response_class=HTMLResponse)
    def models(request: Request) -> HTMLResponse:
        me = principal_of(request)
        rows = []
        for v in tracking.list_versions(None, tenant=me.tenant):
            rows.append((v, approval.state(me.tenant, v.task, v.version), get_task(v.task).risk))
        return render(request, "models.html", me, rows=rows)

    @ui.get("/models/{task}/{version}", response_class=HTMLResponse)
    def model_page(request: Request, task: str, version: int) -> HTMLResponse:
        me = principal_of(request)
        get_task(task)
        doc = documentation.build(task, version, tenant=me.tenant)
        return render(
            request, "model.html", me, doc=doc, task=task, version=version,
            md=documentation.to_html(doc).split("<body>")[1].split("</body>")[0],
        )  # fmt: skip

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
    def audit_page(request: Request, action: str | None = None, limit: int = 200) -> HTMLResponse:
        me = need(principal_of(request), P.AUDIT)
        rows = audit.events(
            me.tenant, action=action or None, limit=min(max(limit, 1), 2000), newest_first=True
        )
        return render(request, "audit.html", me, rows=rows, action=action or "")

    @ui.post("/audit/verify", response_class=HTMLResponse)
    def audit_verify(request: Request) -> HTMLResponse:
        me = need(principal_of(request), P.AUDIT)
        return render(request, "verify.html", me, result=audit.verify(me.tenant).to_dict())

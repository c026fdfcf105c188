"""The administration sector's console pages (under /ui): timetables.

- `/ui/admin/timetabling`: instances (the competition's and the tenant's uploads), an upload
  form, a solve form that starts a fit job (operators), the tenant's timetables;
- `/ui/admin/timetabling/{version}`: one timetable as week grids per curriculum, teacher or
  room with violations marked, the hard constraints' status and the soft cost beside the
  best known; downloads (.sol, CSV, iCalendar) of a published timetable.

Roles as in the API: reading is `read`; uploading and solving are `operate` (as `POST
/api/v1/datasets` and `POST /api/v1/jobs`); downloads answer as `GET
/api/v1/tasks/admin.timetabling/timetables/{version}/export`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from odlar.core import datasets, jobs
from odlar.core.errors import OdlarError, UsageError
from odlar.core.tasks import get_task
from odlar.governance import approval
from odlar.governance.roles import Permission as P
from odlar.server.parameters import VERSION
from odlar.web.console import data_source, need, principal_of, render

router = APIRouter()
TASK = "admin.timetabling"
LIST = "admin/timetabling.html"


def _form(**given: str | None) -> dict[str, str]:
    defaults = {"instance": "admin/itc2007-cct/comp01.ctt", "method": "anneal",
                "time_limit": "60", "seed": "0"}  # fmt: skip
    return defaults | {k: v for k, v in given.items() if v}


def _list_context(me: Any, form: dict[str, str]) -> dict[str, Any]:
    from odlar.admin.timetabling import timetables

    versions = approval.versions(me.tenant, TASK)
    return {
        "form": form,
        "instances": timetables.instances(me.tenant),
        "methods": get_task(TASK).methods,
        "versions": sorted(versions, key=lambda vs: -vs[0].version),
        "jobs": [j for j in jobs.list_jobs(tenant=me.tenant, limit=200) if j.task == TASK][:10],
    }


@router.get("/admin/timetabling", response_class=HTMLResponse)
def timetabling(request: Request, instance: str | None = None) -> HTMLResponse:
    me = principal_of(request)
    return render(request, LIST, me, **_list_context(me, _form(instance=instance)))


@router.post("/admin/timetabling/upload", response_class=HTMLResponse)
def upload(request: Request, file: UploadFile = File(...)) -> Response:
    """An instance file (.ctt or a school's .json), validated by the task's loader before
    it is kept, as `POST /api/v1/datasets?task=admin.timetabling`."""
    me = need(principal_of(request), P.OPERATE)
    try:
        if not file.filename:
            raise UsageError("choose an instance file to upload (.ctt or .json)")
        record = datasets.save_upload(TASK, file.filename, file.file, tenant=me.tenant,
                                      actor=me.name)  # fmt: skip
    except OdlarError as exc:
        context = _list_context(me, _form())
        return render(request, LIST, me, exc.http_status, error=exc.message, **context)
    return RedirectResponse(f"/ui/admin/timetabling?instance={record['id']}", status_code=303)


@router.post("/admin/timetabling/solve", response_class=HTMLResponse)
def solve(
    request: Request,
    instance: str = Form(..., max_length=1000),
    method: str = Form("anneal", max_length=100),
    time_limit: str = Form("60", max_length=20),
    seed: str = Form("0", max_length=20),
) -> Response:
    """Start a solve as a fit job of the tenant (the job page follows it; the timetable it
    finds becomes a model version for approval)."""
    me = need(principal_of(request), P.OPERATE)
    form = _form(instance=instance, method=method, time_limit=time_limit, seed=seed)
    try:
        params = _solve_params(time_limit, seed)
        data_source(me, instance)  # confined as the API confines it: 4xx now, not in the job
        spec = jobs.FitSpec(task=TASK, data=instance, method=method, params=params)
        job = jobs.submit(spec, tenant=me.tenant, created_by=me.name)
    except OdlarError as exc:
        context = _list_context(me, form)
        return render(request, LIST, me, exc.http_status, error=exc.message, **context)
    return RedirectResponse(f"/ui/jobs/{job.id}", status_code=303)


def _solve_params(time_limit: str, seed: str) -> dict[str, Any]:
    try:
        limit = float(time_limit)
    except ValueError:
        raise UsageError(f"time limit '{time_limit[:20]}' is not a number of seconds") from None
    if not 1 <= limit <= 3600:
        raise UsageError(f"time limit {limit:g} s must be between 1 and 3600 seconds")
    try:
        seed_value = int(seed)
    except ValueError:
        raise UsageError(f"seed '{seed[:20]}' is not a whole number") from None
    return {"time_limit": limit, "seed": seed_value}


@router.get("/admin/timetabling/{version}", response_class=HTMLResponse)
def timetable_page(
    request: Request, version: VERSION, show: str | None = Query(None, max_length=300)
) -> HTMLResponse:
    """One timetable: week grid, hard constraints, soft costs beside the best known."""
    from odlar.admin.timetabling import timetables

    me = principal_of(request)
    t = timetables.read(me.tenant, version)
    context: dict[str, Any] = {"t": t, "show": show or "", "views": timetables.views(t.inst)}
    try:
        view, key = timetables.parse_show(show, t.inst)
        context |= {"view": view, "key": key, "grid": timetables.grid(t, view, key)}
    except OdlarError as exc:
        return render(request, "admin/timetable.html", me, exc.http_status, error=exc.message,
                      **context)  # fmt: skip
    return render(request, "admin/timetable.html", me, **context)


@router.get("/admin/timetabling/{version}/export")
def export(
    request: Request, version: VERSION, format: str = Query("sol", max_length=10),
    view: str | None = Query(None, max_length=20), key: str | None = Query(None, max_length=200),
    week_of: str = Query("2026-09-07", max_length=10),
) -> Response:  # fmt: skip
    """The file of a published timetable (.sol, .csv or .ics), as the API gives it."""
    from odlar.admin.timetabling import timetables

    me = principal_of(request)
    name, media, content = timetables.export(me.tenant, version, format, view=view, key=key,
                                             week_of=week_of)  # fmt: skip
    return Response(content, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip

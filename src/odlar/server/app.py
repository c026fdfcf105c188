"""FastAPI application factory: routes, error mapping, startup recovery."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, File, Path, Query, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from odlar import __version__
from odlar.core import alerts, datasets, jobs, tracking
from odlar.core.errors import DataError, OdlarError, UsageError
from odlar.core.store import get_engine
from odlar.core.tasks import get_task, task_names
from odlar.education.learning import Policy
from odlar.education.service import TRACKER
from odlar.energy.faults.live import HUB, MonitorResponse
from odlar.energy.faults.task import FaultRequest
from odlar.server.auth import Principal, current_principal


def _error_body(exc: OdlarError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": exc.message, "error": type(exc).__name__}
    if isinstance(exc, DataError):
        body.update({"file": exc.file, "line": exc.line, "field": exc.field, "reason": exc.reason})
    return body


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    get_engine()  # migrate the store before the first request
    jobs.recover()  # a job whose process died with the old server
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="odlar",
        version=__version__,
        description="Train, evaluate and serve AI capabilities for critical civilian sectors.",
        lifespan=_lifespan,
    )

    @app.exception_handler(OdlarError)
    async def _odlar_error(_request: Request, exc: OdlarError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        return JSONResponse(_error_body(exc), status_code=exc.http_status, headers=headers)

    @app.get("/health", tags=["platform"])
    def health() -> dict[str, Any]:
        from sqlalchemy import text

        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return {"status": "ok", "version": __version__, "tasks": task_names()}

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(current_principal)])
    _tasks_routes(api)
    _dataset_routes(api)
    _job_routes(api)
    _model_routes(api)
    _monitor_routes(api)
    _alert_routes(api)
    _education_routes(api)
    app.include_router(api)
    return app


def _tasks_routes(api: APIRouter) -> None:
    @api.get("/tasks", tags=["tasks"])
    def list_tasks() -> list[dict[str, Any]]:
        return [get_task(n).describe() for n in task_names()]

    @api.get("/tasks/{name}", tags=["tasks"])
    def show_task(name: str) -> dict[str, Any]:
        return get_task(name).describe()

    # One predict route per task, so OpenAPI documents each task's own request schema.
    for name in task_names():
        task = get_task(name)
        _predict_route(api, task.name, task.Request, task.Response)


def _predict_route(
    api: APIRouter, name: str, request_model: type[BaseModel], response_model: type[BaseModel]
) -> None:
    def predict(body: BaseModel, principal: Principal = Depends(current_principal)) -> Any:
        return tracking.predict(get_task(name), body)

    # The task's own request model, set at run time (annotations are strings here).
    predict.__annotations__["body"] = request_model
    api.add_api_route(
        f"/tasks/{name}/predict",
        predict,
        methods=["POST"],
        response_model=response_model,
        tags=["predict"],
        summary=f"Predict with the newest (or a chosen) model of {name}",
        name=f"predict_{name.replace('.', '_')}",
    )


def _dataset_routes(api: APIRouter) -> None:
    @api.post("/datasets", status_code=201, tags=["data"])
    async def upload_dataset(
        task: str = Query(description="Task whose loader validates the file"),
        file: UploadFile = File(description="CSV, Parquet or C-MAPSS text"),
        principal: Principal = Depends(current_principal),
    ) -> dict[str, Any]:
        content = await file.read()
        return await asyncio.to_thread(
            datasets.save_upload, task, file.filename or "data", content, tenant=principal.tenant
        )

    @api.get("/datasets", tags=["data"])
    def list_datasets(principal: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
        return datasets.list_datasets(tenant=principal.tenant)

    @api.get("/datasets/{dataset_id}", tags=["data"])
    def show_dataset(
        dataset_id: str, principal: Principal = Depends(current_principal)
    ) -> dict[str, Any]:
        return datasets.dataset_record(dataset_id, tenant=principal.tenant)


def _job_routes(api: APIRouter) -> None:
    @api.post("/jobs", status_code=202, tags=["jobs"])
    def submit_job(
        spec: jobs.FitSpec, principal: Principal = Depends(current_principal)
    ) -> dict[str, Any]:
        # Check data references now (and confine paths to ODLAR_DATA) so mistakes get a 4xx.
        for ref in filter(None, (spec.data, spec.eval)):
            datasets.resolve_source(ref, tenant=principal.tenant, confined=True)
        job = jobs.submit(spec, tenant=principal.tenant, created_by=principal.name)
        return job.to_dict()

    @api.get("/jobs", tags=["jobs"])
    def list_jobs(
        limit: int = Query(50, ge=1, le=1000), principal: Principal = Depends(current_principal)
    ) -> list[dict[str, Any]]:
        return [j.to_dict() for j in jobs.list_jobs(tenant=principal.tenant, limit=limit)]

    @api.get("/jobs/{job_id}", tags=["jobs"])
    def show_job(job_id: str, principal: Principal = Depends(current_principal)) -> dict[str, Any]:
        jobs.recover()
        return jobs.get(job_id, tenant=principal.tenant).to_dict()

    @api.get("/jobs/{job_id}/events", tags=["jobs"])
    async def follow_job(
        job_id: str, principal: Principal = Depends(current_principal)
    ) -> StreamingResponse:
        """Server-sent events: one `data:` line per change of progress, until the job ends."""
        jobs.get(job_id, tenant=principal.tenant)  # 404 before the stream starts

        async def stream() -> AsyncIterator[str]:
            last = None
            while True:
                await asyncio.to_thread(jobs.recover)
                job = await asyncio.to_thread(jobs.get, job_id, tenant=principal.tenant)
                snapshot = (job.state, round(job.progress, 3), job.message)
                if snapshot != last:
                    last = snapshot
                    yield f"data: {json.dumps(job.to_dict())}\n\n"
                if job.state in jobs.FINISHED:
                    return
                await asyncio.sleep(0.5)

        return StreamingResponse(stream(), media_type="text/event-stream")

    @api.post("/jobs/{job_id}/cancel", tags=["jobs"])
    def cancel_job(job_id: str, principal: Principal = Depends(current_principal)) -> dict:
        return jobs.cancel(job_id, tenant=principal.tenant).to_dict()

    @api.post("/jobs/{job_id}/retry", status_code=202, tags=["jobs"])
    def retry_job(job_id: str, principal: Principal = Depends(current_principal)) -> dict:
        return jobs.retry(job_id, tenant=principal.tenant, created_by=principal.name).to_dict()


def _model_routes(api: APIRouter) -> None:
    @api.get("/models", tags=["models"])
    def list_models(task: str | None = None) -> list[dict[str, Any]]:
        if task:
            get_task(task)  # 404 for an unknown task
        return [v.to_dict() for v in tracking.list_versions(task)]

    @api.get("/models/{task}/{version}", tags=["models"])
    def show_model(task: str, version: int) -> dict[str, Any]:
        get_task(task)
        return tracking.get_version(task, version).to_dict()


STREAM = Path(
    pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$",
    description="Stream name: a plant, unit or well (letters, digits, . _ : -)",
)


class AckBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


def _monitor_routes(api: APIRouter) -> None:
    @api.post(
        "/tasks/energy.faults/monitor/{stream}",
        tags=["monitor"],
        response_model=MonitorResponse,
        summary="Score a batch of live readings; raise, update and clear stored alerts",
    )
    def monitor_readings(
        body: FaultRequest,
        stream: str = STREAM,
        principal: Principal = Depends(current_principal),
    ) -> MonitorResponse:
        return HUB.push(
            tenant=principal.tenant,
            stream=stream,
            readings=body.readings,
            model_version=body.model_version,
        )


def _alert_routes(api: APIRouter) -> None:
    @api.get("/alerts", tags=["alerts"])
    def list_alerts(
        state: str | None = Query(None, description="open or cleared"),
        stream: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
        principal: Principal = Depends(current_principal),
    ) -> list[dict[str, Any]]:
        return alerts.list_alerts(tenant=principal.tenant, state=state, stream=stream, limit=limit)

    @api.get("/alerts/{alert_id}", tags=["alerts"])
    def show_alert(
        alert_id: str, principal: Principal = Depends(current_principal)
    ) -> dict[str, Any]:
        return alerts.get(alert_id, tenant=principal.tenant)

    @api.post("/alerts/{alert_id}/ack", tags=["alerts"])
    def acknowledge_alert(
        alert_id: str,
        body: AckBody | None = None,
        principal: Principal = Depends(current_principal),
    ) -> dict[str, Any]:
        note = body.note if body else None
        return alerts.acknowledge(alert_id, tenant=principal.tenant, by=principal.name, note=note)


class AnswerIn(BaseModel):
    student: str = Field(min_length=1, max_length=200, description="Pseudonymised on arrival")
    item: str = Field(default="", max_length=200)
    skills: str = Field(default="", max_length=2000, description="Several: separated by ~~")
    correct: int = Field(ge=0, le=1)
    time: str | None = Field(default=None, max_length=64, description="ISO time or order")
    class_id: str | None = Field(default=None, max_length=200)


class AnswersIn(BaseModel):
    model_version: int | None = Field(default=None, ge=1)
    answers: list[AnswerIn] = Field(min_length=1, max_length=100_000)


def _education_routes(api: APIRouter) -> None:
    base = "/tasks/education.tracing"

    def policy(low: float, high: float) -> Policy:
        try:
            return Policy(low=low, high=high)
        except ValueError as exc:
            raise UsageError(str(exc)) from None

    @api.post(f"{base}/answers", tags=["education"], summary="Record answers; update mastery")
    def record_answers(
        body: AnswersIn, principal: Principal = Depends(current_principal)
    ) -> dict[str, Any]:
        records = [
            {
                "student": a.student,
                "item": a.item,
                "skills": a.skills,
                "correct": a.correct,
                "time": a.time or "",
                "class": a.class_id or "",
            }
            for a in body.answers
        ]
        if not any(a.time for a in body.answers):
            for r in records:
                r.pop("time")
        return TRACKER.record(
            tenant=principal.tenant, records=records, model_version=body.model_version
        )

    @api.get(f"{base}/students/{{student}}/mastery", tags=["education"])
    def student_mastery(
        student: str,
        model_version: int | None = None,
        principal: Principal = Depends(current_principal),
    ) -> dict[str, Any]:
        return TRACKER.mastery(
            tenant=principal.tenant, student=student, model_version=model_version
        )

    @api.get(f"{base}/students/{{student}}/next", tags=["education"])
    def next_exercises(
        student: str,
        n: int = Query(5, ge=1, le=50),
        low: float = Query(0.6, gt=0, lt=1),
        high: float = Query(0.8, gt=0, lt=1),
        model_version: int | None = None,
        principal: Principal = Depends(current_principal),
    ) -> dict[str, Any]:
        return TRACKER.next_exercises(
            tenant=principal.tenant,
            student=student,
            n=n,
            model_version=model_version,
            policy=policy(low, high),
        )

    @api.get(f"{base}/classes/{{class_id}}/report", tags=["education"])
    def class_report(
        class_id: str,
        model_version: int | None = None,
        principal: Principal = Depends(current_principal),
    ) -> dict[str, Any]:
        return TRACKER.class_report(
            tenant=principal.tenant, class_id=class_id, model_version=model_version
        )

"""FastAPI application factory: routes, error mapping, startup recovery."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from odlar import __version__
from odlar.core import alerts, audit, datasets, jobs, tracking
from odlar.core import views as V
from odlar.core.errors import (
    Conflict,
    DataError,
    Forbidden,
    OdlarError,
    TooManyRequests,
)
from odlar.core.store import DEFAULT_TENANT, get_engine
from odlar.core.tasks import get_task, task_names
from odlar.governance import accounts, approval, checks, documentation, serving
from odlar.governance import views as G
from odlar.governance.roles import Principal, acting_tenant
from odlar.server import compute_routes
from odlar.server.auth import (
    ADMIN,
    APPROVE,
    AUDIT,
    FAILURES,
    OPERATE,
    READ,
    client_address,
    proxy_middleware,
)  # fmt: skip
from odlar.server.parameters import OPTIONAL_TIME, VERSION
from odlar.server.strict import reject_unknown_query


def _error_body(exc: OdlarError) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": exc.message, "error": type(exc).__name__}
    if isinstance(exc, DataError):
        body.update({"file": exc.file, "line": exc.line, "field": exc.field, "reason": exc.reason})
    return body


class ErrorBody(BaseModel):
    """What every odlar error answers (the handler in ``create_app``); a DataError adds
    where the data is wrong."""

    detail: str = Field(description="One line: what is wrong and how to fix it")
    error: str | None = Field(default=None, description="The kind, e.g. NotFound, DataError")
    file: str | None = Field(default=None, description="DataError: the file at fault")
    line: int | None = Field(default=None, description="DataError: the line (1 = header)")
    field: str | None = Field(default=None, description="DataError: the column or field")
    reason: str | None = Field(default=None, description="DataError: what is wrong there")


class Health(BaseModel):
    status: str = Field(description="ok when the store answers")
    version: str = Field(description="odlar's version")
    tasks: list[str] = Field(description="The tasks this server serves")


class RequestProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str
    input: Any = None
    ctx: dict[str, Any] | None = None


class RequestInvalid(BaseModel):
    """FastAPI's answer to a request that does not match the operation's parameters."""

    detail: list[RequestProblem]


def _error(description: str, model: Any = ErrorBody) -> dict[str, Any]:
    return {"model": model, "description": description}


# The status codes every API route can answer besides its success, declared once (on the
# /api/v1 router). 422 has two bodies: the request did not match the operation (FastAPI's
# validation: `detail` is a list) or the data in it cannot be used (DataError: `detail` is
# a line, with file, line and field).
API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error("Bad option or argument"),
    401: _error("Missing, unknown, revoked or expired token; wrong sign-in"),
    403: _error("The token's role lacks the permission, or another tenant's thing"),
    404: _error("No such task, dataset, job, model version, alert, user or token"),
    409: _error("Conflicts with the current state (e.g. a version not approved)"),
    413: _error("Request body or upload too large"),
    422: _error(
        "The request does not match the operation (a list of problems), or its data "
        "cannot be used (DataError: file, line, field)",
        RequestInvalid | ErrorBody,
    ),
    429: _error("Too many failed sign-ins or bad tokens: see Retry-After"),
    503: _error("Something outside odlar is unreachable"),
}


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    get_engine()  # migrate the store before the first request
    jobs.recover()  # a job whose process died with the old server
    tracking.warm()  # MLflow's first use costs seconds: pay it at start, not on a page
    _bound_threads()
    _log_configuration()
    # what start-up loaded (MLflow, SQLAlchemy, torch) stays for the process's life: keep it
    # out of the garbage collector's full passes, which otherwise stall requests for ms
    gc.freeze()
    from odlar.server.compute_routes import scheduling_loop

    scheduler = asyncio.create_task(scheduling_loop())  # queued jobs start, Ray jobs reconcile
    yield
    scheduler.cancel()


def _bound_threads() -> None:
    """Each worker's math libraries get ODLAR_SERVE_THREADS threads, after the start-up
    imports loaded them (core/threads.py says why)."""
    from odlar.core.config import get_settings
    from odlar.core.threads import limit_threads

    limit_threads(get_settings().serve_threads)


def _log_configuration() -> None:
    """Each start records the governance settings in effect (never a secret), so a change
    of configuration between two starts is visible in the event log."""
    from odlar.core.config import get_settings

    cfg = get_settings()
    audit.record(
        tenant=DEFAULT_TENANT, actor="odlar", action="server_start",
        output={
            "version": __version__,
            "require_approval": cfg.require_approval,
            "audit_retention_days": cfg.audit_retention_days,
            "max_failed_sign_ins": cfg.max_failed_sign_ins,
            "lockout_minutes": cfg.lockout_minutes,
            "serve_threads": cfg.serve_threads,
            "job_threads": cfg.job_threads,
            "max_upload_mb": cfg.max_upload_mb,
            "max_header_kb": cfg.max_header_kb,
            "database": cfg.db_url.split("://", 1)[0],
            "pseudonym_key": "configured" if cfg.pseudonym_key else "key file",
            "audit_key": "configured" if cfg.audit_key else "key file",
            "trusted_proxies": cfg.trusted_proxies,
        },
    )  # fmt: skip


def create_app() -> FastAPI:
    # Swagger UI and ReDoc from assets inside a package, not a CDN: /docs works air-gapped
    app = FastAPIOffline(
        title="odlar",
        version=__version__,
        description="Train, evaluate and serve AI capabilities for critical civilian sectors.",
        lifespan=_lifespan,
    )

    from odlar.core.config import get_settings

    proxy = proxy_middleware(get_settings().trusted_proxies)
    if proxy:  # X-Forwarded-For from the configured proxies only
        app.add_middleware(proxy[0], **proxy[1])

    @app.exception_handler(OdlarError)
    async def _odlar_error(request: Request, exc: OdlarError) -> Response:
        if request.url.path.startswith("/ui/"):  # console pages answer with a page
            return _console_error(request, exc)
        headers = {"WWW-Authenticate": "Bearer"} if exc.http_status == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(_error_body(exc), status_code=exc.http_status, headers=headers)

    from odlar.server import limits, validation

    validation.install(app)
    limits.install(app)

    @app.get("/health", tags=["platform"])
    def health() -> Health:
        from sqlalchemy import text

        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
        return Health(status="ok", version=__version__, tasks=task_names())

    api = APIRouter(
        prefix="/api/v1", responses=API_ERRORS, dependencies=[Depends(reject_unknown_query)]
    )
    _tasks_routes(api)
    _dataset_routes(api)
    _job_routes(api)
    _model_routes(api)
    _alert_routes(api)
    _governance_routes(api)
    _sector_routes(api)
    api.include_router(compute_routes.router)
    app.include_router(api)

    from odlar.web.app import install

    install(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=303)

    return app


def _sector_routes(api: APIRouter) -> None:
    """Each installed sector's own routes (core/sectors.py), under /api/v1."""
    from odlar.core.sectors import load, sectors

    for sector in sectors():
        if sector.api is not None:
            api.include_router(load(sector.api))


def _console_error(request: Request, exc: OdlarError) -> Response:
    from odlar.web.console import SignInRequired, page_error, principal_of

    try:
        me = principal_of(request)
    except SignInRequired:
        me = None
    return page_error(request, exc, me)


def _tasks_routes(api: APIRouter) -> None:
    @api.get("/tasks", tags=["tasks"], response_model=list[V.TaskView])
    def list_tasks(principal: Principal = Depends(READ)) -> list[dict[str, Any]]:
        return [get_task(n).describe() for n in task_names()]

    @api.get("/tasks/{name}", tags=["tasks"], response_model=V.TaskView)
    def show_task(name: str, principal: Principal = Depends(READ)) -> dict[str, Any]:
        return get_task(name).describe()

    # One predict route per task, so OpenAPI documents each task's own request schema.
    for name in task_names():
        task = get_task(name)
        _predict_route(api, task.name, task.Request, task.Response)


def _predict_route(
    api: APIRouter, name: str, request_model: type[BaseModel], response_model: type[BaseModel]
) -> None:
    task = get_task(name)
    if task.inline_predict:

        async def predict(body: BaseModel, principal: Principal = Depends(OPERATE)) -> Any:
            tenant, actor = principal.tenant, principal.name
            v = serving.serving_version(name, getattr(body, "model_version", None), tenant=tenant)
            if tracking.is_loaded(name, v, tenant=tenant):
                return serving.predict(task, body, tenant=tenant, actor=actor, serving=v)
            # the first request of a version loads it from MLflow (seconds): not on the loop
            return await run_in_threadpool(
                serving.predict, task, body, tenant=tenant, actor=actor, serving=v
            )

    else:

        def predict(body: BaseModel, principal: Principal = Depends(OPERATE)) -> Any:
            return serving.predict(task, body, tenant=principal.tenant, actor=principal.name)

    # The task's own request model, set at run time (annotations are strings here).
    predict.__annotations__["body"] = request_model
    api.add_api_route(
        f"/tasks/{name}/predict",
        predict,
        methods=["POST"],
        response_model=response_model,
        tags=["predict"],
        summary=f"Predict with the newest approved (or a chosen) model of {name}",
        name=f"predict_{name.replace('.', '_')}",
    )


def _dataset_routes(api: APIRouter) -> None:
    @api.post("/datasets", status_code=201, tags=["data"], response_model=V.DatasetView)
    async def upload_dataset(
        task: str = Query(description="Task whose loader validates the file"),
        file: UploadFile = File(description="CSV, Parquet or C-MAPSS text"),
        personal: str = Query(
            "",
            max_length=2000,
            description="Columns holding personal identifiers, comma "
            "separated: pseudonymised with a keyed hash",
        ),
        principal: Principal = Depends(OPERATE),
    ) -> dict[str, Any]:
        # the part is already spooled to disk within the limit (server/limits.py): copy it
        # in blocks, never whole into memory
        return await asyncio.to_thread(
            datasets.save_upload, task, file.filename or "data", file.file,
            tenant=principal.tenant, actor=principal.name,
            personal=tuple(c.strip() for c in personal.split(",") if c.strip()),
        )  # fmt: skip

    @api.get("/datasets", tags=["data"], response_model=list[V.DatasetView])
    def list_datasets(principal: Principal = Depends(READ)) -> list[dict[str, Any]]:
        return datasets.list_datasets(tenant=principal.tenant)

    @api.get("/datasets/{dataset_id}", tags=["data"], response_model=V.DatasetView)
    def show_dataset(dataset_id: str, principal: Principal = Depends(READ)) -> dict[str, Any]:
        return datasets.dataset_record(dataset_id, tenant=principal.tenant)


def _job_routes(api: APIRouter) -> None:
    @api.post("/jobs", status_code=202, tags=["jobs"], response_model=V.JobView)
    def submit_job(spec: jobs.FitSpec, principal: Principal = Depends(OPERATE)) -> dict[str, Any]:
        # Check data references now (and confine paths to ODLAR_DATA) so mistakes get a 4xx.
        for ref in filter(None, (spec.data, spec.eval)):
            datasets.resolve_source(ref, tenant=principal.tenant, confined=True)
        job = jobs.submit(spec, tenant=principal.tenant, created_by=principal.name)
        return job.to_dict()

    @api.get("/jobs", tags=["jobs"], response_model=list[V.JobView])
    def list_jobs(
        limit: int = Query(50, ge=1, le=1000), principal: Principal = Depends(READ)
    ) -> list[dict[str, Any]]:
        return [j.to_dict() for j in jobs.list_jobs(tenant=principal.tenant, limit=limit)]

    @api.get("/jobs/{job_id}", tags=["jobs"], response_model=V.JobView)
    def show_job(job_id: str, principal: Principal = Depends(READ)) -> dict[str, Any]:
        jobs.recover()
        return jobs.get(job_id, tenant=principal.tenant).to_dict()

    @api.get("/jobs/{job_id}/events", tags=["jobs"])
    async def follow_job(job_id: str, principal: Principal = Depends(READ)) -> StreamingResponse:
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

    @api.post("/jobs/{job_id}/cancel", tags=["jobs"], response_model=V.JobView)
    def cancel_job(job_id: str, principal: Principal = Depends(OPERATE)) -> dict:
        return jobs.cancel(job_id, tenant=principal.tenant).to_dict()

    @api.post("/jobs/{job_id}/retry", status_code=202, tags=["jobs"], response_model=V.JobView)
    def retry_job(job_id: str, principal: Principal = Depends(OPERATE)) -> dict:
        return jobs.retry(job_id, tenant=principal.tenant, created_by=principal.name).to_dict()


class DecisionBody(BaseModel):
    reason: str = Field(default="", max_length=4000)
    override: bool = Field(default=False, description="Approve although checks failed")




def _model_routes(api: APIRouter) -> None:
    def described(tenant: str, mv: tracking.ModelVersion) -> dict[str, Any]:
        return mv.to_dict() | {"state": approval.state(tenant, mv.task, mv.version)}

    @api.get("/models", tags=["models"], response_model=list[V.ModelVersionView])
    def list_models(
        task: str | None = None, principal: Principal = Depends(READ)
    ) -> list[dict[str, Any]]:
        if task:
            get_task(task)  # 404 for an unknown task
        return [
            v.to_dict() | {"state": state} for v, state in approval.versions(principal.tenant, task)
        ]

    @api.get("/models/{task}/{version}", tags=["models"], response_model=V.ModelVersionDetail)
    def show_model(
        task: str, version: VERSION, principal: Principal = Depends(READ)
    ) -> dict[str, Any]:
        get_task(task)
        mv = tracking.get_version(task, version, tenant=principal.tenant)
        return described(principal.tenant, mv) | {
            "decisions": approval.decisions(principal.tenant, task, version)
        }

    @api.get("/models/{task}/{version}/documentation", tags=["models"])
    def model_documentation(
        task: str,
        version: VERSION,
        format: str = Query("json", pattern="^(json|markdown|html)$"),
        principal: Principal = Depends(READ),
    ) -> Any:
        get_task(task)
        doc = documentation.build(task, version, tenant=principal.tenant)
        if format == "markdown":
            return PlainTextResponse(documentation.to_markdown(doc), media_type="text/markdown")
        if format == "html":
            return HTMLResponse(documentation.to_html(doc))
        return doc

    @api.post("/models/{task}/{version}/checks", tags=["models"], response_model=G.CheckReport)
    def run_checks(task: str, version: VERSION, principal: Principal = Depends(APPROVE)) -> dict:
        get_task(task)
        mv = tracking.get_version(task, version, tenant=principal.tenant)
        return checks.run(mv, actor=principal.name)

    @api.post(
        "/models/{task}/{version}/approve", tags=["models"], response_model=G.DecisionAnswer,
        response_model_exclude_unset=True,  # the answer as given: no added nulls
    )
    def approve_model(
        task: str,
        version: VERSION,
        body: DecisionBody | None = None,
        principal: Principal = Depends(APPROVE),
    ) -> dict[str, Any]:
        get_task(task)
        body = body or DecisionBody()
        try:
            return approval.approve(
                principal.tenant, task, version, actor=principal.name, reason=body.reason,
                override=body.override,
            )  # fmt: skip
        except approval.ChecksFailed as exc:
            raise Conflict(f"{exc.message} (send override: true with a reason)") from None

    @api.post(
        "/models/{task}/{version}/revoke", tags=["models"], response_model=G.DecisionAnswer,
        response_model_exclude_unset=True,  # the answer as given: no added nulls
    )
    def revoke_model(
        task: str, version: VERSION, body: DecisionBody, principal: Principal = Depends(APPROVE)
    ) -> dict[str, Any]:
        get_task(task)
        return approval.revoke(
            principal.tenant, task, version, actor=principal.name, reason=body.reason
        )


class AckBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


def _alert_routes(api: APIRouter) -> None:
    @api.get("/alerts", tags=["alerts"], response_model=list[V.AlertView])
    def list_alerts(
        state: str | None = Query(None, description="open or cleared"),
        stream: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
        principal: Principal = Depends(READ),
    ) -> list[dict[str, Any]]:
        return alerts.list_alerts(tenant=principal.tenant, state=state, stream=stream, limit=limit)

    @api.get("/incidents", tags=["alerts"], response_model=list[V.IncidentView])
    def list_incidents(
        state: str | None = Query(None, description="open or cleared"),
        stream: str | None = None,
        limit: int = Query(100, ge=1, le=1000),
        principal: Principal = Depends(READ),
    ) -> list[dict[str, Any]]:
        """Alerts grouped as the console shows them: one incident per stream and episode,
        open first, process before sensor-only, highest score first."""
        return alerts.list_incidents(
            tenant=principal.tenant, state=state, stream=stream, limit=limit
        )

    @api.get("/incidents/{alert_id}", tags=["alerts"], response_model=V.IncidentView)
    def show_incident(alert_id: str, principal: Principal = Depends(READ)) -> dict[str, Any]:
        """The incident this alert leads or belongs to."""
        return alerts.incident_of(alert_id, tenant=principal.tenant)

    @api.post("/incidents/{alert_id}/ack", tags=["alerts"], response_model=V.IncidentView)
    def acknowledge_incident(
        alert_id: str,
        body: AckBody | None = None,
        principal: Principal = Depends(OPERATE),
    ) -> dict[str, Any]:
        """Acknowledge every alert of the incident at once (409 if none is left)."""
        note = body.note if body else None
        return alerts.acknowledge_incident(
            alert_id, tenant=principal.tenant, by=principal.name, note=note
        )

    @api.get("/alerts/{alert_id}", tags=["alerts"], response_model=V.AlertView)
    def show_alert(alert_id: str, principal: Principal = Depends(READ)) -> dict[str, Any]:
        return alerts.get(alert_id, tenant=principal.tenant)

    @api.post("/alerts/{alert_id}/ack", tags=["alerts"], response_model=V.AlertView)
    def acknowledge_alert(
        alert_id: str,
        body: AckBody | None = None,
        principal: Principal = Depends(OPERATE),
    ) -> dict[str, Any]:
        note = body.note if body else None
        return alerts.acknowledge(alert_id, tenant=principal.tenant, by=principal.name, note=note)


class SignIn(BaseModel):
    tenant: str = Field(default=DEFAULT_TENANT, min_length=1, max_length=64)
    user: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1000)


class TenantIn(BaseModel):
    id: str = Field(min_length=2, max_length=63)
    name: str | None = Field(default=None, max_length=200)


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(description="viewer, operator, approver, auditor or admin")
    password: str | None = Field(default=None, min_length=12, max_length=1000)
    tenant: str | None = Field(
        default=None, max_length=64, description="Another tenant (platform admins only)"
    )


class TokenIn(BaseModel):
    user: str = Field(min_length=1, max_length=200)
    label: str | None = Field(default=None, max_length=200)
    days: int | None = Field(default=None, ge=1, le=3650, description="Expiry; none: never")


def _governance_routes(api: APIRouter) -> None:
    @api.post(
        "/sign-in", tags=["access"], summary="Password sign-in: a token for 12 hours",
        response_model=G.SignedIn,
    )
    def sign_in(body: SignIn, request: Request) -> dict[str, Any]:
        client = client_address(request)
        try:
            return accounts.sign_in(body.tenant, body.user, body.password, client=client)
        except OdlarError as exc:
            if exc.http_status == 401:
                FAILURES.add(client)
            raise

    @api.get("/me", tags=["access"], response_model=G.Me)
    def whoami(principal: Principal = Depends(READ)) -> dict[str, Any]:
        from odlar.governance.roles import ROLES

        return {
            "user": principal.name,
            "role": principal.role,
            "tenant": principal.tenant,
            "permissions": sorted(p.value for p in ROLES[principal.role]),
        }

    @api.get("/tenants", tags=["access"], response_model=list[G.TenantView])
    def list_tenants(principal: Principal = Depends(ADMIN)) -> list[dict[str, Any]]:
        rows = accounts.list_tenants()
        if principal.tenant != DEFAULT_TENANT:
            rows = [t for t in rows if t["id"] == principal.tenant]
        return rows

    @api.post(
        "/tenants", tags=["access"], status_code=201, response_model=G.TenantView,
        response_model_exclude_unset=True,  # the answer as given: no added nulls
    )
    def create_tenant(body: TenantIn, principal: Principal = Depends(ADMIN)) -> dict[str, Any]:
        if principal.tenant != DEFAULT_TENANT:
            raise Forbidden("only the platform's admins (tenant 'default') create tenants")
        return accounts.create_tenant(body.id, body.name, actor=principal.name)

    @api.get("/users", tags=["access"], response_model=list[G.UserView])
    def list_users(principal: Principal = Depends(ADMIN)) -> list[dict[str, Any]]:
        return accounts.list_users(principal.tenant)

    @api.post("/users", tags=["access"], status_code=201, response_model=G.UserView)
    def create_user(body: UserIn, principal: Principal = Depends(ADMIN)) -> dict[str, Any]:
        return accounts.create_user(
            body.name, body.role, tenant=acting_tenant(principal, body.tenant),
            actor=principal.name, password=body.password,
        )  # fmt: skip

    @api.get("/tokens", tags=["access"], response_model=list[G.TokenView])
    def list_tokens(principal: Principal = Depends(ADMIN)) -> list[dict[str, Any]]:
        return accounts.list_tokens(principal.tenant)

    @api.post("/tokens", tags=["access"], status_code=201, response_model=G.NewToken)
    def create_token(body: TokenIn, principal: Principal = Depends(ADMIN)) -> dict[str, Any]:
        token = accounts.create_token(
            body.user, tenant=principal.tenant, actor=principal.name, label=body.label,
            days=body.days,
        )  # fmt: skip
        return {"token": token, "user": body.user, "shown": "once: store it now"}

    @api.post("/tokens/{token_id}/revoke", tags=["access"], response_model=G.TokenRevoked)
    def revoke_token(token_id: str, principal: Principal = Depends(ADMIN)) -> dict[str, Any]:
        accounts.revoke_token(token_id, tenant=principal.tenant, actor=principal.name)
        return {"id": token_id, "revoked": True}

    @api.get("/audit/events", tags=["audit"], response_model=list[V.AuditEventView])
    def audit_events(
        action: str | None = Query(None, max_length=64),
        since: OPTIONAL_TIME = None,
        until: OPTIONAL_TIME = None,
        limit: int = Query(100, ge=1, le=10_000),
        principal: Principal = Depends(AUDIT),
    ) -> list[dict[str, Any]]:
        return audit.events(
            principal.tenant, action=action, since=since, until=until, limit=limit,
            newest_first=True,
        )  # fmt: skip

    @api.get("/audit/verify", tags=["audit"], response_model=V.VerificationView)
    def audit_verify(principal: Principal = Depends(AUDIT)) -> dict[str, Any]:
        return audit.verify(principal.tenant).to_dict()

    @api.get(
        "/audit/export", tags=["audit"], summary="The tenant's event log as JSON Lines",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/x-ndjson": {"schema": {"type": "string"}}}}},
    )  # fmt: skip
    def audit_export(
        since: OPTIONAL_TIME = None,
        until: OPTIONAL_TIME = None,
        principal: Principal = Depends(AUDIT),
    ) -> StreamingResponse:
        rows = audit.exported(principal.tenant, actor=principal.name, since=since, until=until)
        lines = (audit.canonical(r) + "\n" for r in rows)
        return StreamingResponse(lines, media_type="application/x-ndjson")

"""Shared compute over HTTP: capacity and queue, tenant quotas, usage accounting.

Quotas are set by the platform's admins (tenant 'default'): a tenant's own admins read
theirs but cannot raise them. Usage and the queue are for admins and auditors; the
platform's see every tenant, the others their own.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from odlar.core import quotas, usage
from odlar.core.compute import scheduler
from odlar.core.errors import Forbidden
from odlar.core.store import DEFAULT_TENANT
from odlar.governance.roles import Principal
from odlar.server.auth import ADMIN, AUDIT
from odlar.server.parameters import OPTIONAL_TIME

# included in the /api/v1 router: its error responses and query check apply here too
router = APIRouter(tags=["compute"])


# admins hold every permission, so the audit permission means admins and auditors
ADMIN_OR_AUDIT = Depends(AUDIT)


def scope(principal: Principal, tenant: str | None) -> str | None:
    """The tenant a reader may see: any (None: all) for the platform's, else their own."""
    if principal.tenant == DEFAULT_TENANT:
        return tenant
    if tenant not in (None, principal.tenant):
        raise Forbidden("only the platform's admins and auditors see other tenants")
    return principal.tenant


class QuotaIn(BaseModel):
    max_jobs: int | None = Field(default=None, ge=0, le=100_000, description="Concurrent jobs")
    max_cpus: float | None = Field(default=None, ge=0, le=1_000_000, description="CPUs held")
    max_gpus: float | None = Field(default=None, ge=0, le=100_000, description="GPUs held")


class QuotaOut(BaseModel):
    tenant: str
    max_jobs: int | None = Field(description="Concurrent jobs (null: no limit)")
    max_cpus: float | None = Field(description="CPUs held at once (null: no limit)")
    max_gpus: float | None = Field(description="GPUs held at once (null: no limit)")


class Node(BaseModel):
    node: str = Field(description="Host name (local) or Ray node id")
    cpus: float
    gpus: float
    head: bool
    ip: str | None = None
    memory_mb: int | None = None


class Size(BaseModel):
    cpus: float
    gpus: float


class Capacity(BaseModel):
    backend: str = Field(description="local or ray")
    nodes: list[Node]
    cpus: float = Field(description="CPUs odlar's jobs may hold together")
    gpus: float
    largest_node: Size | None = None
    limited: bool | None = Field(default=None, description="local: ODLAR_LOCAL_CPUS bounds it")
    address: str | None = Field(default=None, description="ray: the cluster's address")
    error: str | None = Field(default=None, description="Why the backend could not be read")


class TenantLoad(BaseModel):
    running: int = Field(description="Jobs running or starting")
    queued: int
    cpus: float = Field(description="CPUs its running jobs hold")
    gpus: float


class Waiting(BaseModel):
    id: str
    tenant: str
    task: str
    backend: str
    cpus: float
    gpus: float
    created_at: str
    message: str | None = Field(description="What the job waits for")


class ComputeOverview(BaseModel):
    capacity: Capacity
    tenants: dict[str, TenantLoad]
    queued: list[Waiting] = Field(description="Waiting jobs, oldest first")
    quotas: dict[str, QuotaOut]


class UsageRow(BaseModel):
    tenant: str
    task: str
    jobs: int
    states: dict[str, int] = Field(description="Jobs per final or current state")
    backends: dict[str, int]
    wall_seconds: float
    cpu_seconds: float
    gpu_seconds: float = Field(description="Time held x GPUs asked")
    peak_memory_mb: float | None = Field(description="The largest peak of its jobs")


class UsageTotals(BaseModel):
    jobs: float
    wall_seconds: float
    cpu_seconds: float
    gpu_seconds: float


class UsageReport(BaseModel):
    since: str | None
    until: str | None
    rows: list[UsageRow] = Field(description="Per tenant and task")
    tenants: dict[str, UsageTotals] = Field(description="Totals per tenant")


@router.get("/compute", summary="Capacity of the backend; running and queued jobs per tenant")
def compute_overview(
    tenant: str | None = Query(None, max_length=64), principal: Principal = ADMIN_OR_AUDIT
) -> ComputeOverview:
    return ComputeOverview.model_validate(scheduler.overview(scope(principal, tenant)))


@router.get("/usage", summary="What each tenant's jobs used, per task")
def usage_report(
    tenant: str | None = Query(None, max_length=64),
    since: OPTIONAL_TIME = None,
    until: OPTIONAL_TIME = None,
    principal: Principal = ADMIN_OR_AUDIT,
) -> UsageReport:
    from odlar.core.store import as_utc

    report = usage.report(tenant=scope(principal, tenant), since=as_utc(since), until=as_utc(until))
    return UsageReport.model_validate(report)


@router.get("/quotas", summary="Tenant quotas (no entry: no limit)")
def list_quotas(principal: Principal = Depends(ADMIN)) -> list[QuotaOut]:
    rows = quotas.all_quotas()
    if principal.tenant != DEFAULT_TENANT:
        return [QuotaOut(**quotas.get(principal.tenant).to_dict())]
    return [QuotaOut(**q.to_dict()) for q in rows.values()]


@router.get("/quotas/{tenant}")
def show_quota(tenant: str, principal: Principal = Depends(ADMIN)) -> QuotaOut:
    return QuotaOut(**quotas.get(scope(principal, tenant) or tenant).to_dict())


@router.put("/quotas/{tenant}", summary="Set a tenant's limits (platform admins)")
def set_quota(tenant: str, body: QuotaIn, principal: Principal = Depends(ADMIN)) -> QuotaOut:
    if principal.tenant != DEFAULT_TENANT:
        raise Forbidden("only the platform's admins (tenant 'default') set quotas")
    return QuotaOut(**quotas.set_quota(
        tenant, max_jobs=body.max_jobs, max_cpus=body.max_cpus, max_gpus=body.max_gpus,
        actor=principal.name,
    ).to_dict())  # fmt: skip


async def scheduling_loop(interval: float = 2.0) -> None:
    """The server's part of the queue: reconcile active jobs (local processes, Ray jobs)
    and start queued ones, every few seconds, for as long as the server runs."""
    import asyncio
    import logging

    from odlar.core import jobs

    while True:
        await asyncio.sleep(interval)
        try:
            await asyncio.to_thread(jobs.recover)
        except Exception:  # a store or cluster hiccup: the next pass tries again
            logging.getLogger("odlar.compute").exception("scheduling pass failed")

"""Shared compute over HTTP: capacity and queue, tenant quotas, usage accounting.

Quotas are set by the platform's admins (tenant 'default'): a tenant's own admins read
theirs but cannot raise them. Usage and the queue are for admins and auditors; the
platform's see every tenant, the others their own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from odlar.core import quotas, usage
from odlar.core.compute import scheduler
from odlar.core.errors import Forbidden
from odlar.core.store import DEFAULT_TENANT
from odlar.governance.roles import Principal
from odlar.server.auth import ADMIN, AUDIT

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


@router.get("/compute", summary="Capacity of the backend; running and queued jobs per tenant")
def compute_overview(
    tenant: str | None = Query(None, max_length=64), principal: Principal = ADMIN_OR_AUDIT
) -> dict[str, Any]:
    return scheduler.overview(scope(principal, tenant))


@router.get("/usage", summary="What each tenant's jobs used, per task")
def usage_report(
    tenant: str | None = Query(None, max_length=64),
    since: datetime | None = None,
    until: datetime | None = None,
    principal: Principal = ADMIN_OR_AUDIT,
) -> dict[str, Any]:
    from odlar.core.store import as_utc

    return usage.report(tenant=scope(principal, tenant), since=as_utc(since), until=as_utc(until))


@router.get("/quotas", summary="Tenant quotas (no entry: no limit)")
def list_quotas(principal: Principal = Depends(ADMIN)) -> list[dict[str, Any]]:
    rows = quotas.all_quotas()
    if principal.tenant != DEFAULT_TENANT:
        return [quotas.get(principal.tenant).to_dict()]
    return [q.to_dict() for q in rows.values()]


@router.get("/quotas/{tenant}")
def show_quota(tenant: str, principal: Principal = Depends(ADMIN)) -> dict[str, Any]:
    return quotas.get(scope(principal, tenant) or tenant).to_dict()


@router.put("/quotas/{tenant}", summary="Set a tenant's limits (platform admins)")
def set_quota(tenant: str, body: QuotaIn, principal: Principal = Depends(ADMIN)) -> dict:
    if principal.tenant != DEFAULT_TENANT:
        raise Forbidden("only the platform's admins (tenant 'default') set quotas")
    return quotas.set_quota(
        tenant, max_jobs=body.max_jobs, max_cpus=body.max_cpus, max_gpus=body.max_gpus,
        actor=principal.name,
    ).to_dict()  # fmt: skip


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

"""Per-tenant limits on what jobs may hold at once: concurrent jobs, CPUs, GPUs.

Set by the platform's admins (CLI `odlar quotas`, API `/api/v1/quotas`); enforced by the
scheduler (`core/compute/scheduler.py`) for local and Ray jobs alike. No row, or a None
limit, means no limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from odlar.core.errors import NotFound, UsageError
from odlar.core.store import Tenant, TenantQuota, session_scope, utcnow


@dataclass(frozen=True)
class Quota:
    tenant: str
    max_jobs: int | None = None
    max_cpus: float | None = None
    max_gpus: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def get(tenant: str) -> Quota:
    with session_scope() as s:
        row = s.get(TenantQuota, tenant)
        return _of(row) if row else Quota(tenant)


def all_quotas() -> dict[str, Quota]:
    with session_scope() as s:
        return {r.tenant: _of(r) for r in s.scalars(select(TenantQuota))}


def set_quota(
    tenant: str,
    *,
    max_jobs: int | None,
    max_cpus: float | None,
    max_gpus: float | None,
    actor: str,
) -> Quota:
    """Replace a tenant's limits (None: no limit) and start any job the change lets through."""
    for name, value in (("max_jobs", max_jobs), ("max_cpus", max_cpus), ("max_gpus", max_gpus)):
        if value is not None and value < 0:
            raise UsageError(f"quota {name} must be 0 or more, not {value}")
    with session_scope() as s:
        if s.get(Tenant, tenant) is None and tenant != "default":
            raise NotFound(f"no tenant '{tenant}'")
        row = s.get(TenantQuota, tenant) or TenantQuota(tenant=tenant)
        row.max_jobs, row.max_cpus, row.max_gpus = max_jobs, max_cpus, max_gpus
        row.updated_by, row.updated_at = actor, utcnow()
        s.add(row)
        quota = _of(row)
    from odlar.core import audit

    audit.record(tenant=tenant, actor=actor, action="quota_set", target=tenant,
                 output=quota.to_dict())  # fmt: skip
    from odlar.core.compute import scheduler

    scheduler.dispatch()
    return quota


def _of(row: TenantQuota) -> Quota:
    return Quota(row.tenant, row.max_jobs, row.max_cpus, row.max_gpus)

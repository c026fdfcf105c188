"""Human approval of model versions. A version serves only after an approver approves it;
a revocation stops it at once (the serving path reads the newest decision on every call).
Approval runs the automatic checks first: a failing check blocks it unless the approver
overrides with a recorded reason."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from odlar.core import audit
from odlar.core.config import get_settings
from odlar.core.errors import Conflict, UsageError
from odlar.core.store import ModelDecision, as_utc, get_engine, session_scope

if TYPE_CHECKING:
    from odlar.core.tracking import ModelVersion

_DECISIONS = ModelDecision.__table__
# the serving path's reads, built once with bound parameters (no per-call construction)
_c = _DECISIONS.c
_STATE = (
    select(_c.decision)
    .where(_c.tenant == bindparam("tenant"), _c.task == bindparam("task"),
           _c.version == bindparam("version"))
    .order_by(_c.id.desc())
    .limit(1)
)  # fmt: skip
_STATES = (
    select(_c.version, _c.decision)
    .where(_c.tenant == bindparam("tenant"), _c.task == bindparam("task"))
    .order_by(_c.id)
)


def state(tenant: str, task: str, version: int) -> str:
    """approved, revoked or pending (never decided). Core, not the ORM: the serving path
    reads it on every call."""
    with get_engine(get_settings().db_url).connect() as conn:
        decision = conn.execute(
            _STATE, {"tenant": tenant, "task": task, "version": version}
        ).scalar()
    return decision or "pending"


def states(tenant: str, task: str) -> dict[int, str]:
    """Every decided version of a task and its current state (read on every request that
    names no version: Core, not the ORM)."""
    with get_engine(get_settings().db_url).connect() as conn:
        rows = conn.execute(_STATES, {"tenant": tenant, "task": task}).all()
    return {int(v): d for v, d in rows}


def versions(tenant: str, task: str | None = None) -> list[tuple[ModelVersion, str]]:
    """The tenant's model versions (of one task, or of all) with their approval state:
    the one listing the CLI, the API and the console show."""
    from odlar.core import tracking

    decided: dict[str, dict[int, str]] = {}
    out = []
    for v in tracking.list_versions(task, tenant=tenant):
        if v.task not in decided:
            decided[v.task] = states(tenant, v.task)
        out.append((v, decided[v.task].get(v.version, "pending")))
    return out


def decisions(tenant: str, task: str, version: int) -> list[dict[str, Any]]:
    with session_scope() as s:
        rows = s.scalars(
            select(ModelDecision)
            .where(
                ModelDecision.tenant == tenant,
                ModelDecision.task == task,
                ModelDecision.version == version,
            )
            .order_by(ModelDecision.id)
        )
        return [
            {
                "decision": d.decision,
                "actor": d.actor,
                "reason": d.reason,
                "overridden": d.overridden,
                "checks": d.checks,
                "at": as_utc(d.at).isoformat(),
            }
            for d in rows
        ]


class ChecksFailed(Conflict):
    """Approval refused because automatic checks failed; each surface adds how to override
    there (a CLI flag, a console checkbox, a request field)."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(
            f"checks failed: {', '.join(failed)}. Approval is blocked; an approver may "
            "approve anyway, overriding the checks with a recorded reason"
        )
        self.failed = failed


def approve(
    tenant: str, task: str, version: int, *, actor: str, reason: str = "", override: bool = False
) -> dict[str, Any]:
    """Run the checks and approve; a failed check needs ``override`` and a reason."""
    from odlar.core import tracking
    from odlar.governance import checks

    mv = tracking.get_version(task, version, tenant=tenant)  # 404 for a version that isn't
    current = state(tenant, task, version)
    if current == "approved":
        raise Conflict(f"model version {version} of {task} is approved already")
    report = checks.run(mv, actor=actor)
    failed = [c["name"] for c in report["checks"] if not c["passed"]]
    if failed and not override:
        raise ChecksFailed(failed)
    if failed and not reason.strip():
        raise UsageError("overriding failed checks needs a reason")
    with session_scope() as s:
        s.add(
            ModelDecision(
                tenant=tenant, task=task, version=version, decision="approved", actor=actor,
                reason=reason.strip(), overridden=bool(failed), checks=report,
            )
        )  # fmt: skip
    audit.record(
        tenant=tenant, actor=actor, action="model_approve", target=task,
        model_version=f"{task}/{version}",
        output={"reason": reason.strip(), "overridden": failed, "checks_passed": not failed},
    )  # fmt: skip
    return {"task": task, "version": version, "state": "approved", "checks": report}


def revoke(tenant: str, task: str, version: int, *, actor: str, reason: str) -> dict[str, Any]:
    from odlar.core import tracking

    tracking.get_version(task, version, tenant=tenant)
    if not reason.strip():
        raise UsageError("a revocation needs a reason (--reason)")
    if state(tenant, task, version) != "approved":
        raise Conflict(f"model version {version} of {task} is not approved: nothing to revoke")
    with session_scope() as s:
        s.add(
            ModelDecision(
                tenant=tenant, task=task, version=version, decision="revoked", actor=actor,
                reason=reason.strip(), overridden=False, checks={},
            )
        )  # fmt: skip
    audit.record(
        tenant=tenant, actor=actor, action="model_revoke", target=task,
        model_version=f"{task}/{version}", output={"reason": reason.strip()},
    )  # fmt: skip
    return {"task": task, "version": version, "state": "revoked"}

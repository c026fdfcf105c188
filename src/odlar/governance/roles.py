"""Roles and what each may do. Every API route and CLI command names one permission."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from odlar.core.errors import Forbidden


class Permission(StrEnum):
    READ = "read"  # tasks, datasets, jobs, models and their documentation, alerts, reports
    OPERATE = "operate"  # load data, train, predict, monitor, record answers, acknowledge
    APPROVE = "approve"  # run checks, approve and revoke model versions
    AUDIT = "audit"  # read, verify and export the event log
    ADMIN = "admin"  # tenants, users, tokens, retention


P = Permission
ROLES: dict[str, frozenset[Permission]] = {
    "viewer": frozenset({P.READ}),
    "operator": frozenset({P.READ, P.OPERATE}),
    "approver": frozenset({P.READ, P.APPROVE}),
    "auditor": frozenset({P.READ, P.AUDIT}),
    "admin": frozenset(P),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting: a user of one tenant with one role."""

    name: str
    role: str
    tenant: str
    user_id: str | None = None
    token_id: str | None = None


def can(role: str, permission: Permission) -> bool:
    return permission in ROLES.get(role, frozenset())


def check(principal: Principal, permission: Permission) -> Principal:
    if not can(principal.role, permission):
        allowed = ", ".join(r for r, perms in ROLES.items() if permission in perms)
        raise Forbidden(
            f"role '{principal.role}' may not {permission.value} (roles that may: {allowed})"
        )
    return principal


def valid_role(role: str) -> str:
    from odlar.core.errors import UsageError

    if role not in ROLES:
        raise UsageError(f"unknown role '{role}' (roles: {', '.join(ROLES)})")
    return role


def acting_tenant(principal: Principal, tenant: str | None) -> str:
    """The tenant an admin action applies to: their own, or (for the platform's admins, of
    tenant 'default') any tenant they name."""
    from odlar.core.store import DEFAULT_TENANT

    if tenant is None or tenant == principal.tenant:
        return principal.tenant
    if principal.tenant != DEFAULT_TENANT:
        raise Forbidden("only the platform's admins (tenant 'default') act in other tenants")
    return tenant

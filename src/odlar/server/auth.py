"""Bearer-token authentication. Tokens are random; only their SHA-256 is stored.

Every token carries a role and a tenant; today every route needs any valid token, and
issue 6 (governance) narrows routes by role and tenant.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import func, select

from odlar.core.errors import NotFound, Unauthorized
from odlar.core.store import DEFAULT_TENANT, ApiToken, as_utc, session_scope, utcnow

TOKEN_PREFIX = "odl_"


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str
    tenant: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(name: str, *, role: str = "admin", tenant: str = DEFAULT_TENANT) -> str:
    """Create a token and return it: the only time the secret is ever visible."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with session_scope() as s:
        s.add(
            ApiToken(
                name=name, token_hash=_hash(token), prefix=token[:10], role=role, tenant=tenant
            )
        )
    return token


def ensure_admin_token() -> str | None:
    """On the very first start, create the admin token; later starts create nothing."""
    with session_scope() as s:
        if s.scalar(select(func.count()).select_from(ApiToken)):
            return None
    return create_token("admin", role="admin")


def list_tokens() -> list[dict[str, Any]]:
    with session_scope() as s:
        return [
            {
                "id": t.id,
                "name": t.name,
                "prefix": t.prefix,
                "role": t.role,
                "tenant": t.tenant,
                "created_at": as_utc(t.created_at).isoformat(),
                "last_used_at": as_utc(t.last_used_at).isoformat() if t.last_used_at else None,
                "revoked": t.revoked_at is not None,
            }
            for t in s.scalars(select(ApiToken).order_by(ApiToken.created_at))
        ]


def revoke_token(token_id: str) -> None:
    with session_scope() as s:
        t = s.get(ApiToken, token_id)
        if t is None:
            raise NotFound(f"no token '{token_id}'")
        t.revoked_at = t.revoked_at or utcnow()


def authenticate(token: str) -> Principal:
    with session_scope() as s:
        t = s.scalar(select(ApiToken).where(ApiToken.token_hash == _hash(token)))
        if t is None or t.revoked_at is not None:
            raise Unauthorized("invalid or revoked token")
        now = utcnow()
        last = as_utc(t.last_used_at)
        if last is None or (now - last).total_seconds() > 60:  # avoid a write per request
            t.last_used_at = now
        return Principal(t.id, t.name, t.role, t.tenant)


_bearer = HTTPBearer(auto_error=False, description="API token printed by the first `odlar serve`")


def current_principal(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    return authenticate(creds.credentials)

"""Tenants, users, passwords and API tokens. Secrets are stored only as hashes (tokens:
SHA-256 of 256 random bits; passwords: scrypt), never logged; repeated failed sign-ins lock
a user out for a while, and every failure is an event-log record."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update

from odlar.core import audit
from odlar.core.config import get_settings
from odlar.core.errors import Conflict, NotFound, TooManyRequests, Unauthorized, UsageError
from odlar.core.store import (
    DEFAULT_TENANT,
    ApiToken,
    Tenant,
    User,
    as_utc,
    get_engine,
    session_scope,
    utcnow,
)
from odlar.governance.roles import Principal, valid_role

TOKEN_PREFIX = "odl_"
SIGN_IN_HOURS = 12  # lifetime of a token issued by password sign-in
TENANT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MIN_PASSWORD = 12


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${dk.hex()}"


def _password_ok(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    _, n, r, p, salt, dk = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(got, bytes.fromhex(dk))


# ---------------------------------------------------------------------------------------
# tenants and users
# ---------------------------------------------------------------------------------------


def create_tenant(tenant_id: str, name: str | None = None, *, actor: str) -> dict[str, Any]:
    if not TENANT_ID.match(tenant_id):
        raise UsageError(
            f"tenant id '{tenant_id}': use 2-63 lower-case letters, digits and '-', "
            "starting with a letter or digit"
        )
    with session_scope() as s:
        if s.get(Tenant, tenant_id) is not None:
            raise Conflict(f"tenant '{tenant_id}' exists already")
        s.add(Tenant(id=tenant_id, name=name or tenant_id))
    audit.record(tenant=tenant_id, actor=actor, action="tenant_create", target=tenant_id)
    return {"id": tenant_id, "name": name or tenant_id}


def ensure_tenant(tenant_id: str) -> None:
    with session_scope() as s:
        if s.get(Tenant, tenant_id) is None:
            s.add(Tenant(id=tenant_id, name=tenant_id))


def list_tenants() -> list[dict[str, Any]]:
    with session_scope() as s:
        return [
            {"id": t.id, "name": t.name, "created_at": as_utc(t.created_at).isoformat()}
            for t in s.scalars(select(Tenant).order_by(Tenant.id))
        ]


def _tenant_exists(s: Any, tenant: str) -> None:
    if s.get(Tenant, tenant) is None:
        raise NotFound(f"no tenant '{tenant}' (create it: odlar tenants create {tenant})")


def create_user(
    name: str, role: str, *, tenant: str, actor: str, password: str | None = None
) -> dict[str, Any]:
    valid_role(role)
    if not name or len(name) > 200:
        raise UsageError("a user needs a name of 1 to 200 characters")
    if password is not None and len(password) < MIN_PASSWORD:
        raise UsageError(f"a password needs at least {MIN_PASSWORD} characters")
    with session_scope() as s:
        _tenant_exists(s, tenant)
        if s.scalar(select(User).where(User.tenant == tenant, User.name == name)):
            raise Conflict(f"user '{name}' exists already in tenant '{tenant}'")
        user = User(
            tenant=tenant,
            name=name,
            role=role,
            password_hash=hash_password(password) if password else None,
        )
        s.add(user)
        s.flush()
        out = _user_dict(user)
    audit.record(
        tenant=tenant, actor=actor, action="user_create", target=name, output={"role": role}
    )
    return out


def _user_dict(u: User) -> dict[str, Any]:
    return {
        "id": u.id,
        "tenant": u.tenant,
        "name": u.name,
        "role": u.role,
        "password": u.password_hash is not None,
        "locked_until": as_utc(u.locked_until).isoformat() if u.locked_until else None,
        "disabled": u.disabled_at is not None,
        "created_at": as_utc(u.created_at).isoformat(),
    }


def list_users(tenant: str) -> list[dict[str, Any]]:
    with session_scope() as s:
        users = s.scalars(select(User).where(User.tenant == tenant).order_by(User.name))
        return [_user_dict(u) for u in users]


def _user(s: Any, tenant: str, name: str) -> User:
    user = s.scalar(select(User).where(User.tenant == tenant, User.name == name))
    if user is None:
        raise NotFound(f"no user '{name}' in tenant '{tenant}'")
    return user


def set_role(name: str, role: str, *, tenant: str, actor: str) -> dict[str, Any]:
    valid_role(role)
    with session_scope() as s:
        user = _user(s, tenant, name)
        old, user.role = user.role, role
        for t in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
            t.role = role
        out = _user_dict(user)
    audit.record(
        tenant=tenant, actor=actor, action="user_role", target=name,
        output={"from": old, "to": role},
    )  # fmt: skip
    return out


def set_password(name: str, password: str, *, tenant: str, actor: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"a password needs at least {MIN_PASSWORD} characters")
    with session_scope() as s:
        user = _user(s, tenant, name)
        user.password_hash = hash_password(password)
        user.failed_sign_ins, user.locked_until = 0, None
    audit.record(tenant=tenant, actor=actor, action="user_password", target=name)


def disable_user(name: str, *, tenant: str, actor: str) -> None:
    """Disable a user and revoke every token of theirs at once."""
    now = utcnow()
    with session_scope() as s:
        user = _user(s, tenant, name)
        user.disabled_at = user.disabled_at or now
        for t in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
            t.revoked_at = t.revoked_at or now
    audit.record(tenant=tenant, actor=actor, action="user_disable", target=name)


# ---------------------------------------------------------------------------------------
# tokens
# ---------------------------------------------------------------------------------------


def _issue(s: Any, user: User, label: str, expires: datetime | None) -> tuple[str, ApiToken]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=label,
        token_hash=_token_hash(token),
        prefix=token[:8],
        role=user.role,
        tenant=user.tenant,
        user_id=user.id,
        expires_at=expires,
    )
    s.add(row)
    s.flush()
    return token, row


def create_token(
    user: str, *, tenant: str = DEFAULT_TENANT, actor: str, label: str | None = None,
    days: int | None = None,
) -> str:  # fmt: skip
    """A new API token for a user, returned once: only its hash is stored."""
    with session_scope() as s:
        u = _user(s, tenant, user)
        if u.disabled_at is not None:
            raise Conflict(f"user '{user}' is disabled")
        expires = utcnow() + timedelta(days=days) if days else None
        token, row = _issue(s, u, label or user, expires)
        token_id = row.id
    audit.record(
        tenant=tenant, actor=actor, action="token_create", target=user,
        output={"token_id": token_id},
    )  # fmt: skip
    return token


def ensure_admin() -> str | None:
    """On the very first start, create tenant 'default', user 'admin' and its token; later
    starts create nothing."""
    with session_scope() as s:
        if s.scalar(select(User).limit(1)) is not None:
            return None
        if s.get(Tenant, DEFAULT_TENANT) is None:
            s.add(Tenant(id=DEFAULT_TENANT, name=DEFAULT_TENANT))
        user = User(tenant=DEFAULT_TENANT, name="admin", role="admin")
        s.add(user)
        s.flush()
        token, _ = _issue(s, user, "admin", None)
    audit.record(tenant=DEFAULT_TENANT, actor="odlar", action="user_create", target="admin")
    return token


def list_tokens(tenant: str) -> list[dict[str, Any]]:
    with session_scope() as s:
        rows = s.execute(
            select(ApiToken, User.name)
            .join(User, User.id == ApiToken.user_id, isouter=True)
            .where(ApiToken.tenant == tenant)
            .order_by(ApiToken.created_at)
        )
        return [
            {
                "id": t.id,
                "label": t.name,
                "user": user or t.name,
                "prefix": t.prefix,
                "role": t.role,
                "tenant": t.tenant,
                "created_at": as_utc(t.created_at).isoformat(),
                "last_used_at": as_utc(t.last_used_at).isoformat() if t.last_used_at else None,
                "expires_at": as_utc(t.expires_at).isoformat() if t.expires_at else None,
                "revoked": t.revoked_at is not None,
            }
            for t, user in rows
        ]


def revoke_token(token_id: str, *, tenant: str, actor: str) -> None:
    with session_scope() as s:
        t = s.get(ApiToken, token_id)
        if t is None or t.tenant != tenant:
            raise NotFound(f"no token '{token_id}'")
        t.revoked_at = t.revoked_at or utcnow()
    audit.record(tenant=tenant, actor=actor, action="token_revoke", target=token_id)


_TOKENS = ApiToken.__table__
_USERS = User.__table__
# every request's token lookup, built once with a bound parameter
_BY_HASH = (
    select(
        _TOKENS.c.id, _TOKENS.c.name, _TOKENS.c.role, _TOKENS.c.tenant, _TOKENS.c.user_id,
        _TOKENS.c.revoked_at, _TOKENS.c.expires_at, _TOKENS.c.last_used_at, _USERS.c.name,
    )
    .select_from(_TOKENS.outerjoin(_USERS, _USERS.c.id == _TOKENS.c.user_id))
    .where(_TOKENS.c.token_hash == bindparam("h"))
)  # fmt: skip


def authenticate(token: str) -> Principal:
    """The principal of a bearer token; Unauthorized for an unknown, revoked or expired one.
    Core statements, not the ORM: this runs on every request."""
    now = utcnow()
    with get_engine(get_settings().db_url).connect() as conn:
        row = conn.execute(_BY_HASH, {"h": _token_hash(token)}).first()
        if row is None or row.revoked_at is not None:
            raise Unauthorized("invalid or revoked token")
        if row.expires_at is not None and as_utc(row.expires_at) <= now:
            raise Unauthorized("token expired: sign in again")
        last = as_utc(row.last_used_at)
        if last is None or (now - last).total_seconds() > 60:  # a write at most once a minute
            conn.execute(update(_TOKENS).where(_TOKENS.c.id == row.id).values(last_used_at=now))
            conn.commit()
    return Principal(
        name=row[8] or row.name, role=row.role, tenant=row.tenant, user_id=row.user_id,
        token_id=row.id,
    )  # fmt: skip


def sign_in(tenant: str, name: str, password: str, *, client: str = "") -> dict[str, Any]:
    """Password sign-in: a token valid for SIGN_IN_HOURS. Failures count per user; after
    ``max_failed_sign_ins`` in a row the user is locked out for ``lockout_minutes``."""
    settings = get_settings()
    now = utcnow()
    failure: str | None = None
    with session_scope() as s:
        user = s.scalar(select(User).where(User.tenant == tenant, User.name == name))
        if user is not None and user.locked_until and as_utc(user.locked_until) > now:
            wait = int((as_utc(user.locked_until) - now).total_seconds()) + 1
            failure = "locked"
        elif user is None or user.disabled_at is not None:
            _password_ok(password, hash_password("x" * MIN_PASSWORD))  # same time either way
            failure = "unknown user"
        elif not _password_ok(password, user.password_hash):
            user.failed_sign_ins += 1
            failure = "wrong password"
            if user.failed_sign_ins >= settings.max_failed_sign_ins:
                user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
                user.failed_sign_ins = 0
                failure = "wrong password; locked out"
        else:
            user.failed_sign_ins, user.locked_until = 0, None
            token, row = _issue(s, user, "sign-in", now + timedelta(hours=SIGN_IN_HOURS))
            out = {
                "token": token,
                "user": user.name,
                "role": user.role,
                "tenant": user.tenant,
                "expires_at": as_utc(row.expires_at).isoformat(),
            }
    if failure is None:
        audit.record(tenant=tenant, actor=name, action="sign_in", output={"client": client})
        return out
    known = _known_tenant(tenant)
    audit.record(
        tenant=tenant if known else DEFAULT_TENANT,
        actor=name[:200],
        action="sign_in_failed",
        output={"reason": failure, "client": client, "tenant": tenant[:64]},
    )
    if failure == "locked":
        raise TooManyRequests(f"too many failed sign-ins: try again in {wait} s", retry_after=wait)
    raise Unauthorized("wrong tenant, user or password")


def _known_tenant(tenant: str) -> bool:
    with session_scope() as s:
        return s.get(Tenant, tenant) is not None


def cli_principal() -> Principal:
    """Who runs a CLI command: the user of ``ODLAR_TOKEN`` when it is set; otherwise the
    owner of this installation's files (who can read its database anyway), as admin of the
    default tenant."""
    import getpass
    import os

    token = os.environ.get("ODLAR_TOKEN")
    if token:
        return authenticate(token)
    return Principal(name=f"local:{getpass.getuser()}", role="admin", tenant=DEFAULT_TENANT)

"""Authentication and authorisation of API requests.

Every route depends on ``allow(permission)``: it authenticates the bearer token, checks the
role's permission (403 otherwise) and hands the principal to the route, whose tenant scopes
everything the route touches.

Bad tokens are counted per client address and per token prefix: after 20 in a minute,
further bad tokens from that address (or with that prefix) get 429 with Retry-After instead
of 401, and are no longer written to the event log one by one (a flood cannot flood the
log). A valid token always authenticates, whatever else came from its address: tokens are
256 random bits, so the throttle is against noise and load, and must not let one client
lock every tenant out. The client address is the connection's peer; ``X-Forwarded-For`` is
believed only from the proxies in ``ODLAR_TRUSTED_PROXIES`` (see ``proxy_middleware``).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from odlar.core import audit
from odlar.core.errors import TooManyRequests, Unauthorized, UsageError
from odlar.core.store import DEFAULT_TENANT
from odlar.governance.accounts import authenticate
from odlar.governance.roles import Permission, Principal, check

BAD_TOKENS_PER_MINUTE = 20
MAX_TRACKED = 100_000  # keys the failure window holds before it drops expired ones

_bearer = HTTPBearer(
    auto_error=False,
    description="API token: printed by the first `odlar serve`, made by `odlar tokens create`, "
    "or returned by POST /api/v1/sign-in",
)


class _FailureWindow:
    """Failed authentications over the last minute, per key (a client address, a token
    prefix)."""

    def __init__(self, limit: int, seconds: float = 60.0) -> None:
        self.limit, self.seconds = limit, seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(client: str, token: str | None) -> list[str]:
        return [f"addr:{client}"] + ([f"token:{token[:8]}"] if token else [])

    def blocked_for(self, client: str, token: str | None = None) -> int:
        """Seconds until a failure from `client` (with `token`) is answered 401 again."""
        now = time.monotonic()
        wait = 0
        with self._lock:
            for key in self._keys(client, token):
                hits = self._hits.get(key)
                while hits and now - hits[0] > self.seconds:
                    hits.popleft()
                if hits and len(hits) >= self.limit:
                    wait = max(wait, int(self.seconds - (now - hits[0])) + 1)
        return wait

    def add(self, client: str, token: str | None = None) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._hits) >= MAX_TRACKED:  # many keys: forget the expired ones
                self._hits = {
                    k: h for k, h in self._hits.items() if h and now - h[-1] <= self.seconds
                }
            for key in self._keys(client, token):
                hits = self._hits.setdefault(key, deque())
                hits.append(now)
                while len(hits) > self.limit:  # older hits cannot matter any more
                    hits.popleft()

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


FAILURES = _FailureWindow(BAD_TOKENS_PER_MINUTE)


def trusted_proxies(value: str) -> list[str]:
    """The addresses and networks of ``ODLAR_TRUSTED_PROXIES`` (comma separated); a clear
    error for anything that is neither."""
    out = []
    for item in filter(None, (v.strip() for v in value.split(","))):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise UsageError(
                f"ODLAR_TRUSTED_PROXIES: '{item}' is not an IP address or network"
            ) from None
        out.append(item)
    return out


def proxy_middleware(value: str) -> tuple[type, dict[str, Any]] | None:
    """uvicorn's proxy-headers middleware, trusting only the configured proxies; None when
    there are none (the default: X-Forwarded-For is never believed)."""
    proxies = trusted_proxies(value)
    if not proxies:
        return None
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    return ProxyHeadersMiddleware, {"trusted_hosts": proxies}


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_principal(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    # async on purpose: a sync dependency costs a thread-pool hop per request (milliseconds);
    # the lookup below is one indexed read of a fraction of a millisecond
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    token = creds.credentials
    try:
        principal = authenticate(token)
    except Unauthorized as exc:
        client = client_address(request)
        wait = FAILURES.blocked_for(client, token)
        if wait:
            raise TooManyRequests(f"too many failed authentications: wait {wait} s", wait) from None
        FAILURES.add(client, token)
        # never the token itself, nor any part of it
        audit.record(
            tenant=DEFAULT_TENANT, actor="anonymous", action="sign_in_failed",
            target=f"{request.method} {request.url.path}"[:300],
            output={"reason": exc.message, "client": client},
        )  # fmt: skip
        raise
    request.state.principal = principal
    return principal


def allow(permission: Permission) -> Callable[..., Principal]:
    """A route dependency: the authenticated principal, if its role has ``permission``."""

    async def dependency(principal: Principal = Depends(current_principal)) -> Principal:
        return check(principal, permission)

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the route audit
    dependency.__name__ = f"allow_{permission.value}"
    return dependency


# one dependency object per permission, so FastAPI resolves each once per request
READ, OPERATE, APPROVE, AUDIT, ADMIN = (allow(p) for p in Permission)

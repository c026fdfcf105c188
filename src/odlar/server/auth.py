"""Authentication and authorisation of API requests.

Every route depends on ``allow(permission)``: it authenticates the bearer token, checks the
role's permission (403 otherwise) and hands the principal to the route, whose tenant scopes
everything the route touches. Bad tokens are counted per client address: too many in a
minute and the address gets 429 for a while; each one is an event-log record.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from odlar.core import audit
from odlar.core.errors import TooManyRequests, Unauthorized
from odlar.core.store import DEFAULT_TENANT
from odlar.governance.accounts import authenticate
from odlar.governance.roles import Permission, Principal, check

BAD_TOKENS_PER_MINUTE = 20

_bearer = HTTPBearer(
    auto_error=False,
    description="API token: printed by the first `odlar serve`, made by `odlar tokens create`, "
    "or returned by POST /api/v1/sign-in",
)


class _FailureWindow:
    """Failed authentications per client address over the last minute."""

    def __init__(self, limit: int, seconds: float = 60.0) -> None:
        self.limit, self.seconds = limit, seconds
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked_for(self, client: str) -> int:
        now = time.monotonic()
        with self._lock:
            hits = self._hits.get(client)
            if not hits:
                return 0
            while hits and now - hits[0] > self.seconds:
                hits.popleft()
            if len(hits) < self.limit:
                return 0
            return int(self.seconds - (now - hits[0])) + 1

    def add(self, client: str) -> None:
        with self._lock:
            self._hits[client].append(time.monotonic())

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()


FAILURES = _FailureWindow(BAD_TOKENS_PER_MINUTE)


async def current_principal(
    request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)
) -> Principal:
    # async on purpose: a sync dependency costs a thread-pool hop per request (milliseconds);
    # the lookup below is one indexed read of a fraction of a millisecond
    client = request.client.host if request.client else "unknown"
    wait = FAILURES.blocked_for(client)
    if wait:
        raise TooManyRequests(f"too many failed authentications: wait {wait} s", wait)
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise Unauthorized("missing bearer token: send 'Authorization: Bearer <token>'")
    try:
        principal = authenticate(creds.credentials)
    except Unauthorized as exc:
        FAILURES.add(client)
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

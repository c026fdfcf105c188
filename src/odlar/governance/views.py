"""What governance answers (checks, approval decisions, tenants, users, tokens, sign-in):
pydantic views the API declares as response models. Timestamps are ISO 8601 text."""

from __future__ import annotations

from odlar.core.views import View


class CheckView(View):
    name: str
    passed: bool
    detail: str


class CheckReport(View):
    task: str
    version: int
    passed: bool
    checks: list[CheckView]
    at: str
    seconds: float


class DecisionAnswer(View):
    task: str
    version: int
    state: str
    checks: CheckReport | None = None


class TenantView(View):
    id: str
    name: str
    created_at: str | None = None


class UserView(View):
    id: str
    tenant: str
    name: str
    role: str
    password: bool
    locked_until: str | None = None
    disabled: bool
    created_at: str


class TokenView(View):
    id: str
    label: str | None = None
    user: str
    prefix: str
    role: str
    tenant: str
    created_at: str
    last_used_at: str | None = None
    expires_at: str | None = None
    revoked: bool


class NewToken(View):
    token: str
    user: str
    shown: str


class TokenRevoked(View):
    id: str
    revoked: bool


class SignedIn(View):
    token: str
    user: str
    role: str
    tenant: str
    expires_at: str


class Me(View):
    user: str
    role: str
    tenant: str
    permissions: list[str]

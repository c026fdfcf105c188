"""What every console page shares, the platform's and the sectors': the signed-in user,
rendering a template with the navigation, charts, permission checks, error pages.

Layer: surface helpers (docs/architecture.md). Sector pages import this module, never
`odlar.web.app`. Pages call the same core and governance functions as the API, as the
signed-in user: the session cookie holds a sign-in token (HttpOnly, SameSite=Strict), so
roles, tenants and the event log apply exactly as they do to the API. Navigation shows each
role what it may do.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from odlar.core.errors import Forbidden, OdlarError, Unauthorized, UsageError
from odlar.core.sectors import NavEntry, folder, sectors
from odlar.governance import accounts
from odlar.governance.roles import ROLES, Permission, Principal, check

HERE = Path(__file__).parent
COOKIE = "odlar_session"

# The platform's navigation; each sector's entries (Sector.nav) come between the two.
NAV_FIRST = (NavEntry("Jobs", "/ui/jobs", "read"),)
NAV_LAST = (
    NavEntry("Models", "/ui/models", "read"),
    NavEntry("Benchmarks", "/ui/benchmarks", "read"),
    NavEntry("Event log", "/ui/audit", "audit"),
    NavEntry("Compute", "/ui/compute", "audit"),  # admins and auditors
)


@cache
def navigation() -> tuple[NavEntry, ...]:
    """Every navigation entry, platform and sectors, in order (filtered per role later)."""
    return NAV_FIRST + tuple(e for s in sectors() for e in s.nav) + NAV_LAST


@cache
def templates() -> Jinja2Templates:
    """The platform's templates, and each sector's under its name (``energy/rul.html``),
    so two sectors' pages never shadow each other; all extend the platform's base.html."""
    prefixed = {s.name: jinja2.FileSystemLoader(folder(s.templates)) for s in sectors()
                if s.templates}  # fmt: skip
    loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(HERE / "templates"), jinja2.PrefixLoader(prefixed)]
    )
    return Jinja2Templates(env=jinja2.Environment(loader=loader, autoescape=True))


class SignInRequired(Exception):
    """Raised by pages without a valid session; answered with a redirect to sign-in."""


def principal_of(request: Request) -> Principal:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired
    try:
        return accounts.authenticate(token)
    except Unauthorized:
        raise SignInRequired from None


def render(
    request: Request, name: str, me: Principal | None, status: int = 200, **context: Any
) -> HTMLResponse:
    perms = ROLES.get(me.role, frozenset()) if me else frozenset()
    nav = [(e.label, e.path) for e in navigation() if Permission(e.permission) in perms]
    return templates().TemplateResponse(
        request,
        name,
        {"me": me, "nav": nav, "can": lambda p: Permission(p) in perms, **context},
        status_code=status,
    )


def chart(figure: dict[str, Any]) -> str:
    """A Plotly figure as JSON for a `data-figure` attribute (drawn by console.js)."""
    return json.dumps(figure, default=float)


def page_error(request: Request, exc: OdlarError, me: Principal | None) -> HTMLResponse:
    return render(request, "error.html", me, exc.http_status, error=exc.message)


def need(me: Principal, permission: Permission) -> Principal:
    return check(me, permission)


def data_source(me: Principal, ref: str) -> Path:
    """A data reference typed into the console, resolved exactly as the API resolves it:
    a dataset id of the user's tenant, or a path under ODLAR_DATA; never a file elsewhere,
    another tenant's upload or odlar's own state, so no error shows what such a file holds."""
    from odlar.core import datasets

    return datasets.resolve_source(ref, tenant=me.tenant, confined=True)


def form_value(raw: str | None, kind: type, name: str) -> Any:
    """A field of a console form sent with GET: an empty box is None (browsers send
    `day=` for an empty date), and a value that does not parse is a UsageError naming the
    field, shown in the page, rather than FastAPI's JSON 422."""
    if raw is None or not raw.strip():
        return None
    from datetime import date

    try:
        return date.fromisoformat(raw.strip()) if kind is date else kind(raw.strip())
    except ValueError:
        what = {date: "a date (YYYY-MM-DD)", int: "a whole number", float: "a number"}
        raise UsageError(f"{name}: '{raw[:40]}' is not {what.get(kind, kind.__name__)}") from None


__all__ = [
    "Forbidden", "chart", "data_source", "form_value", "need", "page_error", "principal_of",
    "render",
]  # fmt: skip

"""The web console: server-rendered pages (Jinja2) with htmx for interaction and Plotly.js
for charts, every asset served by odlar itself (it works with no internet).

This module mounts the console: sign-in, static assets, the home page, the platform's pages
(web/pages.py) and each installed sector's pages (core/sectors.py), with page timing.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from odlar.core.errors import NotFound, TooManyRequests, Unauthorized
from odlar.core.store import DEFAULT_TENANT
from odlar.governance import accounts
from odlar.web.console import COOKIE, HERE, SignInRequired, principal_of, render


def console_router() -> APIRouter:
    ui = APIRouter(prefix="/ui", include_in_schema=False)

    @ui.get("/static/{name}")
    def static(name: str) -> FileResponse:
        if name == "plotly.min.js":  # shipped inside the plotly package
            import plotly

            path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
        else:
            path = HERE / "static" / Path(name).name
        if not path.is_file():
            raise NotFound(f"no asset '{name}'")
        return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})

    @ui.get("/sign-in", response_class=HTMLResponse)
    def sign_in_page(request: Request, next: str = "/ui/") -> HTMLResponse:
        return render(request, "sign_in.html", None, next=_safe_next(next))

    @ui.post("/sign-in")
    def sign_in(
        request: Request,
        user: str = Form(..., max_length=200),
        password: str = Form(..., max_length=1000),
        tenant: str = Form(DEFAULT_TENANT, max_length=64),
        next: str = Form("/ui/", max_length=500),
    ) -> Response:
        client = request.client.host if request.client else "unknown"
        try:
            out = accounts.sign_in(tenant, user, password, client=client)
        except (Unauthorized, TooManyRequests) as exc:
            return render(
                request, "sign_in.html", None, exc.http_status, error=exc.message,
                next=_safe_next(next), user=user, tenant=tenant,
            )  # fmt: skip
        response = RedirectResponse(_safe_next(next), status_code=303)
        response.set_cookie(
            COOKIE, out["token"], httponly=True, samesite="strict",
            secure=request.url.scheme == "https", max_age=accounts.SIGN_IN_HOURS * 3600,
        )  # fmt: skip
        return response

    @ui.post("/sign-out")
    def sign_out(request: Request) -> Response:
        try:
            me = principal_of(request)
            if me.token_id:
                accounts.revoke_token(me.token_id, tenant=me.tenant, actor=me.name)
        except SignInRequired:
            pass
        response = RedirectResponse("/ui/sign-in", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @ui.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        me = principal_of(request)
        from odlar.core.tasks import get_task, task_names

        tasks = [get_task(n).describe() for n in task_names()]
        return render(request, "home.html", me, tasks=tasks, counts=_counts(me))

    from odlar.core.sectors import load, sectors
    from odlar.web import pages  # the platform's pages

    pages.add(ui)
    from odlar.web import compute_page  # the platform's shared compute

    compute_page.add(ui)
    for sector in sectors():
        if sector.web is not None:
            ui.include_router(load(sector.web), include_in_schema=False)
    return ui


def _counts(me: Any) -> list[dict[str, Any]]:
    """What needs a look now, each linking to its page (when the user's role opens it):
    open incidents and the alerts in them, running and queued jobs, versions waiting for
    approval. The same functions as those pages, so the figures agree with them."""
    from odlar.core import alerts, jobs
    from odlar.governance import approval
    from odlar.governance.roles import ROLES
    from odlar.web.console import navigation

    mine = {p.value for p in ROLES.get(me.role, frozenset())}
    paths = {e.path for e in navigation() if e.permission in mine}
    incidents = alerts.list_incidents(tenant=me.tenant, state="open", limit=100_000)
    by_state = jobs.counts(tenant=me.tenant)
    waiting = sum(state == "pending" for _, state in approval.versions(me.tenant))
    alerts_page = next((p for p in paths if p.endswith("/alerts")), None)
    rows = [
        ("open incident{s}", len(incidents), alerts_page and f"{alerts_page}?state=open"),
        ("open alert{s} in them", sum(len(i["alert_ids"]) for i in incidents),
         alerts_page and f"{alerts_page}?state=open"),
        ("running job{s}", by_state.get("running", 0), "/ui/jobs" if "/ui/jobs" in paths else None),
        ("queued job{s}", by_state.get("queued", 0), "/ui/jobs" if "/ui/jobs" in paths else None),
        ("version{s} waiting for approval", waiting,
         "/ui/models?state=pending" if "/ui/models" in paths else None),
    ]  # fmt: skip
    return [
        {"key": label.format(s="s"), "label": label.format(s="" if n == 1 else "s"), "n": n,
         "href": href}
        for label, n, href in rows
    ]  # fmt: skip


def _safe_next(target: str) -> str:
    """Only local console paths: never redirect a user to another site."""
    return target if target.startswith("/ui/") and "//" not in target else "/ui/"


def install(app: Any) -> None:
    """Mount the console on the FastAPI app, with its error pages and page timing."""
    app.include_router(console_router())

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = quote(
            str(request.url.path) + (f"?{request.url.query}" if request.url.query else "")
        )
        if request.headers.get("HX-Request"):  # htmx: make the browser go to sign-in
            return Response(status_code=401, headers={"HX-Redirect": f"/ui/sign-in?next={target}"})
        return RedirectResponse(f"/ui/sign-in?next={target}", status_code=303)

    app.add_middleware(ServerTiming)


#: API routes that answer predictions (a task's predict, a scheduler extender's calls)
TIMED = ("/predict", "/filter", "/prioritize", "/bind")


class ServerTiming:
    """Adds `Server-Timing: app;dur=MS` to console pages and prediction routes (time to the
    response's start), so a client can tell the server's time from the network's. Plain
    ASGI, so the API's other requests pass through untouched and at no cost."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if not (path.startswith("/ui") or path.endswith(TIMED)):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message: Any) -> None:
            if message["type"] == "http.response.start":
                ms = 1000 * (time.perf_counter() - start)
                headers = [
                    *message.get("headers", []),
                    (b"server-timing", f"app;dur={ms:.1f}".encode()),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, timed)

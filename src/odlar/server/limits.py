"""Size limits every request meets before a route sees it: the request head (431) and the
body (413), the body counted while it arrives so an oversized upload is never buffered.

uvicorn's httptools parser has no header-size option, hence a small ASGI middleware.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyTooLarge(Exception):
    pass


async def _refuse(send: Send, status: int, detail: str, error: str) -> None:
    body = json.dumps({"detail": detail, "error": error}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestLimits:
    """Refuse a request whose head passes `max_head` bytes or whose body passes `max_body`."""

    def __init__(self, app: ASGIApp, *, max_head: int, max_body: int) -> None:
        self.app, self.max_head, self.max_body = app, max_head, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head += sum(len(k) + len(v) + 4 for k, v in headers)  # ": " and CRLF
        if head > self.max_head:
            await _refuse(
                send, 431,
                f"request headers of {head} bytes exceed the limit of {self.max_head} bytes "
                "(ODLAR_MAX_HEADER_KB)",
                "RequestHeaderFieldsTooLarge",
            )  # fmt: skip
            return
        mb = self.max_body // (1024 * 1024)
        too_large = (
            f"request body larger than the upload limit of {mb} MB (ODLAR_MAX_UPLOAD_MB)"
        )
        declared = _content_length(headers)
        if declared is not None and declared > self.max_body:
            await _refuse(send, 413, too_large, "TooLarge")
            return

        received, over, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, over
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    over = True
                    raise _BodyTooLarge
            return message

        async def guarded(message: Message) -> None:
            nonlocal started
            if over:  # whatever the app answers after the cut, the client gets the 413
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counted, guarded)
        if over and not started:
            await _refuse(send, 413, too_large, "TooLarge")


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    for key, value in headers:
        if key == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install(app: Any) -> None:
    from odlar.core.config import get_settings

    cfg = get_settings()
    app.add_middleware(
        RequestLimits, max_head=cfg.max_header_kb * 1024, max_body=cfg.max_upload_bytes
    )

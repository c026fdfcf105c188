"""The interactive API documentation works air-gapped: Swagger UI at /docs and ReDoc at
/redoc render in a real browser whose every request off loopback is refused."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from test_console_e2e import ARGS, CHROMIUM, _free_port


@pytest.fixture
def base(home: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "odlar", "serve", "--port", str(port)],
        env={**os.environ, "ODLAR_HOST": "127.0.0.1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_docs_and_redoc_render_with_the_network_off(base: str) -> None:
    from playwright.sync_api import sync_playwright

    refused: list[str] = []

    def loopback_only(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context()
        context.route("**/*", loopback_only)
        page = context.new_page()

        page.goto(f"{base}/docs")
        # Swagger UI draws one block per operation once its script has run
        page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
        assert page.locator(".swagger-ui .opblock").count() > 10

        page.goto(f"{base}/redoc")
        page.wait_for_selector("[role=menuitem], .menu-content", timeout=20_000)
        assert "odlar" in page.locator("h1").first.inner_text()
        browser.close()
    # ReDoc's bundle fetches only its own "powered by" logo from its maker's CDN: cosmetic
    needed = [u for u in refused if not u.endswith("/redoc/logo-mini.svg")]
    assert needed == [], f"the docs pages asked for off-machine assets: {needed}"

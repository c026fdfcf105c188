"""The safety and production pages in a real browser (Debian's Chromium, headless, through
Playwright) against `odlar serve` on loopback, with approval switched on: real data
uploaded through the API (Chicago's recorded incidents of autumn 2017, four Volve wells
from mid-2014), one small model of each task fitted and approved, then each new page opened,
its chart drawn, its error shown in the page; screenshots kept in $ODLAR_SCREENSHOTS."""

from __future__ import annotations

import io

import httpx
import pandas as pd
from test_console_e2e import ARGS, CHROMIUM, PASSWORD, Visit, _job, server  # noqa: F401

from conftest import SHARED_DATA

VOLVE_WELLS = ("NO 15/9-F-11 H", "NO 15/9-F-12 H", "NO 15/9-F-14 H", "NO 15/9-F-15 D")


def _upload(base: str, headers: dict, task: str, name: str, body: bytes) -> str:
    r = httpx.post(f"{base}/api/v1/datasets", params={"task": task}, headers=headers,
                   files={"file": (name, body)}, timeout=120)  # fmt: skip
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _approve(base: str, headers: dict, job: dict) -> None:
    m = job["result"]["model"]
    r = httpx.post(f"{base}/api/v1/models/{m['task']}/{m['version']}/approve", headers=headers,
                   json={"override": True, "reason": "console test"}, timeout=300)  # fmt: skip
    assert r.status_code == 200, r.text


def _data(base: str, headers: dict) -> tuple[str, str]:
    from odlar.safety.incidents import load_incidents

    frame, _, _ = load_incidents(SHARED_DATA / "safety" / "crime" / "CHI_Crime.zip")
    incidents = io.BytesIO()
    frame[frame["time"] >= "2017-09-01"].drop(columns="line").to_parquet(incidents, index=False)
    city = _upload(base, headers, "safety.hotspots", "chicago-autumn-2017.parquet",
                   incidents.getvalue())  # fmt: skip
    volve = pd.read_csv(SHARED_DATA / "energy" / "volve" / "volve_daily.csv")
    volve = volve[volve["WELL_BORE_CODE"].isin(VOLVE_WELLS) & (volve["DATEPRD"] >= "2014-06-01")]
    wells = _upload(base, headers, "energy.production", "volve-2014-2016.csv",
                    volve.to_csv(index=False).encode())  # fmt: skip
    return city, wells


def test_safety_and_production_pages(server: tuple[str, str]) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    base, token = server
    headers = {"Authorization": f"Bearer {token}"}
    city, wells = _data(base, headers)
    _approve(base, headers, _job(base, token, {
        "task": "safety.hotspots", "method": "ha", "data": city, "params": {},
    }))  # fmt: skip
    _approve(base, headers, _job(base, token, {
        "task": "energy.production", "method": "gbm", "data": wells,
        "params": {"end": "2016-06-01", "calibration_days": 60, "max_iter": 10},
    }))  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        visit = Visit(page)
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url)
                if r.url.startswith(("http:", "https:", "ws")) and "//127.0.0.1:" not in r.url
                else None)  # fmt: skip
        page.goto(f"{base}/ui/sign-in")
        page.get_by_label("User").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        nav = page.get_by_role("navigation", name="Main")
        for label in ("Safety: forecast map", "Safety: stationing", "Energy: production"):
            expect(nav).to_contain_text(label)

        # safety: the day's hot spots on a lon/lat map, then plans by replayed outcome
        page.get_by_role("link", name="Safety: forecast map").click()
        page.get_by_label("Incidents (dataset id or path under ODLAR_DATA)").fill(city)
        page.get_by_role("button", name="Forecast").click()
        expect(page.locator(".chart .main-svg").first).to_be_visible()
        expect(page.get_by_role("heading", name="Hot spots: THEFT")).to_be_visible()
        visit.shot("15-safety-forecast")
        page.get_by_label("Category").select_option("BATTERY")
        page.get_by_role("button", name="Forecast").click()
        expect(page.get_by_role("heading", name="Hot spots: BATTERY")).to_be_visible()
        page.goto(f"{base}/ui/safety/stations?data={city}&stations=8&crews=24&replay_days=2")
        expect(page.locator("#plans tbody tr")).to_have_count(3)
        expect(page.locator(".chart .main-svg").first).to_be_visible()
        visit.shot("16-safety-stations")
        page.get_by_label("Crews").fill("4")
        page.get_by_role("button", name="Compare plans").click()
        expect(page.get_by_role("alert")).to_contain_text("every station needs a crew")

        # production: field, departure check, one well, the choke what-if
        page.get_by_role("link", name="Energy: production").click()
        page.get_by_label("Well data (dataset id or path under ODLAR_DATA)").fill(wells)
        page.get_by_role("button", name="Show").click()
        expect(page.locator("#wells tbody tr")).to_have_count(4)
        page.get_by_role("button", name="Check wells and store alerts").click()
        expect(page.locator("#checked")).to_contain_text("Departure check with model version 1")
        expect(page.locator(".chart .main-svg").first).to_be_visible()
        visit.shot("17-production-field")
        page.get_by_role("link", name="15/9-F-12 H").click()
        expect(page.locator(".chart.js-plotly-plot")).to_have_count(2)
        expect(page.locator("#forecast tbody tr")).to_have_count(12)  # 4 horizons x 3 phases
        visit.shot("18-production-well")
        page.get_by_role("link", name="Choke what-if for this well").click()
        page.get_by_label("Choke opening, %").fill("60")
        page.get_by_role("button", name="Predict").click()
        expect(page.locator("#whatif tbody tr")).to_have_count(12)
        expect(page.locator(".chart .main-svg").first).to_be_visible()
        visit.shot("19-production-whatif")
        page.get_by_label("Choke opening, %").fill("140")
        page.get_by_role("button", name="Predict").click()
        expect(page.get_by_role("alert")).to_contain_text("not a % opening")
        browser.close()
    assert outside == [], f"the pages loaded from outside loopback: {outside[:3]}"

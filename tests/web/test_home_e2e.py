"""The home page's counts and a table's CSV export in a real browser (Chromium through
Playwright, against `odlar serve` on loopback): the counts link to the alerts page, whose
incidents table downloads as CSV with the rows the page shows and no form controls."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from test_console_e2e import ARGS, CHROMIUM, PASSWORD, Visit, server  # noqa: F401
from test_home_page import seed


def test_home_counts_and_csv_export(server: tuple[str, str], tmp_path: Path) -> None:  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    base, _ = server
    seed()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)
        visit = Visit(page)
        page.goto(f"{base}/ui/")
        page.get_by_label("User").fill("admin")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        now = page.get_by_role("list", name="What needs a look now")
        expect(now).to_contain_text("2 open incidents")
        expect(now).to_contain_text("27 open alerts in them")
        expect(now).to_contain_text("1 version waiting for approval")
        visit.shot("00-home")

        page.get_by_role("link", name="2 open incidents").click()
        expect(page.locator("tr.incident")).to_have_count(2)
        with page.expect_download() as info:
            page.get_by_role("button", name="Export this table as CSV").click()
        download = info.value
        assert download.suggested_filename == "alerts.csv"
        text = Path(download.path()).read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text)))
        assert rows[0][:3] == ["stream", "incident", "state"]
        assert [r[0] for r in rows[1:]] == ["tep-run-7", "skab-valve"]
        assert "sensor_frozen: 25 sensors" in rows[1][6]
        assert "Acknowledge" not in text and "Note" not in text, "form controls are not data"
        visit.shot("09-alerts")

        page.get_by_role("link", name="odlar", exact=True).click()
        page.get_by_role("link", name="1 version waiting for approval").click()
        expect(page.locator("td.state-pending")).to_have_count(1)
        expect(page.locator("td.state-approved")).to_have_count(0)
        browser.close()

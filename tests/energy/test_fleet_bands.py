"""The fleet RUL chart's maintenance bands: red/amber/green from each unit's interval's
lower end, thresholds from the settings (ODLAR_RUL_RED, ODLAR_RUL_AMBER) or the page's form,
bad thresholds refused with a 400 in the page."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient

from odlar.core.errors import UsageError
from odlar.energy.web import BANDS, _fleet_figure, band, check_thresholds

PASSWORD = "fleet-bands-test-password"


def test_bands_from_the_intervals_lower_end() -> None:
    assert [band(x, 30, 60) for x in (5, 30, 30.5, 60, 61)] == [
        "red", "red", "amber", "amber", "green"]  # fmt: skip
    with pytest.raises(UsageError, match="red < amber"):
        check_thresholds(60, 30)
    rows = [SimpleNamespace(unit="1", rul=40.0, lower=25.0, upper=55.0),
            SimpleNamespace(unit="2", rul=90.0, lower=70.0, upper=110.0)]  # fmt: skip
    fig = _fleet_figure(rows, 0.9, 30, 60)
    assert fig["data"][0]["marker"]["color"] == [BANDS["red"], BANDS["green"]]
    spans = [(s["y0"], s["y1"], s["fillcolor"]) for s in fig["layout"]["shapes"]]
    assert spans[:2] == [(0, 30, BANDS["red"]), (30, 60, BANDS["amber"])]
    assert spans[2][0] == 60 and spans[2][1] > 110 and spans[2][2] == BANDS["green"]


@pytest.fixture
def browser(home: Path, cmapss: Path, quick_gbm, monkeypatch: pytest.MonkeyPatch):
    from odlar.core import config, datasets, tracking
    from odlar.core.tasks import get_task
    from odlar.governance import accounts
    from odlar.server.app import create_app

    monkeypatch.setenv("ODLAR_RUL_RED", "20")
    monkeypatch.setenv("ODLAR_RUL_AMBER", "50")
    config.reset_settings()
    accounts.ensure_admin()
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    train = get_task("energy.rul").load(cmapss / "train_FD001.txt")
    tracking.log_model_version("energy.rul", quick_gbm, method="gbm", params=quick_gbm.params,
                               metrics={}, data=train)  # fmt: skip
    with (cmapss / "test_FD001.txt").open("rb") as f:  # the first units of the test fleet
        fleet = datasets.save_upload("energy.rul", "fleet.txt", b"".join(f.readline()
                                                                         for _ in range(1500)))
    with TestClient(create_app(), follow_redirects=False) as client:
        client.post("/ui/sign-in", data={"user": "admin", "password": PASSWORD,
                                         "tenant": "default", "next": "/ui/"})  # fmt: skip
        yield client, fleet["id"]


def test_fleet_page_bands_and_thresholds(browser) -> None:
    client, fleet = browser
    page = client.get("/ui/energy/rul", params={"dataset": fleet}).text
    assert 'value="20.0"' in page and 'value="50.0"' in page, "the settings' thresholds"
    rows = re.findall(r'<td class="band-(\w+)">', page)
    lowers = [float(x) for x in re.findall(
        r"<td>[\d.]+</td><td>([\d.]+)</td><td>[\d.]+</td><td class=\"band", page)]  # fmt: skip
    assert rows and rows == [band(x, 20, 50) for x in lowers]
    assert f"{rows.count('red')} red</strong>" in page
    mine = client.get("/ui/energy/rul", params={"dataset": fleet, "red": 80, "amber": 120}).text
    assert re.findall(r'<td class="band-(\w+)">', mine) == [band(x, 80, 120) for x in lowers]
    bad = client.get("/ui/energy/rul", params={"dataset": fleet, "red": 90, "amber": 40})
    assert bad.status_code == 400 and "0 &lt; red &lt; amber" in bad.text


def test_unit_page_shows_predicted_life_over_its_cycles(browser) -> None:
    import html
    import json

    from odlar.core import audit

    client, fleet = browser
    page = client.get("/ui/energy/rul", params={"dataset": fleet}).text
    unit, last_cycle, rul = re.search(
        r'/units/(\w+)">\w+</a></td><td>(\d+)</td><td>([\d.]+)</td>', page).groups()
    shown = client.get(f"/ui/energy/rul/{fleet}/units/{unit}").text
    figures = [json.loads(html.unescape(f)) for f in re.findall(r"data-figure='([^']*)'", shown)]
    over_time = next(f for f in figures if "as read at each cycle" in f["layout"]["title"]["text"])
    points = over_time["data"][2]
    assert len(points["x"]) == min(int(last_cycle), 60) and points["x"][-1] == int(last_cycle)
    assert points["x"] == sorted(points["x"]) and points["x"][0] == 1
    assert abs(points["y"][-1] - float(rul)) < 0.01, "the last point is the fleet's prediction"
    lower, upper = over_time["data"][1]["y"], over_time["data"][0]["y"]
    assert all(lo <= y <= up for lo, y, up in zip(lower, points["y"], upper, strict=True))
    logged = audit.events("default", action="predict", newest_first=True, limit=1)[0]
    assert json.loads(logged["output"])["history_cuts"] == len(points["x"])

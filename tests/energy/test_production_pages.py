"""energy.production in the console and the alert machinery: departures stored through
core.alerts (listed by `odlar alerts list` and the incidents page, cleared when the well is
back in its band), the field, well and what-if pages with their errors in the page, and
tenant isolation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from test_production import synthetic
from typer.testing import CliRunner

from odlar.governance import accounts

PASSWORD = "production-pages-password"


def _late(path: Path) -> Path:
    """The synthetic field where W-0 loses 70% of its oil from mid-April 2021 and W-2
    stops in March."""
    raw = synthetic()
    raw = raw[~((raw["WELL_BORE_CODE"] == "W-2") & (raw["DATEPRD"] > "2021-03-01"))]
    late = (raw["WELL_BORE_CODE"] == "W-0") & (raw["DATEPRD"] > "2021-04-15")
    raw.loc[late, "BORE_OIL_VOL"] *= 0.3
    raw.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def late_model(tmp_path_factory: pytest.TempPathFactory):
    """The late field and a gbm trained before April 2021 (fitted once for the module)."""
    from odlar.energy.production.data import load_production
    from odlar.energy.production.forecasters import fit_forecaster

    late = _late(tmp_path_factory.mktemp("late") / "late.csv")
    data = load_production(late)
    model = fit_forecaster(
        data.frame, "gbm", {"end": "2021-04-01", "calibration_days": 60, "max_iter": 10}
    )
    return late, data, model


@pytest.fixture
def field(home: Path, late_model):
    """Tenant 'acme' owns the late field and the model as energy.production version 1;
    tenant 'default' has neither."""
    from odlar.core import datasets, tracking

    late, data, model = late_model
    accounts.ensure_admin()
    accounts.create_tenant("acme", actor="test")
    accounts.create_user("eve", "operator", tenant="acme", actor="test", password=PASSWORD)
    accounts.create_user("val", "viewer", tenant="acme", actor="test", password=PASSWORD)
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    rec = datasets.save_upload("energy.production", "late.csv", late.read_bytes(), tenant="acme")
    tracking.log_model_version(
        "energy.production", model, method="gbm", params=model.params, metrics={}, data=data,
        tenant="acme",
    )  # fmt: skip
    return {"id": rec["id"], "data": data, "model": model}


def _signed_in(client: TestClient, user: str, tenant: str) -> TestClient:
    r = client.post(
        "/ui/sign-in", data={"user": user, "password": PASSWORD, "tenant": tenant, "next": "/ui/"}
    )
    assert r.status_code == 303, r.text
    return client


def test_departures_are_stored_with_every_other_alert_and_clear(field: dict) -> None:
    from odlar.cli import app as odlar
    from odlar.core import alerts
    from odlar.energy.production.field import store_departures

    stored = store_departures(
        field["model"], field["data"].frame, tenant="acme", model_version=1, actor="eve"
    )
    mine = {a["stream"]: a for a in stored}
    assert "W-0" in mine and "W-2" not in mine
    w0 = mine["W-0"]
    assert w0["task"] == "energy.production" and w0["kind"] == "production_departure"
    assert w0["state"] == "open" and "below" in w0["detail"] and w0["model_version"] == 1
    assert w0["statistic"].startswith("oil rate outside the 90% band")
    listed = alerts.list_alerts(tenant="acme", state="open")
    assert [a["id"] for a in listed if a["stream"] == "W-0"] == [w0["id"]]
    assert alerts.list_alerts(tenant="default") == []  # another tenant sees none
    # the incidents view (console) groups it like any other alert
    assert any(i["stream"] == "W-0" and i["state"] == "open" for i in alerts.incidents(listed))
    # checking again updates the open alert instead of opening a second one
    store_departures(field["model"], field["data"].frame, tenant="acme", model_version=1)
    assert len([a for a in alerts.list_alerts(tenant="acme") if a["stream"] == "W-0"]) == 1
    # `odlar alerts list` shows it to the tenant's users
    token = accounts.create_token("eve", tenant="acme", actor="test")
    r = CliRunner().invoke(odlar, ["alerts", "list"], env={"ODLAR_TOKEN": token})
    assert r.exit_code == 0, r.output
    assert "W-0" in r.output and "production_departure" in r.output.replace("\n", "")
    # over its last 5 days W-0 is back inside its band (forecasts made after the drop
    # follow it): the check clears the alert
    cleared = store_departures(
        field["model"], field["data"].frame, tenant="acme", model_version=1, days=5
    )
    w0_now = next(a for a in cleared if a["stream"] == "W-0")
    assert w0_now["id"] == w0["id"] and w0_now["state"] == "cleared"
    assert alerts.list_alerts(tenant="acme", state="open", stream="W-0") == []


def test_production_pages_forecast_decline_whatif_and_errors(field: dict) -> None:
    from odlar.server.app import create_app

    ref = field["id"]
    with TestClient(create_app(), follow_redirects=False) as client:
        c = _signed_in(client, "eve", "acme")
        page = c.get("/ui/energy/production", params={"data": ref})
        assert page.status_code == 200, page.text
        assert 'href="/ui/energy/production"' in page.text  # navigation entry
        assert "W-0" in page.text and "data-figure" in page.text
        # the departure check stores alerts that the alerts page lists
        checked = c.post("/ui/energy/production/departures", data={"data": ref, "days": "30"})
        assert checked.status_code == 200 and "stored" in checked.text
        incidents = c.get("/ui/energy/alerts")
        assert "production_departure" in incidents.text and "W-0" in incidents.text
        # one well: forecast with intervals and its decline curve
        well = c.get("/ui/energy/production/well", params={"data": ref, "well": "W-1"})
        assert well.status_code == 200, well.text
        assert 'id="forecast"' in well.text and 'id="fits"' in well.text
        assert well.text.count('class="chart"') == 2
        # what-if: a monotone answer; an opening never seen is flagged
        answer = c.get("/ui/energy/production/whatif",
                       params={"data": ref, "well": "W-1", "choke": "99"})  # fmt: skip
        assert answer.status_code == 200, answer.text
        assert 'id="whatif"' in answer.text and 'id="extrapolation"' in answer.text
        # mistakes are one line in the page, with a 4xx status
        bad = c.get("/ui/energy/production/whatif",
                    params={"data": ref, "well": "W-1", "choke": "150"})  # fmt: skip
        assert bad.status_code == 400 and "not a % opening" in bad.text
        assert 'role="alert"' in bad.text and "Traceback" not in bad.text
        form = c.get("/ui/energy/production/whatif",
                     params={"data": ref, "well": "W-1", "choke": "", "days": ""})  # fmt: skip
        assert form.status_code == 200 and 'id="whatif"' not in form.text
        days_x = {"data": ref, "well": "W-1", "choke": "50", "days": "x"}
        baddays = c.get("/ui/energy/production/whatif", params=days_x)
        assert baddays.status_code == 400 and "is not a whole number" in baddays.text
        nowell = c.get("/ui/energy/production/well", params={"data": ref, "well": "W-9"})
        assert nowell.status_code == 422 and "no well &#39;W-9&#39;" in nowell.text
        # a viewer reads the field and the decline curve, but runs no forecast
        v = _signed_in(client, "val", "acme")
        assert v.get("/ui/energy/production", params={"data": ref}).status_code == 200
        view = v.get("/ui/energy/production/well", params={"data": ref, "well": "W-1"})
        assert view.status_code == 200 and 'id="forecast"' not in view.text
        assert 'id="fits"' in view.text
        refused = v.post("/ui/energy/production/departures", data={"data": ref})
        assert refused.status_code == 403
        # tenant isolation: acme's dataset is not found from tenant default
        a = _signed_in(client, "admin", "default")
        other = a.get("/ui/energy/production", params={"data": ref})
        assert other.status_code == 404 and "W-0" not in other.text
        assert re.search(r"data &#39;\w+&#39; not found", other.text)

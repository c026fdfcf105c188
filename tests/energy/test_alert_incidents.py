"""The alert flood (issue 16): one TEP fault that trips the process statistic and 25
frozen-sensor checks is one incident, its sensor findings inside it, the process alert
first; an incident is acknowledged at once; the live page refreshes itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from odlar.core import alerts
from odlar.core.alerts import Change
from odlar.core.errors import Conflict, NotFound
from odlar.governance import accounts

PASSWORD = "alert-incidents-test-password"


def _raise(stream: str, changes: list[Change]) -> None:
    alerts.apply(changes, tenant="default", task="energy.faults", stream=stream,
                 model_version=1, detector="pca", statistic="T2")  # fmt: skip


@pytest.fixture
def flood(home: Path) -> None:
    frozen = [Change("open", "sensor_frozen", f"sensor_frozen:XMEAS({j})", 100 + j, None,
                     contributors=[{"variable": f"XMEAS({j})", "share": 1.0}])
              for j in range(1, 26)]  # fmt: skip
    _raise("tep-run-7", [*frozen, Change("open", "process", "process", 90, None, score=8.5)])
    _raise("tep-run-7", [Change("open", "process", "process", 900, None, score=3.0)])  # later
    _raise("skab-valve", [Change("open", "sensor_dead", "sensor_dead:Pressure", 5, None)])


def test_one_fault_is_one_incident_led_by_the_process_alert(flood: None) -> None:
    found = alerts.incidents(alerts.list_alerts(tenant="default", limit=500))
    assert [(i["stream"], i["severity"]) for i in found] == [
        ("tep-run-7", "process"), ("skab-valve", "sensor"),
    ]  # open process incident first; the later process alert belongs to the open episode
    first = found[0]
    assert first["lead"]["kind"] == "process" and first["score"] == 8.5
    assert len(first["findings"]["sensor_frozen"]) == 25 and "XMEAS(3)" in first["findings"][
        "sensor_frozen"]
    assert len(first["alert_ids"]) == 26


def test_cleared_episodes_are_separate_incidents(home: Path) -> None:
    _raise("s", [Change("open", "process", "process", 10, None, score=2.0)])
    _raise("s", [Change("clear", "process", "process", 50, None)])
    _raise("s", [Change("open", "process", "process", 80, None, score=4.0)])
    found = alerts.incidents(alerts.list_alerts(tenant="default"))
    assert [(i["state"], i["first_sample"]) for i in found] == [("open", 80), ("cleared", 10)]


def test_acknowledge_an_incident_at_once(flood: None) -> None:
    first = alerts.incidents(alerts.list_alerts(tenant="default", limit=500))[0]
    with pytest.raises(NotFound):
        alerts.acknowledge_all([*first["alert_ids"], "nope"], tenant="default", by="op")
    assert all(a["acknowledged_by"] is None for a in first["alerts"]), "a bad id acks none"
    done = alerts.acknowledge_all(first["alert_ids"], tenant="default", by="op", note="valve")
    assert len(done) == 26
    again = alerts.incidents(alerts.list_alerts(tenant="default", limit=500))[0]
    assert again["unacknowledged"] == []


def test_live_page_groups_polls_and_acknowledges(flood: None) -> None:
    from odlar.server.app import create_app

    accounts.ensure_admin()
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    with TestClient(create_app(), follow_redirects=False) as c:
        c.post("/ui/sign-in", data={"user": "admin", "password": PASSWORD,
                                    "tenant": "default", "next": "/ui/"})  # fmt: skip
        page = c.get("/ui/energy/alerts").text
        assert page.count('<tr class="incident') == 2
        assert "sensor_frozen: 25 sensors" in page and 'hx-trigger="every 10s' in page
        assert "Acknowledge all 26" in page
        first = alerts.incidents(alerts.list_alerts(tenant="default", limit=500))[0]
        r = c.post("/ui/energy/alerts/ack", data={"alert_id": first["alert_ids"], "note": "x"})
        assert r.status_code == 303
    assert all(a["acknowledged_by"] == "admin" for a in alerts.list_alerts(
        tenant="default", stream="tep-run-7"))  # fmt: skip


def test_cli_lists_and_acknowledges_incidents_like_the_console(flood: None) -> None:
    from typer.testing import CliRunner

    from odlar.cli import app

    run = CliRunner()
    listed = run.invoke(app, ["alerts", "list"], env={"COLUMNS": "250"})
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.output.splitlines() if "tep-run-7" in line or "skab" in line]
    assert len(rows) == 2, listed.output  # 27 alerts, 2 incidents
    assert "tep-run-7" in rows[0] and "sensor_frozen: 25" in rows[0] and "26" in rows[0]
    first = alerts.list_incidents(tenant="default")[0]
    assert first["id"] in rows[0] and first["lead"]["kind"] == "process"
    each = run.invoke(app, ["alerts", "list", "--each", "--limit", "500"], env={"COLUMNS": "250"})
    assert each.output.count("tep-run-7") == 26
    # any alert of the incident acknowledges all of it, once
    frozen = next(a for a in first["alerts"] if a["kind"] == "sensor_frozen")
    acked = run.invoke(app, ["alerts", "ack", frozen["id"], "--note", "valve"])
    assert acked.exit_code == 0 and f"incident {first['id']}" in acked.output
    assert "26 alerts" in acked.output
    assert all(a["acknowledged_by"] for a in alerts.list_alerts(tenant="default",
                                                                stream="tep-run-7"))  # fmt: skip
    again = run.invoke(app, ["alerts", "ack", first["id"]])
    # (the CLI's entry point turns a Conflict into exit 75: tests/energy/test_faults_live.py)
    assert isinstance(again.exception, Conflict) and "already acknowledged" in str(again.exception)


def test_api_incidents_as_the_console_groups_them(flood: None) -> None:
    from odlar.server.app import create_app

    token = accounts.ensure_admin()
    with TestClient(create_app()) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        found = c.get("/api/v1/incidents").json()
        assert found == alerts.list_incidents(tenant="default"), "one implementation"
        assert [(i["stream"], i["severity"], len(i["alert_ids"])) for i in found] == [
            ("tep-run-7", "process", 26), ("skab-valve", "sensor", 1),
        ]  # fmt: skip
        frozen = next(a for a in found[0]["alerts"] if a["kind"] == "sensor_frozen")
        one = c.get(f"/api/v1/incidents/{frozen['id']}").json()
        assert one["id"] == found[0]["id"]
        r = c.post(f"/api/v1/incidents/{frozen['id']}/ack", json={"note": "valve"})
        assert r.status_code == 200 and len(r.json()["acknowledged_now"]) == 26
        assert r.json()["unacknowledged"] == []
        assert c.post(f"/api/v1/incidents/{found[0]['id']}/ack").status_code == 409
        assert c.get("/api/v1/incidents/nope").status_code == 404
        assert c.get("/api/v1/incidents", params={"state": "maybe"}).status_code == 400
        assert [i["stream"] for i in c.get("/api/v1/incidents",
                                           params={"stream": "skab-valve"}).json()] == [
            "skab-valve"]  # fmt: skip


def test_an_open_incident_keeps_its_cleared_sensor_findings(home: Path) -> None:
    _raise("s", [Change("open", "process", "process", 10, None, score=5.0),
                 Change("open", "sensor_frozen", "sensor_frozen:A", 12, None,
                        contributors=[{"variable": "A", "share": 1.0}])])  # fmt: skip
    _raise("s", [Change("clear", "sensor_frozen", "sensor_frozen:A", 20, None)])
    (found,) = alerts.list_incidents(tenant="default", state="open")
    assert found["findings"] == {"sensor_frozen": ["A"]} and len(found["alert_ids"]) == 2

"""Live monitoring end to end: readings posted in batches or followed from a growing CSV,
alerts stored, listed, acknowledged and cleared; the state survives a restart."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from conftest import SHARED_DATA
from odlar.core import alerts, jobs
from odlar.energy.faults.tep import FAULT_START, tep_table
from test_cli import odlar

TEP = SHARED_DATA / "energy" / "tep"


@pytest.fixture
def client(home: Path):
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    token = ensure_admin()
    with TestClient(create_app()) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def _train(method: str = "cva") -> int:
    spec = jobs.FitSpec(task="energy.faults", data=str(TEP / "d00.dat"), method=method)
    return jobs.run(jobs.create(spec).id).result["model"]["version"]


def _readings(values: np.ndarray, names: list[str], start: int = 0) -> list[dict]:
    times = pd.date_range("2026-11-24", periods=len(values), freq="3min") + pd.Timedelta(
        minutes=3 * start
    )
    frame = pd.DataFrame(values, columns=names)
    frame.insert(0, "timestamp", times.strftime("%Y-%m-%dT%H:%M:%S"))
    return frame.to_dict(orient="records")


def _stream() -> tuple[np.ndarray, list[str]]:
    """Normal operation, fault 1 for 100 samples, then normal operation again."""
    normal, fault = tep_table(TEP / "d00_te.dat"), tep_table(TEP / "d01_te.dat")
    values = np.vstack([normal.values[:300], fault.values[300:400], normal.values[400:700]])
    return values, normal.variables


def test_monitor_raises_explains_and_clears_over_the_api(client: TestClient) -> None:
    version = _train()
    values, names = _stream()
    opened, cleared = [], []
    for start in range(0, len(values), 100):
        r = client.post(
            "/api/v1/tasks/energy.faults/monitor/plant-7",
            json={"readings": _readings(values[start : start + 100], names, start)},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["scored"] == 100 and body["model_version"] == version
        opened += [a for a in body["alerts"] if a["first_sample"] >= start]
        cleared += [a for a in body["alerts"] if a["state"] == "cleared"]
    process = [a for a in opened if a["kind"] == "process"]
    assert len(process) == 1
    alert = process[0]
    assert 300 <= alert["first_sample"] < 310, "raised within a few samples of the fault"
    assert alert["detector"] == "cva" and "CVA" in alert["statistic"]
    assert alert["threshold"] == 1.0 and alert["score"] > 1.0
    assert alert["contributors"] and {"variable", "share"} <= set(alert["contributors"][0])
    assert any(c["id"] == alert["id"] and c["cleared_sample"] > 400 for c in cleared)

    listed = client.get("/api/v1/alerts", params={"stream": "plant-7"}).json()
    assert [a["id"] for a in listed] == [alert["id"]] and listed[0]["state"] == "cleared"
    ack = client.post(f"/api/v1/alerts/{alert['id']}/ack", json={"note": "valve checked"})
    assert ack.status_code == 200 and ack.json()["acknowledged_by"] == "admin"
    assert client.post(f"/api/v1/alerts/{alert['id']}/ack").status_code == 409
    assert client.get("/api/v1/alerts/nope").status_code == 404
    assert client.get("/api/v1/alerts", params={"state": "maybe"}).status_code == 400


def test_monitor_bad_input(client: TestClient) -> None:
    _train("pca")
    values, names = _stream()
    readings = _readings(values[:3], names)
    del readings[0]["XMEAS_3"]  # one reading lacks a sensor: filled, and the repair reported
    r = client.post("/api/v1/tasks/energy.faults/monitor/plant-1", json={"readings": readings})
    assert r.status_code == 200
    assert {"kind": "gaps_filled", "column": "XMEAS_3", "rows": 1}.items() <= r.json()["repairs"][
        0
    ].items()
    for reading in readings:  # no reading has it: the model cannot run
        reading.pop("XMEAS_3", None)
    r = client.post("/api/v1/tasks/energy.faults/monitor/plant-2", json={"readings": readings})
    assert r.status_code == 422 and r.json()["field"] == "readings.XMEAS_3"
    readings = _readings(values[:3], names)
    readings[2]["XMV_4"] = "broken"
    r = client.post("/api/v1/tasks/energy.faults/monitor/plant-1", json={"readings": readings})
    assert r.status_code == 422 and r.json()["field"] == "readings[2].XMV_4"
    r = client.post("/api/v1/tasks/energy.faults/monitor/bad name!", json={"readings": readings})
    assert r.status_code == 422
    assert (
        client.post("/api/v1/tasks/energy.faults/monitor/x", json={"readings": []}).status_code
        == 422
    )


def test_open_alert_survives_a_restart(home: Path) -> None:
    from odlar.energy.faults.live import MonitorHub

    _train()
    values, names = _stream()
    first = MonitorHub()
    first.push(tenant="default", stream="well-3", readings=_readings(values[:400], names))
    assert alerts.list_alerts(tenant="default", state="open")
    second = MonitorHub()  # a new server process: no monitor in memory
    second.push(tenant="default", stream="well-3", readings=_readings(values[400:], names, 400))
    assert not alerts.list_alerts(tenant="default", state="open")
    assert len(alerts.list_alerts(tenant="default")) == 1


def test_predict_route_scores_every_sample(client: TestClient) -> None:
    _train("pca")
    fault = tep_table(TEP / "d05_te.dat")
    r = client.post(
        "/api/v1/tasks/energy.faults/predict",
        json={"readings": _readings(fault.values, fault.variables)},
    )
    assert r.status_code == 200
    samples = r.json()["samples"]
    assert len(samples) == 960 and samples[FAULT_START + 10]["alarm"]
    assert samples[FAULT_START + 10]["contributors"][0]["variable"]
    assert sum(s["alarm"] for s in samples[:FAULT_START]) <= 16  # PCA: about 6% false alarms
    assert not alerts.list_alerts(tenant="default"), "predict stores no alerts"


def test_cli_follows_a_csv_and_acknowledges(tmp_path: Path) -> None:
    home = tmp_path / "home"  # the readings lie beside ODLAR_HOME: a file inside it is state
    assert (
        odlar(
            "fit", "energy.faults", "--data", str(TEP / "d00.dat"), "--method", "cva", home=home
        ).returncode
        == 0
    )
    # the README's recipe: cva on TEP's normal run passes every check, no override needed
    approve = ("models", "approve", "energy.faults", "1", "--reason", "test")
    approved = odlar(*approve, home=home)
    assert approved.returncode == 0, approved.stderr
    values, names = _stream()
    csv = tmp_path / "plant.csv"
    pd.DataFrame(_readings(values, names)).to_csv(csv, index=False)
    r = odlar("monitor", str(csv), "--stream", "plant-9", "--batch", "64", home=home)
    assert r.returncode == 0, r.stderr
    assert "ALERT" in r.stdout and "cleared" in r.stdout and "scored 700 samples" in r.stdout
    listed = odlar("alerts", "list", "--stream", "plant-9", home=home)
    alert_id = listed.stdout.split("│")[1].strip().splitlines()[-1].strip()
    shown = odlar("alerts", "show", alert_id, home=home)
    assert json.loads(shown.stdout)["state"] == "cleared"
    assert odlar("alerts", "ack", alert_id, home=home).returncode == 0
    again = odlar("alerts", "ack", alert_id, home=home)
    assert again.returncode == 75 and "already acknowledged" in again.stderr

    broken = tmp_path / "broken.csv"
    lines = csv.read_text().splitlines()
    lines[5] = lines[5].replace(lines[5].split(",")[3], "oops", 1)
    broken.write_text("\n".join(lines) + "\n")
    bad = odlar("monitor", str(broken), home=home)
    assert bad.returncode == 65 and "broken.csv:6" in bad.stderr and "oops" in bad.stderr
    latin = tmp_path / "latin.csv"
    raw = csv.read_bytes().split(b"\n")
    raw[3] = raw[3] + b",\xe9t\xe9"  # a Latin-1 cell on line 4
    latin.write_bytes(b"\n".join(raw))
    refused = odlar("monitor", str(latin), home=home)
    assert refused.returncode == 65 and "latin.csv:4" in refused.stderr, refused.stderr
    assert "UTF-8" in refused.stderr and "Traceback" not in refused.stderr

"""The console reads data exactly as the API does: dataset ids of the signed-in user's
tenant and paths under ODLAR_DATA, never another tenant's upload, a file elsewhere on the
server or odlar's own state; a refused reference gets the same answer whether or not the
file exists, and no error shows what such a file holds. Every console route that takes a
data reference is driven with the session cookie of an operator of a second tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from odlar.governance import accounts

PASSWORD = "console-data-test-password"
SECRET = "secret_col,password\nroot,hunter2\n"
PREDICTIONS = '<th scope="col">RUL</th>'  # the fleet page's table of predictions


def _fleet(cmapss: Path, lines: int = 1500) -> bytes:
    """The first units of C-MAPSS FD001's test file: a small real fleet."""
    with (cmapss / "test_FD001.txt").open("rb") as f:
        return b"".join(f.readline() for _ in range(lines))


def _signed_in(client: TestClient, user: str, tenant: str) -> TestClient:
    r = client.post(
        "/ui/sign-in", data={"user": user, "password": PASSWORD, "tenant": tenant, "next": "/ui/"}
    )
    assert r.status_code == 303 and client.cookies.get("odlar_session"), r.text
    return client


@pytest.fixture
def world(home: Path, tmp_path: Path, cmapss: Path, monkeypatch: pytest.MonkeyPatch):
    """Tenant 'default' owns an uploaded fleet; tenant 'acme' has its own fleet, a serving
    model and an operator signed in to the console; a secret file lies outside ODLAR_DATA;
    the server runs from inside ODLAR_HOME (as a service with its state as working dir)."""
    from odlar.core import datasets, tracking
    from odlar.core.tasks import get_task
    from odlar.server.app import create_app

    accounts.ensure_admin()
    accounts.create_tenant("acme", actor="test")
    accounts.create_user("eve", "operator", tenant="acme", actor="test", password=PASSWORD)
    accounts.create_user("val", "viewer", tenant="acme", actor="test", password=PASSWORD)
    theirs = datasets.save_upload("energy.rul", "fleet-of-default.txt", _fleet(cmapss))
    ours = datasets.save_upload("energy.rul", "acme-fleet.txt", _fleet(cmapss), tenant="acme")
    task = get_task("energy.rul")
    train = task.load(datasets.resolve_source(ours["id"], tenant="acme"))
    small = {"folds": 2, "max_iter": 10, "cuts_per_unit": 2}
    model = task.fit(train, method="gbm", params=small, progress=lambda f, m: None)
    tracking.log_model_version(
        "energy.rul", model, method="gbm", params=model.params, metrics={}, data=train,
        tenant="acme",
    )  # fmt: skip
    secret = tmp_path / "secret.csv"
    secret.write_text(SECRET)
    monkeypatch.chdir(home)
    with TestClient(create_app(), follow_redirects=False) as client:
        yield {
            "client": client,
            "theirs": theirs["id"],
            "theirs_path": str(datasets.resolve_source(theirs["id"])),
            "ours": ours["id"],
            "secret": str(secret),
            "home": home,
        }


def _refused_references(w: dict) -> list[str]:
    home = w["home"]
    return [
        w["theirs"],  # another tenant's dataset id
        w["theirs_path"],  # ... and the file behind it
        f"datasets/{w['theirs']}/fleet-of-default.txt",
        w["secret"],  # a file elsewhere on the server
        "/etc/shadow",  # unreadable: must answer as a missing file does
        "/nonexistent/fleet.txt",
        "~/.bashrc",
        "../../../../../../etc/passwd",
        str(home / "odlar.db"),  # odlar's own state
        "odlar.db",  # relative to the server's working directory
        "odlar.db-wal",
        "pseudonym.key",
        str(home / "mlflow.db"),
    ]


def _fleet_page(c: TestClient, ref: str):  # noqa: ANN202
    return c.get("/ui/energy/rul", params={"dataset": ref})


def _unit_page(c: TestClient, ref: str):  # noqa: ANN202
    return c.get(f"/ui/energy/rul/{ref.lstrip('/')}/units/1")


def _job_form(c: TestClient, ref: str):  # noqa: ANN202
    return c.post("/ui/jobs", data={"task": "energy.rul", "data": ref, "method": "gbm"})


def _cluster_page(c: TestClient, ref: str):  # noqa: ANN202
    return c.get("/ui/datacenter", params={"pods": ref})


def _cluster_scene(c: TestClient, ref: str):  # noqa: ANN202
    return c.get("/ui/datacenter/scene", params={"pods": ref})


def _placement_form(c: TestClient, ref: str):  # noqa: ANN202
    return c.post("/ui/datacenter/place", data={"pods": ref, "cpu_milli": "1", "memory_mib": "1"})


def _solve_form(c: TestClient, ref: str):  # noqa: ANN202
    return c.post("/ui/admin/timetabling/solve", data={"instance": ref, "time_limit": "5"})


ROUTES = {"fleet": _fleet_page, "unit trends": _unit_page, "job form": _job_form,
          "cluster": _cluster_page, "cluster scene": _cluster_scene, "placement": _placement_form,
          "timetable solve": _solve_form}  # fmt: skip


def test_console_refuses_what_the_api_refuses(world: dict) -> None:
    c = _signed_in(world["client"], "eve", "acme")
    for route, ref in [(route, ref) for route in ROUTES for ref in _refused_references(world)]:
        r = ROUTES[route](c, ref)
        assert r.status_code == 404, (route, ref, r.status_code, r.text[-400:])
        for leaked in ("hunter2", "secret_col", "fleet-of-default", "columns", "SQLite"):
            assert leaked in ref or leaked not in r.text, (route, ref, leaked)
        assert PREDICTIONS not in r.text, (route, ref, "predictions of a refused fleet")
    # the API answers the same references the same way
    token = accounts.create_token("eve", tenant="acme", actor="test")
    for ref in _refused_references(world):
        api = c.post(
            "/api/v1/jobs", json={"task": "energy.rul", "data": ref},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert api.status_code == 404, (ref, api.text)
    # dot segments and ~ in the unit page's path
    for segment in ("%2E%2E", "%2E%2E%2Fodlar.db", "~", ".%2E/.%2E/etc/passwd"):
        raw = f"/ui/energy/rul/{segment}/units/1"
        r = c.get(raw)
        assert r.status_code == 404, (raw, r.status_code, r.text[-300:])
        assert "columns" not in r.text and "root:" not in r.text, raw


def test_console_reads_the_tenants_own_data_and_viewers_no_readings(world: dict) -> None:
    c = _signed_in(world["client"], "eve", "acme")
    r = _fleet_page(c, world["ours"])
    assert r.status_code == 200 and PREDICTIONS in r.text, r.text[-400:]
    r = _unit_page(c, world["ours"])
    assert r.status_code == 200 and "varying sensors" in r.text, r.text[-400:]
    # a public dataset under ODLAR_DATA, by its path: the link to each unit keeps working
    public = "energy/cmapss/test_FD001.txt"
    r = _fleet_page(c, public)
    assert r.status_code == 200 and f"/ui/energy/rul/{public}/units/1\"" in r.text
    assert _unit_page(c, public).status_code == 200
    c = _signed_in(world["client"], "val", "acme")
    r = _unit_page(c, world["ours"])
    assert r.status_code == 403 and "viewer" in r.text

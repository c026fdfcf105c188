"""The timetabling console pages and the export route: an operator starts a solve of ITC
2007 comp01 as a job of its tenant, the timetable shows as week grids with its constraints
and cost beside the best known, downloads serve approved timetables only, bad input gets a
4xx in the page with the form kept, and another tenant sees none of it."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import SHARED_DATA
from odlar.governance import accounts

ITC = SHARED_DATA / "admin" / "itc2007-cct"
PASSWORD = "timetabling-page-test-password"
EXPORT = "/api/v1/tasks/admin.timetabling/timetables"
SOLVE = {"instance": "admin/itc2007-cct/comp01.ctt", "method": "anneal", "time_limit": "2",
         "seed": "0"}  # fmt: skip


@pytest.fixture
def world(home: Path, monkeypatch: pytest.MonkeyPatch):
    """Users of each role in tenant 'default', an admin in tenant 'acme'; jobs are started
    by the test in its own process (the scheduler does not spawn them)."""
    from odlar.core.compute import scheduler
    from odlar.server.app import create_app

    monkeypatch.setattr(scheduler, "dispatch", lambda *a, **k: None)
    token = accounts.ensure_admin()
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    accounts.create_user("olga", "operator", tenant="default", actor="test", password=PASSWORD)
    accounts.create_user("vera", "viewer", tenant="default", actor="test", password=PASSWORD)
    accounts.create_tenant("acme", actor="test")
    accounts.create_user("bob", "admin", tenant="acme", actor="test", password=PASSWORD)
    bob = accounts.create_token("bob", tenant="acme", actor="test")
    with TestClient(create_app(), follow_redirects=False) as client:
        yield client, token, bob


def _as(client: TestClient, user: str, tenant: str = "default") -> TestClient:
    client.cookies.clear()
    r = client.post("/ui/sign-in", data={"user": user, "password": PASSWORD, "tenant": tenant})
    assert r.status_code == 303, r.text
    return client


def test_solve_view_export_and_tenants_apart(world, monkeypatch: pytest.MonkeyPatch) -> None:
    from odlar.core import config, jobs

    client, token, bob = world
    c = _as(client, "vera")
    page = c.get("/ui/admin/timetabling")
    assert page.status_code == 200 and 'href="/ui/admin/timetabling"' in page.text
    assert "comp01 (ITC 2007)" in page.text and "Start solve" not in page.text
    assert c.post("/ui/admin/timetabling/solve", data=SOLVE).status_code == 403

    c = _as(client, "olga")
    r = c.post("/ui/admin/timetabling/solve", data=SOLVE)
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/jobs/")
    job_id = r.headers["location"].rsplit("/", 1)[1]
    job = jobs.get(job_id, tenant="default")
    assert job.task == "admin.timetabling" and job.spec["params"]["time_limit"] == 2.0
    assert jobs.run(job_id).state == "succeeded"

    page = c.get("/ui/admin/timetabling").text
    assert 'href="/ui/admin/timetabling/1"' in page and "pending" in page
    r = c.get("/ui/admin/timetabling/1")
    assert r.status_code == 200, r.text
    assert "Feasible: every hard constraint holds." in r.text
    assert "Week grid: curriculum q000" in r.text and "<td>ITC 2007 winner comp01</td>" in r.text
    assert "Gap to the best known (5)" in r.text
    r = c.get("/ui/admin/timetabling/1", params={"show": "room:B"})
    assert r.status_code == 200 and "Week grid: room B" in r.text
    # downloads: the competition's format, every lecture, the same cost when validated
    sol = c.get("/ui/admin/timetabling/1/export", params={"format": "sol"})
    assert sol.status_code == 200 and len(sol.text.splitlines()) == 160
    assert 'filename="comp01-v1.sol"' in sol.headers["content-disposition"]
    ics = c.get("/ui/admin/timetabling/1/export",
                params={"format": "ics", "view": "curriculum", "key": "q000"})  # fmt: skip
    assert ics.status_code == 200 and ics.text.startswith("BEGIN:VCALENDAR")
    api = client.get(f"{EXPORT}/1/export", params={"format": "csv"},
                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert api.status_code == 200 and api.text.startswith("course,teacher,room,day,period")

    review = client.get(f"{EXPORT}/1", params={"view": "room", "key": "B"},
                        headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
    assert review["approval"] == "pending" and review["best_known"] == 5
    assert review["hard_violations"] == 0 and {x["room"] for x in review["lectures"]} == {"B"}

    # with approval required, a pending timetable is not published
    monkeypatch.setenv("ODLAR_REQUIRE_APPROVAL", "true")
    config.reset_settings()
    r = c.get("/ui/admin/timetabling/1/export", params={"format": "sol"})
    assert r.status_code == 409 and "not approved" in r.text
    api = client.get(f"{EXPORT}/1/export",
                     headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert api.status_code == 409

    # tenant acme sees neither the timetable, nor the job, nor the file
    c = _as(client, "bob", "acme")
    assert c.get("/ui/admin/timetabling/1").status_code == 404
    assert c.get(f"/ui/jobs/{job_id}").status_code == 404
    assert 'href="/ui/admin/timetabling/1"' not in c.get("/ui/admin/timetabling").text
    for path in (f"{EXPORT}/1/export", f"{EXPORT}/1"):
        api = client.get(path, headers={"Authorization": f"Bearer {bob}"})
        assert api.status_code == 404, (path, api.text)


def test_bad_input_is_a_4xx_in_the_page_with_the_form_kept(world) -> None:
    client, token, _ = world
    c = _as(client, "olga")
    r = c.post("/ui/admin/timetabling/solve", data=SOLVE | {"instance": "admin/nosuch.ctt"})
    assert r.status_code == 404 and "admin/nosuch.ctt" in r.text
    assert 'value="admin/nosuch.ctt"' in r.text
    r = c.post("/ui/admin/timetabling/solve", data=SOLVE | {"time_limit": "soon"})
    assert r.status_code == 400 and "time limit 'soon' is not a number" in html.unescape(r.text)
    assert 'value="soon"' in r.text
    r = c.post("/ui/admin/timetabling/solve", data=SOLVE | {"method": "magic"})
    assert r.status_code == 400 and "no method 'magic'" in html.unescape(r.text)
    bad = b"Name: x\nCourses: 1\nRooms: 1\nDays: 1\nPeriods_per_day: 1\nCurricula: 0\n"
    r = c.post("/ui/admin/timetabling/upload", files={"file": ("bad.ctt", bad)})
    assert r.status_code == 422 and "bad.ctt" in r.text
    good = (ITC / "comp01.ctt").read_bytes()
    r = c.post("/ui/admin/timetabling/upload", files={"file": ("term.ctt", good)})
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/admin/timetabling?")
    page = c.get(r.headers["location"]).text
    uploaded = r.headers["location"].split("instance=", 1)[1]
    assert "term.ctt (uploaded, 160 lectures)" in page and f'value="{uploaded}"' in page
    assert c.get("/ui/admin/timetabling/7").status_code == 404
    r = client.get(f"{EXPORT}/1/export", params={"format": "pdf"},
                   headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 422

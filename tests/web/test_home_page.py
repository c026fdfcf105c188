"""The console's home page says what needs a look now (open incidents and their alerts,
running and queued jobs, versions waiting for approval), each count linking to its page,
counted by the same functions as those pages and for the signed-in user's tenant only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from odlar.core import alerts, jobs, tracking
from odlar.core.alerts import Change
from odlar.core.tasks import Dataset
from odlar.governance import accounts

PASSWORD = "home-page-test-password"


def seed(tenant: str = "default") -> None:
    """One TEP-like fault (a process alert and 25 frozen sensors) and one sensor finding on
    another stream; a queued job; a version waiting for approval and an approved one."""

    frozen = [Change("open", "sensor_frozen", f"sensor_frozen:XMEAS({j})", 100 + j, None,
                     contributors=[{"variable": f"XMEAS({j})", "share": 1.0}])
              for j in range(1, 26)]  # fmt: skip
    for stream, changes in (
        ("tep-run-7", [*frozen, Change("open", "process", "process", 90, None, score=8.5)]),
        ("skab-valve", [Change("open", "sensor_dead", "sensor_dead:Pressure", 5, None)]),
    ):
        alerts.apply(changes, tenant=tenant, task="energy.faults", stream=stream,
                     model_version=1, detector="pca", statistic="T2")  # fmt: skip
    jobs.create(jobs.FitSpec(task="energy.rul", data="energy/cmapss/train_FD001.txt"),
                tenant=tenant, created_by="test")  # fmt: skip
    data = Dataset(frame=None, source="train.csv", sha256="0" * 64, rows=3)
    for _ in range(2):
        tracking.log_model_version("energy.rul", {"w": 1}, method="gbm", params={},
                                   metrics={}, data=data, tenant=tenant)  # fmt: skip
    from odlar.core.store import ModelDecision, session_scope, utcnow

    with session_scope() as s:  # version 1 approved (the checks are tested elsewhere)
        s.add(ModelDecision(tenant=tenant, task="energy.rul", version=1, decision="approved",
                            actor="test", reason="test", at=utcnow()))  # fmt: skip


@pytest.fixture
def client(home: Path):
    from odlar.server.app import create_app

    accounts.ensure_admin()
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    accounts.create_tenant("acme", actor="test")
    accounts.create_user("vera", "viewer", tenant="acme", actor="test", password=PASSWORD)
    seed()
    with TestClient(create_app(), follow_redirects=False) as c:
        yield c


def _sign_in(c: TestClient, user: str, tenant: str) -> None:
    r = c.post("/ui/sign-in", data={"user": user, "password": PASSWORD, "tenant": tenant,
                                    "next": "/ui/"})  # fmt: skip
    assert r.status_code == 303


def _counts(page: str) -> dict[str, tuple[int, str | None]]:
    out = {}
    for href, key, n in re.findall(
        r'<(?:a href="([^"]*)"|span class="count") data-count="([^"]*)"><strong>([\d,]+)<',
        page,
    ):
        out[key] = (int(n.replace(",", "")), href or None)
    return out


def test_home_counts_link_to_their_pages(client: TestClient) -> None:
    _sign_in(client, "admin", "default")
    counts = _counts(client.get("/ui/").text)
    assert counts == {
        "open incidents": (2, "/ui/energy/alerts?state=open"),
        "open alerts in them": (27, "/ui/energy/alerts?state=open"),
        "running jobs": (0, "/ui/jobs"),
        "queued jobs": (1, "/ui/jobs"),
        "versions waiting for approval": (1, "/ui/models?state=pending"),
    }
    # each count is what its page shows
    assert client.get("/ui/energy/alerts?state=open").text.count('<tr class="incident') == 2
    waiting = client.get("/ui/models?state=pending").text
    assert waiting.count('class="state-pending"') == 1 and "state-approved" not in waiting
    assert client.get("/ui/models?state=maybe").status_code == 400
    assert "<strong>1</strong> version waiting for approval" in client.get("/ui/").text


def test_home_counts_only_the_users_tenant(client: TestClient) -> None:
    _sign_in(client, "vera", "acme")
    counts = _counts(client.get("/ui/").text)
    assert {label: n for label, (n, _) in counts.items()} == {
        "open incidents": 0, "open alerts in them": 0, "running jobs": 0, "queued jobs": 0,
        "versions waiting for approval": 0,
    }  # fmt: skip

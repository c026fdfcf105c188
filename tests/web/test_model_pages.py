"""A model's console page for a signed-in browser: its documentation links open (they are
console routes, not the token-only API), and the energy.rul benchmark recorded on this
installation (dataset `cmapss/FD001`, a name with a slash) reaches the Benchmarks page and
the model documentation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from odlar.core.tasks import Anchor, BenchResult

PASSWORD = "model-pages-test-password"


@pytest.fixture
def browser(home: Path, cmapss: Path, quick_gbm):
    from odlar.core import bench, tracking
    from odlar.core.tasks import get_task
    from odlar.governance import accounts
    from odlar.server.app import create_app

    accounts.ensure_admin()
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    train = get_task("energy.rul").load(cmapss / "train_FD001.txt")
    tracking.log_model_version(
        "energy.rul", quick_gbm, method="gbm", params=quick_gbm.params, metrics={}, data=train
    )
    result = BenchResult(
        task="energy.rul", dataset="cmapss/FD001", protocol="test protocol",
        results=[{"method": "gbm", "metrics": {"rmse": 15.5}}],
        anchors=[Anchor(method="published", metrics={"rmse": 12.0}, source="a paper")],
    )  # fmt: skip
    bench._package(result, quick=False, wall=1.0)
    with TestClient(create_app(), follow_redirects=False) as client:
        r = client.post(
            "/ui/sign-in",
            data={"user": "admin", "password": PASSWORD, "tenant": "default", "next": "/ui/"},
        )
        assert r.status_code == 303, r.text
        yield client


def test_documentation_links_open_for_a_signed_in_browser(browser: TestClient) -> None:
    page = browser.get("/ui/models/energy.rul/1")
    assert page.status_code == 200
    links = [part.split('"')[0] for part in page.text.split('href="')[1:]]
    docs = [link.replace("&amp;", "&") for link in links if "documentation" in link]
    assert len(docs) == 3
    for link in docs:
        r = browser.get(link)
        assert r.status_code == 200, (link, r.status_code)
    as_json = browser.get("/ui/models/energy.rul/1/documentation?format=json").json()
    assert as_json["model"] == "energy.rul/1"
    assert "text/markdown" in browser.get(docs[1]).headers["content-type"]
    bad = browser.get("/ui/models/energy.rul/1/documentation?format=pdf")
    assert bad.status_code == 400 and "format must be html, markdown or json" in bad.text


def test_a_benchmark_on_a_dataset_with_a_slash_is_shown(browser: TestClient, home: Path) -> None:
    assert [p.name for p in (home / "bench").iterdir()] == ["energy.rul-cmapss_FD001-full.json"]
    assert "cmapss/FD001" in browser.get("/ui/benchmarks").text
    doc = browser.get("/ui/models/energy.rul/1/documentation?format=json").json()
    (run,) = doc["4_performance"]["benchmarks"]
    assert run["dataset"] == "cmapss/FD001"
    recorded = json.loads((home / "bench" / "energy.rul-cmapss_FD001-full.json").read_text())
    assert recorded["environment"]["commit"]  # the worktree's commit, cited by the document
    assert run["commit"] == recorded["environment"]["commit"]


def test_runs_recorded_before_the_fix_are_read(home: Path) -> None:
    from odlar.core import bench

    old = home / "bench" / "energy.rul-cmapss" / "FD001-full.json"
    old.parent.mkdir(parents=True)
    old.write_text(json.dumps({"task": "energy.rul", "dataset": "cmapss/FD001", "quick": False}))
    assert [r["dataset"] for r in bench.recorded("energy.rul")] == ["cmapss/FD001"]

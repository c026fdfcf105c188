"""The data-center console page on a slice of the real Alibaba trace: the cluster and the
policies' curves for readers, placements for operators through the serving gate, errors in
the page with the form kept, tenants kept apart, and a compact event-log record per
placement."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from conftest import REPO, SHARED_DATA
from odlar.governance import accounts

TRACE = SHARED_DATA / "datacenter" / "alibaba-gpu-v2023" / "csv"
FOLDER = "datacenter/alibaba-gpu-v2023/csv"
PASSWORD = "datacenter-page-test-password"


def _head(src: Path, dest: Path, lines: int) -> None:
    with src.open() as f:
        dest.write_text("".join(line for _, line in zip(range(lines), f, strict=False)))


@pytest.fixture
def world(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """ODLAR_DATA holds the trace's first 80 GPU nodes and first 400 default pods (real
    rows); users of each role in tenant 'default', an admin in tenant 'acme'."""
    from odlar.core import config
    from odlar.server.app import create_app

    data = tmp_path / "data"
    folder = data / FOLDER
    folder.mkdir(parents=True)
    _head(TRACE / "openb_node_list_gpu_node.csv", folder / "openb_node_list_gpu_node.csv", 81)
    _head(TRACE / "openb_pod_list_default.csv", folder / "openb_pod_list_default.csv", 401)
    monkeypatch.setenv("ODLAR_DATA", str(data))
    config.reset_settings()
    accounts.ensure_admin()
    accounts.set_password("admin", PASSWORD, tenant="default", actor="test")
    accounts.create_user("olga", "operator", tenant="default", actor="test", password=PASSWORD)
    accounts.create_user("vera", "viewer", tenant="default", actor="test", password=PASSWORD)
    accounts.create_tenant("acme", actor="test")
    accounts.create_user("bob", "admin", tenant="acme", actor="test", password=PASSWORD)
    with TestClient(create_app(), follow_redirects=False) as client:
        yield client


def _policy_version() -> None:
    """A best-fit policy version of tenant 'default', fitted on the slice."""
    from odlar.core import config, tracking
    from odlar.core.tasks import get_task

    task = get_task("datacenter.scheduling")
    train = task.load(config.get_settings().data_dir / FOLDER / "openb_pod_list_default.csv")
    model = task.fit(train, method="bestfit", params={"seeds": "42"}, progress=lambda f, m: None)
    tracking.log_model_version("datacenter.scheduling", model, method="bestfit",
                               params=model.params, metrics={}, data=train)  # fmt: skip


def _as(client: TestClient, user: str, tenant: str = "default") -> TestClient:
    client.cookies.clear()
    r = client.post("/ui/sign-in", data={"user": user, "password": PASSWORD, "tenant": tenant})
    assert r.status_code == 303, r.text
    return client


POD = {"pods": f"{FOLDER}/openb_pod_list_default.csv", "policy": "fgd", "percent": "60",
       "seed": "42", "compare": "random,fgd", "cpu_milli": "4000", "memory_mib": "8192",
       "num_gpu": "1", "gpu_milli": "500", "gpu_spec": ""}  # fmt: skip


def test_readers_see_the_cluster_curves_published_figures_and_errors(world: TestClient) -> None:
    from odlar.core import bench

    # the committed full bench, as `odlar bench datacenter.scheduling` records it here
    recorded = bench.recorded_path("datacenter.scheduling", "alibaba-gpu-v2023", quick=False)
    recorded.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "benchmarks" / "results" / "datacenter.scheduling.json", recorded)
    from odlar.datacenter import web

    web._SCENES.clear()  # replays kept by an earlier test of this process
    c = _as(world, "vera")
    query = {"percent": "60", "compare": "random,fgd"}
    r = c.get("/ui/datacenter", params=query)  # at once; the replays come in after it shows
    assert r.status_code == 200 and 'hx-get="/ui/datacenter/scene?' in r.text, r.text
    assert 'href="/ui/datacenter"' in r.text  # in the navigation
    committed = json.loads(recorded.read_text())
    ours = next(x for x in committed["results"] if x["method"] == "default/random")
    # default/random: ours (the committed run) / published
    assert f"{ours['metrics']['gpu_allocated']:.2f} / 87.47" in r.text
    scene = c.get("/ui/datacenter/scene", params=query)
    assert scene.status_code == 200 and "80 nodes" in scene.text
    r = c.get("/ui/datacenter", params=query)  # kept: drawn in the page itself
    assert r.status_code == 200 and "hx-get" not in r.text
    assert "80 nodes" in r.text and "Heat map of milli-GPU allocated" in r.text
    figures = html.unescape(r.text)
    assert '"name": "random"' in figures and '"name": "fgd"' in figures  # both curves drawn
    assert "Place</button>" not in r.text  # a viewer may not place
    assert c.post("/ui/datacenter/place", data=POD).status_code == 403
    # bad input: a 4xx in the page, the form keeping what was typed
    r = c.get("/ui/datacenter", params={"percent": "250", "compare": "random,fgd"})
    assert r.status_code == 400 and "percent 250 must be between 1 and 130" in r.text
    assert 'value="250"' in r.text  # the form keeps what was typed
    r = c.get("/ui/datacenter", params={"compare": "random,nosuch"})
    assert r.status_code == 400 and "unknown policy nosuch" in r.text
    r = c.get("/ui/datacenter", params={"pods": "datacenter/none.csv"})
    assert r.status_code == 404 and "datacenter/none.csv" in r.text


def test_placements_are_compact_records_and_tenants_are_apart(world: TestClient) -> None:
    from odlar.core import audit

    _policy_version()
    c = _as(world, "olga")
    r = c.post("/ui/datacenter/place", data=POD)
    assert r.status_code == 200, r.text
    assert "<strong>Chosen: node openb-node-" in r.text and "Best-scored nodes" in r.text
    event = next(e for e in audit.events("default", action="predict")
                 if e["target"] == "datacenter.scheduling")  # fmt: skip
    record = json.loads(event["output"])
    # the decision, not every node's score: request, node, score, policy, a digest
    assert set(record) >= {"pod", "node", "gpus", "score", "policy", "answer_sha256"}
    assert record["policy"] == "bestfit" and record["nodes"] == 80
    assert record["pod"]["gpu_milli"] == 500 and record["node"].startswith("openb-node-")
    assert len(event["output"]) < 1000 and "feasible\": [" not in event["output"]
    # a bad field: a 422 naming it, in the page, the form kept
    r = c.post("/ui/datacenter/place", data=POD | {"gpu_milli": "1500"})
    assert r.status_code == 422 and "pod.gpu_milli" in r.text and 'value="1500"' in r.text
    r = c.post("/ui/datacenter/place", data=POD | {"cpu_milli": "lots"})
    assert r.status_code == 422 and "pod.cpu_milli" in r.text and 'value="lots"' in r.text
    c = _as(world, "admin")
    assert c.post("/ui/datacenter/place", data=POD).status_code == 200
    page = c.get("/ui/datacenter", params={"percent": "60", "compare": "fgd"}).text
    assert "Latest placements in this tenant" in page and ">admin</td>" in page
    # acme's admin: no policy of its own to serve, and none of default's placements shown
    c = _as(world, "bob", "acme")
    r = c.post("/ui/datacenter/place", data=POD)
    assert r.status_code == 404 and "has no trained model" in r.text
    page = c.get("/ui/datacenter", params={"percent": "60", "compare": "fgd"}).text
    assert "No placements yet." in page and ">admin</td>" not in page

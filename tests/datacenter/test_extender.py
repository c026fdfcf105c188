"""The cluster the server holds and the scheduler extender routes: the held answers equal
the full-state predict's for the same state, binds and unbinds change the state, a stale
version gets 409, roles are enforced, and every call is an event-log record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA
from odlar.core.errors import Conflict, DataError
from odlar.datacenter import extender as X
from odlar.datacenter.frag import target_of
from odlar.datacenter.held import HeldCluster
from odlar.datacenter.latency import busy_cluster
from odlar.datacenter.placement import (
    ClusterTable,
    PendingPod,
    PlacementModel,
    PlacementRequest,
    predict,
)
from odlar.datacenter.trace import load_pods

TRACE = SHARED_DATA / "datacenter" / "alibaba-gpu-v2023" / "csv"
BASE = "/api/v1/tasks/datacenter.scheduling"


@pytest.fixture(scope="module")
def pods():
    return load_pods(TRACE / "openb_pod_list_default.csv")


def _pod(pods, k: int) -> PendingPod:
    return PendingPod(name=pods.names[k], cpu_milli=int(pods.cpu[k]),
                      memory_mib=int(pods.memory[k]), num_gpu=int(pods.num_gpu[k]),
                      gpu_milli=int(pods.gpu_milli[k]), gpu_spec=pods.spec[k])  # fmt: skip


@pytest.mark.parametrize("method", ["fgd", "bestfit", "clustering", "random"])
def test_held_answers_equal_the_full_state_predict(pods, method: str) -> None:
    """The 1,523 busy nodes held, 40 pods placed, each answer (node, GPUs, every feasible
    node's score and priority, every failed node's reason) compared with a full-state
    request for the same state; every fourth is bound, so later answers are on a state the
    binds changed (and the full-state request is built from that changed state)."""
    model = PlacementModel(method, {"seed": 0}, target_of(pods))
    table = ClusterTable(**busy_cluster(TRACE))
    cluster = HeldCluster.build(model, 1, table, version=1)
    rng = np.random.default_rng(7)
    names = list(table.name)
    bound = 0
    for i in range(40):
        pod = _pod(pods, int(rng.integers(pods.size)))
        order = [names[j] for j in rng.permutation(len(names))[:1000]]  # some, shuffled
        held, unknown = cluster.place(model, pod, order)
        full = predict(model, PlacementRequest(nodes=_only(cluster.table(), order), pod=pod))
        assert unknown == []
        assert held.model_dump() == full.model_dump(), (method, i)
        if i % 4 == 0 and held.node is not None:
            cluster.remember(f"p{i}", pod, held)
            b = cluster.bind(model, f"p{i}", held.node)
            assert b.gpus == held.gpus
            bound += 1
    assert bound >= 5 and cluster.version == 1 + bound


def _only(table: ClusterTable, names: list[str]) -> ClusterTable:
    where = {n: i for i, n in enumerate(table.name)}
    rows = [where[n] for n in names]
    return ClusterTable.model_construct(**{
        c: [getattr(table, c)[i] for i in rows]
        for c in ("name", "model", "cpu_free", "memory_free", "gpu_free", "gpu_pods")
    })  # fmt: skip


def test_bind_and_unbind_change_the_node_and_nothing_else(pods) -> None:
    model = PlacementModel("fgd", {"seed": 0}, target_of(pods))
    table = ClusterTable(name=["a", "b"], model=["T4", "T4"], cpu_free=[8000, 8000],
                         memory_free=[9000, 9000],
                         gpu_free=[[1000, 1000], [1000, 600]])  # fmt: skip
    cluster = HeldCluster.build(model, 1, table, version=1)
    pod = PendingPod(cpu_milli=1000, memory_mib=100, num_gpu=1, gpu_milli=500)
    with pytest.raises(Conflict, match="not filtered or prioritized"):
        cluster.bind(model, "ns/p", "b")
    cluster.remember("ns/p", pod)
    b = cluster.bind(model, "ns/p", "b")
    assert (b.node, b.gpus) == ("b", [1]) and cluster.version == 2
    after = cluster.table()
    assert after.gpu_free == [[1000, 1000], [1000, 100]]
    assert after.cpu_free == [8000, 7000] and after.memory_free == [9000, 8900]
    with pytest.raises(Conflict, match="bound already"):
        cluster.remember("ns/p", pod)
        cluster.bind(model, "ns/p", "a")
    cluster.unbind("ns/p")
    assert cluster.table().gpu_free == table.gpu_free and cluster.version == 3
    with pytest.raises(Conflict, match="stale"):
        cluster.check(2)
    cluster.change_nodes(model, 1, ClusterTable(name=["c"], model=[""], cpu_free=[1],
                                                memory_free=[1], gpu_free=[[]]), ["a"])  # fmt: skip
    assert cluster.table().name == ["b", "c"] and cluster.version == 4
    again = ClusterTable(name=["b"], model=[""], cpu_free=[1], memory_free=[1], gpu_free=[[]])
    with pytest.raises(DataError, match="in the cluster state already"):
        cluster.change_nodes(model, 1, again, [])


def test_a_kubernetes_pod_is_read_with_its_quantities() -> None:
    pod = X.KubePod.model_validate({
        "metadata": {"name": "train", "namespace": "ml", "uid": "u1", "annotations": {
            X.GPU_MILLI: "500", X.GPU_MODEL: "T4|V100M32"}},
        "spec": {"containers": [{"resources": {"requests": {"cpu": "1500m", "memory": "1Gi"}}},
                                {"resources": {"requests": {"cpu": "1", "memory": "512M"}}}],
                 "initContainers": [{"resources": {"requests": {"cpu": "4"}}}]},
    })  # fmt: skip
    p = X.pending_pod(pod)
    assert (p.cpu_milli, p.memory_mib, p.num_gpu, p.gpu_milli, p.gpu_spec) == (
        4000, 1024 + 489, 1, 500, "T4|V100M32")  # 512e6 B is 488.3 MiB: rounded up
    whole = X.KubePod.model_validate(
        {"spec": {"containers": [{"resources": {"requests": {"nvidia.com/gpu": 2}}}]}})
    assert (X.pending_pod(whole).num_gpu, X.pending_pod(whole).gpu_milli) == (2, 1000)
    bad = X.KubePod.model_validate(
        {"spec": {"containers": [{"resources": {"requests": {"cpu": "two"}}}]}})
    with pytest.raises(DataError) as e:
        X.pending_pod(bad)
    assert e.value.field == "Pod.spec.containers[0].resources.requests.cpu"


def _kube(name: str, cpu: str, milli: int) -> dict:
    return {"metadata": {"name": name, "namespace": "ml", "uid": f"uid-{name}",
                         "annotations": {X.GPU_MILLI: str(milli)}},
            "spec": {"containers": [{"resources": {"requests": {"cpu": cpu,
                                                                "memory": "100Mi"}}}]}}  # fmt: skip


@pytest.mark.slow  # a fit job, MLflow and the server: a minute on a busy machine
def test_extender_routes_over_http(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from odlar.core import audit, jobs
    from odlar.core.config import reset_settings
    from odlar.governance import accounts, approval
    from odlar.server.app import create_app

    monkeypatch.setenv("ODLAR_REQUIRE_APPROVAL", "true")
    reset_settings()
    spec = jobs.FitSpec(task="datacenter.scheduling",
                        data=str(TRACE / "openb_pod_list_default.csv"), method="bestfit",
                        params={"cluster_fraction": 0.05, "seeds": "42"})  # fmt: skip
    version = int(jobs.run(jobs.create(spec, created_by="test").id).result["model"]["version"])
    admin = {"Authorization": f"Bearer {accounts.ensure_admin()}"}
    accounts.create_user("vic", "viewer", tenant="default", actor="test")
    viewer = {"Authorization": f"Bearer {accounts.create_token('vic', actor='test')}"}
    nodes = {"name": ["a", "b", "cpu"], "model": ["T4", "T4", ""],
             "cpu_free": [8000, 8000, 64000], "memory_free": [9000, 9000, 9000],
             "gpu_free": [[1000, 1000], [1000, 600], []]}  # fmt: skip
    args = {"Pod": _kube("p1", "1", 500), "NodeNames": ["a", "b", "cpu", "ghost"]}
    with TestClient(create_app()) as client:
        r = client.put(f"{BASE}/cluster", json=nodes, headers=admin)
        assert r.status_code == 409 and "no approved model version" in r.text, r.text
        approval.approve("default", "datacenter.scheduling", version, actor="test",
                         reason="test", override=True)  # fmt: skip
        r = client.post(f"{BASE}/extender/filter", json=args, headers=admin)
        assert r.status_code == 409 and "no cluster state held" in r.text
        assert client.put(f"{BASE}/cluster", json=nodes, headers=viewer).status_code == 403
        r = client.put(f"{BASE}/cluster", json=nodes, headers=admin)
        assert r.status_code == 200 and r.json()["version"] == 1, r.text
        assert client.get(f"{BASE}/cluster", headers=viewer).json()["nodes"] == 3

        r = client.post(f"{BASE}/extender/filter", json=args, headers=admin)
        assert r.status_code == 200 and r.headers["x-cluster-version"] == "1"
        got = r.json()
        full = client.post(f"{BASE}/predict", headers=admin, json={
            "nodes": nodes, "pod": {"cpu_milli": 1000, "memory_mib": 100, "num_gpu": 1,
                                    "gpu_milli": 500}}).json()  # fmt: skip
        assert got["NodeNames"] == full["feasible"] == ["a", "b"]
        assert set(got["FailedNodes"]) == {"cpu"} and set(got["FailedAndUnresolvableNodes"]) == {
            "ghost"}
        r = client.post(f"{BASE}/extender/prioritize", json=args, headers=admin)
        assert r.json() == [{"Host": h, "Score": s} for h, s in zip(
            full["feasible"], full["priority"], strict=True)] + [{"Host": "cpu", "Score": 0}]
        assert client.post(f"{BASE}/extender/filter", json=args, headers=viewer).status_code == 403

        bind = {"PodName": "p1", "PodNamespace": "ml", "PodUID": "uid-p1", "Node": "b"}
        r = client.post(f"{BASE}/extender/bind", json=bind, headers=admin)
        assert r.status_code == 200 and r.json()["Error"] == "" and r.json()["GPUs"] == [1]
        assert r.json()["Version"] == 2 and r.headers["x-cluster-version"] == "2"
        again = client.post(f"{BASE}/extender/bind", json=bind, headers=admin)
        assert again.status_code == 409
        # the bind took 500 milli-GPU of b's GPU 1 and 1000 milli-CPU
        info = client.get(f"{BASE}/cluster", headers=viewer).json()
        assert info["gpu_milli_free"] == 3600 - 500 and info["bound_pods"] == 1
        big = {"Pod": _kube("p3", "7500m", 500), "NodeNames": ["a", "b"]}
        assert client.post(f"{BASE}/extender/filter", json=big, headers=admin).json()[
            "NodeNames"] == ["a"]  # b has 7000 milli-CPU left
        # a stale client: 409; the version it is told about: no conflict
        r = client.post(f"{BASE}/extender/filter", json=args,
                        headers={**admin, "X-Cluster-Version": "1"})  # fmt: skip
        assert r.status_code == 409 and "version 2" in r.text
        r = client.patch(f"{BASE}/cluster", json={"version": 1, "unbind": ["uid-p1"]},
                         headers=admin)  # fmt: skip
        assert r.status_code == 409
        r = client.patch(f"{BASE}/cluster", headers=admin, json={
            "version": 2, "unbind": ["uid-p1"], "remove": ["cpu"],
            "add": {"name": ["c"], "model": ["A10"], "cpu_free": [1000], "memory_free": [1000],
                    "gpu_free": [[1000]]}})  # fmt: skip
        assert r.status_code == 200 and r.json()["version"] == 4 and r.json()["nodes"] == 3
        r = client.patch(f"{BASE}/cluster", json={"version": 4, "remove": ["zz"]},
                         headers=admin)  # fmt: skip
        assert r.status_code == 422 and r.json()["field"] == "remove"
        r = client.post(f"{BASE}/extender/filter", headers=admin, json={
            "Pod": {"metadata": {"annotations": {X.GPU_MILLI: "2000"}}}})  # fmt: skip
        assert r.status_code == 422 and "alibabacloud.com/gpu-milli" in r.json()["field"]
        approval.revoke("default", "datacenter.scheduling", version, actor="test", reason="t")
        r = client.post(f"{BASE}/extender/filter", json=args, headers=admin)
        assert r.status_code == 409 and "revoked" in r.text
    actions = [e["action"] for e in audit.events("default", limit=100)]
    for action in ("cluster_set", "extender_filter", "extender_prioritize", "extender_bind",
                   "cluster_change"):  # fmt: skip
        assert action in actions, action
    filtered = next(e for e in audit.events("default", action="extender_filter", limit=1))
    assert '"node":"a"' in filtered["output"] or '"node":"b"' in filtered["output"]


def test_the_latency_bench_checks_its_settings() -> None:
    from odlar.core import benchmarks
    from odlar.core.errors import UsageError
    from odlar.datacenter.latency import paths_of, requests_of

    assert paths_of("filter, predict") == ("filter", "predict")
    with pytest.raises(UsageError, match="nope unknown"):
        paths_of("filter,nope")
    for bad in ("many", 0, True):
        with pytest.raises(UsageError, match="whole number of requests"):
            requests_of(bad)
    with pytest.raises(UsageError, match="no setting reqs"):
        benchmarks.find("datacenter.scheduling", "api").check({"reqs": 5})

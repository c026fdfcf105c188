"""datacenter.scheduling: trace loading, the replay's invariants, FGD's arithmetic, the
policies on a slice of the real trace, placement requests, capacity planning, the CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA
from odlar.core.errors import DataError
from odlar.datacenter import capacity
from odlar.datacenter.cli import app
from odlar.datacenter.frag import Fragmentation, Target, target_of
from odlar.datacenter.placement import (
    ClusterTable,
    PendingPod,
    PlacementModel,
    PlacementRequest,
    predict,
)
from odlar.datacenter.policies import FragmentationGradient, decide, make
from odlar.datacenter.replay import replay
from odlar.datacenter.state import ClusterState, pod_of
from odlar.datacenter.trace import load_nodes, load_pods
from odlar.datacenter.views import allocation_curves, nodes_at

TRACE = SHARED_DATA / "datacenter" / "alibaba-gpu-v2023" / "csv"
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,creation_time,deletion_time\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """Two 2-GPU nodes (T4, V100) and a CPU node."""
    write(
        tmp_path / "nodes.csv",
        "sn,cpu_milli,memory_mib,gpu,model\n"
        "n0,32000,65536,2,T4\n"
        "n1,32000,65536,2,V100M32\n"
        "n2,16000,32768,0,\n",
    )
    return tmp_path


# --- loading -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("row", "line", "column", "words"),
    [
        ("p0,4000,100,1,abc,,0,10\n", 2, "gpu_milli", "not a whole number"),
        ("p0,4000,100,1,1500,,0,10\n", 2, "gpu_milli", "out of range"),
        ("p0,4000,100,2,500,,0,10\n", 2, "gpu_milli", "only single-GPU pods share"),
        ("p0,-5,100,0,0,,0,10\n", 2, "cpu_milli", "out of range"),
        ("p0,4000,100,1,0,,0,10\n", 2, "gpu_milli", "gpu_milli 0"),
        ("p0,4000,100,1,500,T4,10,5\n", 2, "deletion_time", "before it is created"),
        ("p0,4000,100,1,500,T 4,0,10\n", 2, "gpu_spec", "not a GPU model name"),
    ],
)
def test_pod_errors_name_file_line_and_column(
    tmp_path: Path, row: str, line: int, column: str, words: str
) -> None:
    path = write(tmp_path / "pods.csv", POD_HEADER + row)
    with pytest.raises(DataError) as e:
        load_pods(path)
    assert e.value.file == str(path) and e.value.line == line and e.value.field == column
    assert words in str(e.value) and f"pods.csv:{line}: column '{column}'" in str(e.value)


def test_pod_errors_on_a_later_line_and_duplicates(tmp_path: Path) -> None:
    ok = "p0,4000,100,1,500,,0,10\n"
    path = write(
        tmp_path / "pods.csv", POD_HEADER + ok + ok.replace("p0,", "p1,").replace("500", "x")
    )
    with pytest.raises(DataError, match=r"pods.csv:3: column 'gpu_milli'"):
        load_pods(path)
    path = write(tmp_path / "pods.csv", POD_HEADER + ok + ok)
    with pytest.raises(DataError, match=r"pods.csv:3: column 'name': pod 'p0' listed twice"):
        load_pods(path)


def test_missing_columns_and_node_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "pods.csv", "name,cpu_milli\np0,1\n")
    with pytest.raises(DataError, match=r"pods.csv:1: missing column\(s\) memory_mib"):
        load_pods(path)
    nodes = write(tmp_path / "nodes.csv", "sn,cpu_milli,memory_mib,gpu,model\nn0,1000,10,2,\n")
    with pytest.raises(DataError, match=r"nodes.csv:2: column 'model': .*2 GPUs but no model"):
        load_nodes(nodes)


def test_the_real_trace_loads() -> None:
    cluster = load_nodes(TRACE / "openb_node_list_gpu_node.csv")
    assert (cluster.size, cluster.total_gpus) == (1213, 6212)
    pods = load_pods(TRACE / "openb_pod_list_multigpu50.csv")  # no lifetimes in this one
    assert pods.size == 9061 and not pods.has_lifetimes
    spec = load_pods(TRACE / "openb_pod_list_gpuspec33.csv")
    assert sum(1 for s in spec.spec if s) == 8152 - 5764


# --- the simulator -----------------------------------------------------------------------


def test_replay_never_over_allocates(tiny: Path) -> None:
    rows = "".join(
        f"p{i},{2000 + 1000 * (i % 7)},{1000 * (i % 5)},{[0, 1, 1, 2][i % 4]},"
        f"{[0, 300, 1000, 1000][i % 4]},,0,10\n"
        for i in range(60)
    )
    workload = load_pods(write(tiny / "pods.csv", POD_HEADER + rows))
    cluster = load_nodes(tiny / "nodes.csv")
    for method in ("random", "bestfit", "packing", "clustering", "dotprod", "fgd", "fgd_plus"):
        state = ClusterState(cluster, Fragmentation.bind(target_of(workload), cluster.models))
        rng = np.random.default_rng(0)
        for i in range(workload.size):
            pod = pod_of(workload.cpu[i], workload.memory[i], workload.num_gpu[i],
                         workload.gpu_milli[i], "", cluster.models)  # fmt: skip
            choice = decide(make(method), state, pod, rng)
            if choice is not None:
                state.place(*choice, pod)
            assert (state.gpu_free >= 0).all() and (state.cpu_free >= 0).all()
            assert (state.memory_free >= 0).all()
            assert (state.gpu_free[~state.present] == 0).all(), "no milli-GPU on absent GPUs"
        assert state.allocated_milli > 0


def test_a_pod_that_fits_nowhere_fails(tiny: Path) -> None:
    workload = load_pods(
        write(tiny / "pods.csv", POD_HEADER + "big,1000,10,4,1000,,0,10\nok,1000,10,1,500,,0,10\n")
    )
    cluster = load_nodes(tiny / "nodes.csv")
    r = replay(cluster, workload, "fgd", protocol="once")
    assert r.failed[-1] == 1 and list(r.placement).count(-1) == 1
    state = ClusterState(cluster, Fragmentation.bind(target_of(workload), cluster.models))
    v100_only = pod_of(1000, 10, 2, 1000, "V100M32", cluster.models)
    assert decide(make("fgd"), state, v100_only, np.random.default_rng(0))[0] == 1
    nothing = pod_of(1000, 10, 1, 500, "A100", cluster.models)
    assert decide(make("fgd"), state, nothing, np.random.default_rng(0)) is None


def test_deletions_free_resources(tiny: Path) -> None:
    # each pod takes both GPUs of a node; six of them in turn fit only because each leaves
    rows = "".join(f"p{i},1000,10,2,1000,,{10 * i},{10 * i + 5}\n" for i in range(6))
    workload = load_pods(write(tiny / "pods.csv", POD_HEADER + rows))
    cluster = load_nodes(tiny / "nodes.csv")
    timeline = replay(cluster, workload, "bestfit", protocol="timeline")
    assert timeline.failed[-1] == 0 and timeline.allocated[-1] == 0
    assert timeline.allocated.max() == 2000
    once = replay(cluster, workload, "bestfit", protocol="once")  # nobody leaves
    assert once.failed[-1] == 4
    assert once.curve("failed")[max(once.curve("failed"))] == 4
    assert 0 <= min(once.curve("frag_ratio").values()) <= max(once.curve("frag_ratio").values())


# --- FGD ---------------------------------------------------------------------------------


def test_fgd_matches_a_hand_computed_fragmentation() -> None:
    # target: A (2 CPU, 0.5 GPU) half the pods, B (20 CPU, 1 GPU) a quarter, C CPU-only
    target = Target(
        cpu=np.array([2000, 20000, 1000]),
        num_gpu=np.array([1, 1, 0]),
        gpu_milli=np.array([500, 1000, 0]),
        spec=("", "", ""),
        share=np.array([0.5, 0.25, 0.25]),
    )
    frag = Fragmentation.bind(target, ("", "T4"))
    # a node with GPUs free [1000, 300] and 10 CPUs: A fits (the 300 is its fragment),
    # B lacks CPU (all 1,300 idle milli-GPU), C uses no GPU (all 1,300)
    f = frag.of(np.array([[1000, 300]]), np.array([10000]), np.array([1]))
    assert f[0] == pytest.approx(0.5 * 300 + 0.25 * 1300 + 0.25 * 1300)  # 800
    from odlar.datacenter.trace import Cluster

    cluster = Cluster(("n",), np.array([10000]), np.array([100]), np.array([2]),
                      np.array([1]), ("", "T4"))  # fmt: skip
    state = ClusterState(cluster, frag, np.array([[1000, 300]]))
    pod = pod_of(1000, 1, 1, 300, "", cluster.models)
    s = FragmentationGradient().scores(state, pod, np.array([0]), np.random.default_rng(0))
    # GPU 0 -> [700, 300]: F = 150 + 250 + 250 = 650; GPU 1 -> [1000, 0]: F = 0 + 250 + 250
    # = 500; scores int(100 sigmoid(decrease / 1000)): 53 and 57 -> GPU 1
    assert s.slot[0] == 1
    assert s.score[0] == math.floor(100 / (1 + math.exp(-0.3)))


# --- policies on a slice of the real trace -----------------------------------------------


def test_policies_rank_as_published_on_a_slice() -> None:
    from odlar.datacenter.placement import measure

    cluster = load_nodes(TRACE / "openb_node_list_gpu_node.csv")
    workload = load_pods(TRACE / "openb_pod_list_default.csv")
    target = target_of(workload)
    params = {"cluster_fraction": 0.15, "seed": 0}
    got = {
        m: measure(cluster, workload, m, target, params, (42, 43))["gpu_allocated"]
        for m in ("random", "bestfit", "fgd")
    }
    assert got["random"] + 2 < got["bestfit"] < got["fgd"], got


# --- placement requests ------------------------------------------------------------------


def _model(method: str = "fgd") -> PlacementModel:
    workload = load_pods(TRACE / "openb_pod_list_default.csv")
    return PlacementModel(method, {"seed": 0}, target_of(workload))


def test_predict_returns_a_feasible_node_and_gpus() -> None:
    request = PlacementRequest(
        nodes=ClusterTable(
            name=["cpu-only", "full", "t4", "v100"],
            model=["", "T4", "T4", "V100M32"],
            cpu_free=[64000, 64000, 64000, 2000],
            memory_free=[10**6, 10**6, 10**6, 10**6],
            gpu_free=[[], [0, 0], [1000, 400], [1000, 1000]],
        ),
        pod=PendingPod(cpu_milli=4000, memory_mib=1024, num_gpu=1, gpu_milli=300),
    )
    answer = predict(_model(), request)
    assert answer.node == "t4" and answer.feasible == ["t4"]  # v100 lacks CPU
    assert answer.gpus == [1], "the 400 left fits 300: the idle GPU stays whole"
    assert set(answer.failed) == {"cpu-only", "full", "v100"}
    assert "milli-CPU" in answer.failed["v100"] and answer.priority == [10]
    whole = request.model_copy(update={"pod": PendingPod(cpu_milli=1000, memory_mib=1,
                                                         num_gpu=2, gpu_milli=1000)})  # fmt: skip
    answer = predict(_model("bestfit"), whole)
    assert answer.node == "v100" and answer.gpus == [0, 1]
    assert "fewer than 2 GPU(s)" in answer.failed["t4"]
    answer = predict(_model(), whole.model_copy(update={"pod": whole.pod.model_copy(
        update={"gpu_spec": "A100"})}))  # fmt: skip
    assert answer.node is None and answer.feasible == []
    assert "GPU model not allowed" in answer.failed["v100"]


def test_a_nodes_fragmentation_does_not_depend_on_the_other_nodes_measured() -> None:
    """The real cluster, busy: each node's fragmentation is the same measured with all
    1,523 nodes, with the ones a request's pod fits, or alone. A matrix product made it
    depend on the row count (BLAS blocks rows differently) and moved FGD+'s score of a
    node whose fragmentation does not change by one point."""
    from odlar.datacenter.latency import busy_cluster
    from odlar.datacenter.placement import state_of

    request = PlacementRequest(nodes=ClusterTable(**busy_cluster(TRACE)),
                               pod=PendingPod(cpu_milli=1000, memory_mib=1))  # fmt: skip
    state = state_of(_model(), request)
    frag = state.fragmentation
    every = frag.of(state.gpu_free, state.cpu_free, state.model)
    some = np.arange(0, state.size, 3)
    assert (frag.of(state.gpu_free[some], state.cpu_free[some], state.model[some])
            == every[some]).all()  # fmt: skip
    alone = [frag.of(state.gpu_free[i : i + 1], state.cpu_free[i : i + 1],
                     state.model[i : i + 1])[0] for i in range(state.size)]  # fmt: skip
    assert (np.array(alone) == every).all()
    assert (state.subset(some).frag == every[some]).all()


def test_predict_rejects_a_bad_cluster_with_the_field() -> None:
    with pytest.raises(ValueError, match="nodes.cpu_free has 1 entries"):
        ClusterTable(name=["a", "b"], model=["", ""], cpu_free=[1], memory_free=[1, 1],
                     gpu_free=[[], []])  # fmt: skip
    with pytest.raises(ValueError, match="less than or equal to 1000"):
        ClusterTable(name=["a"], model=["T4"], cpu_free=[1], memory_free=[1], gpu_free=[[1200]])
    request = PlacementRequest(
        nodes=ClusterTable(
            name=["a"], model=["T4"], cpu_free=[1], memory_free=[1], gpu_free=[[1000]]
        ),
        pod=PendingPod(cpu_milli=1, memory_mib=1),
    )
    with pytest.raises(DataError) as e:
        predict(_model(), request.model_copy(update={"nodes": request.nodes.model_copy(
            update={"model": [""]})}))  # fmt: skip
    assert e.value.field == "nodes.model[0]"


@pytest.mark.slow  # a fit job, MLflow and the server: a minute on a busy machine
def test_predict_over_http(home: Path) -> None:
    from fastapi.testclient import TestClient

    from odlar.core import jobs
    from odlar.governance import accounts
    from odlar.server.app import create_app

    spec = jobs.FitSpec(task="datacenter.scheduling",
                        data=str(TRACE / "openb_pod_list_default.csv"), method="bestfit",
                        params={"cluster_fraction": 0.05, "seeds": "42"})  # fmt: skip
    jobs.run(jobs.create(spec, created_by="test").id)
    token = accounts.ensure_admin()
    body = {
        "nodes": {"name": ["a", "b"], "model": ["T4", "T4"], "cpu_free": [8000, 8000],
                  "memory_free": [9000, 9000], "gpu_free": [[1000, 1000], [1000, 600]]},
        "pod": {"cpu_milli": 1000, "memory_mib": 100, "num_gpu": 1, "gpu_milli": 500},
    }  # fmt: skip
    with TestClient(create_app()) as client:
        r = client.post("/api/v1/tasks/datacenter.scheduling/predict", json=body,
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["node"] == "b" and r.json()["gpus"] == [1]
        body["nodes"]["gpu_free"] = [[1000, 1000], [1000, 2000]]
        r = client.post("/api/v1/tasks/datacenter.scheduling/predict", json=body,
                        headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert r.status_code == 422 and '"nodes","gpu_free",1,1' in r.text


def test_robustness_is_declared() -> None:
    from odlar.core.tasks import get_task

    task = get_task("datacenter.scheduling")
    data = task.load(TRACE / "openb_pod_list_default.csv")
    model = task.fit(data, method="bestfit", params={"cluster_fraction": 0.05, "seeds": "42"},
                     progress=lambda f, m: None)  # fmt: skip
    checks = task.robustness(model, data)
    assert [c.name for c in checks] == ["request noise 20%", "10% of nodes down"]
    assert all(0 <= c.value < 1 for c in checks)


# --- capacity planning, console data, CLI ------------------------------------------------


def test_capacity_planning_finds_the_smallest_cluster(tiny: Path) -> None:
    # 6 pods of one whole GPU each: 4 GPUs place 4/6; 8 GPUs (x2) place all
    rows = "".join(f"p{i},1000,10,1,1000,,0,10\n" for i in range(6))
    workload = load_pods(write(tiny / "pods.csv", POD_HEADER + rows))
    cluster = load_nodes(tiny / "nodes.csv")
    result = capacity.plan(cluster, workload, wanted=95, scales=(1.0, 1.5, 2.0))
    placed = {r["scale"]: r["placed"] for r in result.rows}
    assert placed[1.0] == pytest.approx(100 * 4 / 6, abs=0.01) and placed[2.0] == 100
    assert result.answer is not None and result.answer["scale"] == 1.5
    assert result.answer["gpus_by_model"] == {"T4": 4, "V100M32": 4}


def test_console_data(tiny: Path) -> None:
    rows = "".join(f"p{i},1000,10,1,{300 + 100 * i},,0,10\n" for i in range(5))
    workload = load_pods(write(tiny / "pods.csv", POD_HEADER + rows))
    cluster = load_nodes(tiny / "nodes.csv")
    view = nodes_at(cluster, workload, "fgd", percent=50)
    assert [v["node"] for v in view] == ["n0", "n1", "n2"]
    assert sum(v["gpu_allocated_milli"] for v in view) >= 2000  # half of 4 GPUs arrived
    curves = allocation_curves(cluster, workload, ("random", "fgd"))
    assert set(curves) == {"random", "fgd"} and max(curves["fgd"]) >= 100


def test_cli_replay_capacity_and_errors(tiny: Path) -> None:
    rows = "".join(f"p{i},1000,10,1,{[250, 500, 1000][i % 3]},,0,10\n" for i in range(9))
    pods = write(tiny / "pods.csv", POD_HEADER + rows)
    runner = CliRunner()
    r = runner.invoke(app, ["replay", str(pods), "-m", "bestfit", "-m", "fgd",
                            "--plot", str(tiny / "curves.html")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "fgd" in r.output and (tiny / "curves.html").stat().st_size > 100_000
    r = runner.invoke(app, ["capacity", str(pods), "--scales", "0.5,1,2",
                            "--plot", str(tiny / "capacity.html")])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "placed from x" in r.output and (tiny / "capacity.html").exists()
    bad = write(tiny / "bad.csv", POD_HEADER + "p0,1000,10,1,oops,,0,10\n")
    r = runner.invoke(app, ["replay", str(bad)])
    assert r.exit_code == 65 and "bad.csv:2: column 'gpu_milli'" in r.output
    assert "Traceback" not in r.output
    r = runner.invoke(app, ["replay", str(pods), "-m", "nope"])
    assert r.exit_code == 2 and "unknown policy nope" in r.output

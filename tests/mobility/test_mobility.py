"""mobility.signals: phases and movements, the RESCO delay, controllers in SUMO, the
next-phase API, and clear errors for broken scenarios."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from odlar.core.errors import DataError, NotFound
from odlar.mobility import metrics as M
from odlar.mobility import scenarios
from odlar.mobility.layout import SignalLayout, from_program, is_green_state, transition_state
from odlar.mobility.policies import (
    N_FEATURES,
    Clock,
    LinkCounts,
    greedy,
    learned,
    max_pressure,
)
from odlar.mobility.sim import Options, run_episode

# cologne1's one signal: 20 links, four green phases in its program
COLOGNE1_GREENS = ["GGGggrrrrrGGGggrrrrr", "rrrrrGGGggrrrrrGGGgg"]


def _layout(states: list[str]) -> SignalLayout:
    n = len(states[0])
    links = [[(f"in{i // 5}", f"out{i}", f":via{i}")] for i in range(n)]
    return from_program("J", states, links)


def test_green_phases_and_yellow_transitions() -> None:
    assert is_green_state("GGrr") and is_green_state("ggrr")
    assert not is_green_state("yyrr") and not is_green_state("rrrr")
    # links losing green show yellow; links staying green or red keep their state
    assert transition_state("GGgrr", "rrGGG") == "yygrr"
    assert transition_state("rrGG", "GGGG") is None
    lay = _layout(["GGrr", "yyrr", "rrGG", "rryy", "GGrr"])
    assert lay.greens == ("GGrr", "rrGG"), "yellows dropped, repeats kept once"
    assert lay.served == ((0, 1), (2, 3))


def test_max_pressure_subtracts_downstream_and_keeps_phase_on_ties() -> None:
    lay = _layout(COLOGNE1_GREENS)
    n = len(lay.links)
    c = LinkCounts.zeros(n)
    c.queue[[0, 1]] = 5  # phase 0 serves links 0-4
    c.queue[[5, 6]] = 6  # phase 1 serves links 5-9
    clock = Clock(0, np.zeros(2))
    assert max_pressure(lay, c, clock) == 1
    c.down[[5, 6]] = 4  # phase 1's exits are blocked: pressure 12 - 8 < 10
    assert max_pressure(lay, c, clock) == 0
    tie = LinkCounts.zeros(n)
    assert max_pressure(lay, tie, Clock(1, np.zeros(2))) == 1, "a tie keeps the current phase"


def test_starvation_guard_forces_a_waiting_phase() -> None:
    lay = _layout(COLOGNE1_GREENS)
    c = LinkCounts.zeros(len(lay.links))
    c.queue[0] = 1
    c.queue[5] = 30
    assert max_pressure(lay, c, Clock(1, np.array([50.0, 0.0]))) == 1
    assert max_pressure(lay, c, Clock(1, np.array([130.0, 0.0]))) == 0
    # max-wave counts approaching vehicles within 50 m, no guard by default (RESCO)
    c.approach[0], c.approach[5] = 3, 4
    assert greedy(lay, c, Clock(1, np.array([500.0, 0.0]))) == 1


def test_learned_controller_guard_counts_vehicles_stranded_in_the_junction() -> None:
    """A phase needed only by vehicles stranded inside the junction is forced after
    MAX_RED, as in max-pressure: otherwise they wait for ever (teleporting is off)."""
    lay = _layout(COLOGNE1_GREENS)
    c = LinkCounts.zeros(len(lay.links))
    c.inside[0] = 2  # on phase 0's priority link; no queue anywhere
    # a network that always keeps the current phase (it scores only "is current")
    w = np.zeros((N_FEATURES, 1))
    w[5, 0] = 1.0
    keep = [(w, np.zeros(1))]
    assert learned(lay, c, Clock(1, np.array([50.0, 0.0])), keep) == 1
    assert learned(lay, c, Clock(1, np.array([130.0, 0.0])), keep) == 0
    assert max_pressure(lay, c, Clock(1, np.array([130.0, 0.0]))) == 0


def _tripinfo(tmp: Path, rows: list[tuple[str, float, float, float, float]]) -> Path:
    body = "".join(
        f'<tripinfo id="{i}" depart="{d}" departDelay="{dd}" timeLoss="{tl}" '
        f'arrival="{a}" duration="{max(0.0, a - d)}" waitingTime="1"/>'
        for i, d, dd, tl, a in rows
    )
    path = tmp / "tripinfo.xml"
    path.write_text(f"<tripinfos>{body}</tripinfos>")
    return path


def test_resco_delay_and_its_quirks(tmp_path: Path) -> None:
    trips = M.read_tripinfo(
        _tripinfo(tmp_path, [("a", 10, 0, 4, 50), ("b", 25, 5, 6, 70), ("c", 30, 0, 10, -1)])
    )
    assert [t.scheduled for t in trips] == [10, 20, 30]
    # one vehicle never inserted, scheduled at 40, episode ends at 100: penalty 60
    m = M.episode_metrics(trips, [60.0], {}, routes=None, end=100)
    assert m["delay"] == pytest.approx((4 + 11 + 10 + 60) / 4)
    assert m["throughput"] == 2 and m["unfinished"] == 1 and m["never_inserted"] == 1
    # RESCO's script ignores <trip> elements when looking for vehicles never inserted
    as_trips = [("trip", "a", 10.0), ("trip", "b", 20.0), ("trip", "c", 30.0), ("trip", "d", 40.0)]
    assert M.resco_code_delay(trips, as_trips, 100) == pytest.approx((4 + 11 + 10) / 3)
    as_vehicles = [("vehicle", i, d) for _, i, d in as_trips]
    assert M.resco_code_delay(trips, as_vehicles, 100) == pytest.approx(m["delay"])
    bins = M.delay_over_time(trips, [(40.0, 60.0)], 0, 100, 25)
    assert [b["vehicles"] for b in bins] == [2, 2, 0, 0]
    weighted = sum(b["delay"] * b["vehicles"] for b in bins) / sum(b["vehicles"] for b in bins)
    assert weighted == pytest.approx(m["delay"]), "the bins average back to the delay"


def test_resco_scenarios_are_found_and_valid() -> None:
    assert len(scenarios.RESCO_NAMES) == 8
    for name in scenarios.RESCO_NAMES:
        s = scenarios.resco(name)
        facts = scenarios.validate(s)
        assert facts["signals"] >= 1 and facts["vehicles_in_episode"] > 1000
    assert scenarios.resco("arterial4x4").delta == 5
    assert scenarios.validate(scenarios.resco("cologne3"))["vehicles_in_episode"] == 2856
    # the folder itself, as recorded in a model's data source, loads as the same scenario
    folder = scenarios.packaged_folder("resco:ingolstadt7")
    assert scenarios.load(folder) == scenarios.resco("ingolstadt7")
    with pytest.raises(NotFound, match=r"give a RESCO name \(cologne1"):
        scenarios.load("colonge1")


def test_broken_scenarios_get_clear_errors(tmp_path: Path) -> None:
    s = scenarios.resco("cologne1")
    net = tmp_path / "net.net.xml"
    net.write_text(s.net.read_text()[:5000])
    with pytest.raises(DataError, match=r"net\.net\.xml:\d+: broken XML"):
        scenarios.validate(scenarios.Scenario("x", net, s.routes, 0, 3600))
    no_tls = tmp_path / "plain.net.xml"
    text = s.net.read_text()
    start, end = text.index("<tlLogic"), text.index("</tlLogic>") + len("</tlLogic>")
    no_tls.write_text(text[:start] + text[end:])
    with pytest.raises(DataError, match="no traffic lights"):
        scenarios.validate(scenarios.Scenario("x", no_tls, s.routes, 25200, 28800))
    routes = tmp_path / "r.rou.xml"
    routes.write_text('<routes>\n<trip id="t" depart="25300" from="nowhere" to="x"/>\n</routes>')
    with pytest.raises(DataError) as e:
        scenarios.validate(scenarios.Scenario("x", s.net, (routes,), 25200, 28800))
    assert "r.rou.xml:2" in str(e.value) and "'nowhere'" in str(e.value)
    assert "from" in str(e.value)
    manifest = tmp_path / "scenario.json"
    manifest.write_text(json.dumps({"name": "x", "net": "a.net.xml", "routes": []}))
    with pytest.raises(DataError, match="begin"):
        scenarios.load(tmp_path)


def test_fixed_time_matches_the_sumo_1_28_reference() -> None:
    """BENCHMARKS.md section 5 measured these with SUMO 1.28, seed 42; cologne1's figure
    comes from our prototype run (deterministic for a seed). The episode runs in a fresh
    process, as run_many runs every episode: libsumo keeps state between simulations in one
    process, so in-process it would depend on which tests simulated before it (CI: 42.53)."""
    from odlar.mobility.sim import run_many

    [r] = run_many([(scenarios.resco("cologne1"), "fixed", {}, Options(seed=42))], workers=1)
    assert r["delay"] == pytest.approx(41.92, abs=0.05)
    assert r["delay_resco_code"] == pytest.approx(r["delay"], abs=0.05)
    assert r["vehicles"] == 2015 and r["teleports"] == 0
    assert sum(b["vehicles"] for b in r["delay_over_time"]) == 2015


def test_parallel_episodes_do_not_depend_on_what_ran_before() -> None:
    """libsumo keeps state between simulations in one process: every episode of run_many
    gets a fresh one, so the same episode gives the same result whatever ran before."""
    from odlar.mobility.sim import run_many

    s = scenarios.resco("cologne1")
    runs = [(s, "fixed", {}, Options(seed=x)) for x in (2, 42, 2)]
    first, ref, again = (r["delay"] for r in run_many(runs, workers=1))
    assert first == again
    assert ref == pytest.approx(41.92, abs=0.005), "SUMO 1.28 reference, fresh process"


@pytest.mark.slow
def test_max_pressure_does_not_gridlock_ingolstadt7() -> None:
    s = scenarios.resco("ingolstadt7")
    from odlar.mobility.sim import run_many

    # fresh processes: the reference figure must not depend on what simulated before
    r, fixed = run_many([(s, m, {}, Options(seed=42)) for m in ("max_pressure", "fixed")])
    assert fixed["delay"] == pytest.approx(117.6, abs=0.1), "BENCHMARKS' SUMO 1.28 figure"
    assert r["max_junction_wait"] < 300 and r["never_inserted"] <= 5
    assert r["delay"] < 45 < fixed["delay"]


def test_adaptive_control_beats_fixed_time_on_a_synthetic_city(tmp_path: Path) -> None:
    from odlar.mobility.importing import synthetic

    s = synthetic(tmp_path / "grid", size=3, end=900, period=1.0, seed=3)
    fixed = run_episode(s, "fixed")
    mp = run_episode(s, "max_pressure")
    assert mp["signals"] == fixed["signals"] >= 4
    assert mp["delay"] < fixed["delay"], (mp["delay"], fixed["delay"])


def test_dqn_learns_to_beat_fixed_time_and_its_untrained_start() -> None:
    """A few training episodes on cologne1's first 20 minutes: the kept weights cut the
    delay of the network's fixed-time program, which untrained weights do not."""
    import torch

    from odlar.mobility import dqn

    s = replace(scenarios.resco("cologne1"), end=25200 + 1200)
    params = {"episodes": 8, "eval_every": 2, "eps_episodes": 4, "eval_seeds": "1000"}
    trained = dqn.train(s, params, lambda f, m: None)
    assert trained.episodes == 8 and len(trained.history) == 8
    assert trained.best["episode"] in (2, 4, 6, 8) and trained.best["seeds"] == [1000]
    torch.manual_seed(0)
    untrained = dqn.export(dqn._net(64))

    def delay(method: str, params: dict) -> float:
        return float(np.mean([run_episode(s, method, params, Options(seed=x))["delay"]
                              for x in (42, 1)]))  # fmt: skip

    ours, fixed = delay("dqn", {"weights": trained.weights}), delay("fixed", {})
    assert ours < 0.8 * fixed, (ours, fixed)
    assert delay("dqn", {"weights": untrained}) > fixed > ours


def test_dqn_evaluation_episodes_run_in_fresh_processes() -> None:
    """dqn.evaluate runs right after training episodes in the training process: its
    episodes fan out (sim.run_many), so the figure is the fresh-process one whatever this
    process simulated before, and the same on every call."""
    import torch

    from odlar.mobility import dqn
    from odlar.mobility.sim import run_many

    s = replace(scenarios.resco("cologne1"), end=25200 + 900)
    torch.manual_seed(0)
    weights = dqn.export(dqn._net(16))
    run_episode(s, "fixed", {}, Options(seed=2))  # this process now carries libsumo state
    got = dqn.evaluate(s, weights, (42, 1))
    fresh = run_many([(s, "dqn", {"weights": weights}, Options(seed=x)) for x in (42, 1)],
                     workers=1)  # fmt: skip
    assert got == float(np.mean([r["delay"] for r in fresh]))
    run_episode(s, "dqn", {"weights": weights}, Options(seed=7))
    assert dqn.evaluate(s, weights, (42, 1)) == got


def test_bench_trains_dqn_per_scenario_in_parallel() -> None:
    from odlar.mobility import bench

    result = bench.run(quick=True, progress=lambda f, m: None, methods=("fixed", "dqn"),
                       params={"minutes": 0.05})  # fmt: skip
    rows = {r.method: r.to_dict() for r in result.results}
    names = ("cologne1", "ingolstadt1")
    assert set(rows) == {f"{m} ({s})" for m in ("fixed", "dqn") for s in names}
    assert all(r["metrics"]["delay"] > 0 for r in rows.values())
    trained = [n for n in result.notes if n.startswith("dqn ")]
    assert len(trained) == 2 and all("kept episode" in n for n in trained)


def test_bench_needs_no_data_folder_and_refuses_unknown_controllers(tmp_path: Path) -> None:
    """The RESCO scenarios ship in a package: a fresh home needs no --data."""
    import os
    import subprocess
    import sys

    from test_cli import _no_traceback

    env = {k: v for k, v in os.environ.items() if k != "ODLAR_DATA"}
    env["ODLAR_HOME"] = str(tmp_path / "fresh")  # its data folder does not exist
    cmd = [sys.executable, "-m", "odlar", "bench", "mobility.signals", "--quick", "-m", "foo"]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "no controller 'foo'" in r.stderr, r.stderr
    _no_traceback(r)


@pytest.fixture
def client(home: Path):
    from fastapi.testclient import TestClient

    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    token = ensure_admin()
    with TestClient(create_app()) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_fit_via_scenario_and_next_phase_api(client, home: Path) -> None:
    """A controller fitted on a RESCO scenario (named by `resco:`) becomes a model version;
    the API answers a cabinet's detector state with the next phase and its yellow."""
    from odlar.core import jobs
    from odlar.core.tasks import get_task

    task = get_task("mobility.signals")
    spec = jobs.FitSpec(
        task="mobility.signals",
        data="resco:cologne1",
        method="max_pressure",
        params=task.quick_params["max_pressure"],
    )
    done = jobs.run(jobs.create(spec).id)
    version = done.result["model"]["version"]
    metrics = done.result["metrics"]
    assert metrics["val_delay"] > 0 and "val_delay_vs_fixed" in metrics

    url = "/api/v1/tasks/mobility.signals/predict"
    signal = "GS_cluster_357187_359543"
    body = {
        "signals": [
            {
                "signal": signal,
                "current_phase": 0,
                "links": [{"index": 0, "queue": 12}, {"index": 1, "queue": 9}],
            }
        ]
    }
    r = client.post(url, json=body)  # the version's first request loads it (thread pool)
    assert r.status_code == 200, r.text
    again = client.post(url, json=body)  # loaded: answered on the event loop, same answer
    assert again.json() == r.json() and again.headers["server-timing"].startswith("app;dur=")
    p = r.json()["predictions"][0]
    assert r.json()["model_version"] == version
    # phase 0 shows links 0 and 1 red; the answer serves them, after a yellow
    assert p["phase"] != 0 and p["state"][0] in "Gg" and p["yellow"] is not None
    assert p["yellow_seconds"] == 3 and p["hold_seconds"] == 10
    # nothing waiting anywhere: keep the current phase, no yellow
    r = client.post(url, json={"signals": [{"signal": signal, "current_phase": 0}]})
    assert r.json()["predictions"][0]["phase"] == 0
    assert r.json()["predictions"][0]["yellow"] is None

    bad = {"signals": [{"signal": "nope", "current_phase": 0}]}
    r = client.post(url, json=bad)
    assert r.status_code == 422 and r.json()["field"] == "signals[0].signal"
    bad = {"signals": [{"signal": signal, "current_phase": 0, "links": [{"index": 99}]}]}
    r = client.post(url, json=bad)
    assert r.status_code == 422 and r.json()["field"] == "signals[0].links[0].index"
    bad = {"signals": [{"signal": signal, "current_phase": 9}]}
    assert client.post(url, json=bad).status_code == 422
    negative = [{"index": 1, "queue": -1}]
    bad = {"signals": [{"signal": signal, "current_phase": 0, "links": negative}]}
    assert client.post(url, json=bad).status_code == 422

    # the table form (a city's signals as columns) answers the same, names a bad signal
    queue = [12, 9] + [0] * 18
    table = {"table": {"signal": [signal], "current_phase": [0], "queue": [queue]}}
    r = client.post(url, json=table)
    assert r.status_code == 200 and r.json() == again.json(), r.text

    def refused(columns: dict[str, Any]) -> dict[str, Any]:
        body = {"table": {"signal": [signal], "current_phase": [0], **columns}}
        r = client.post(url, json=body)
        assert r.status_code == 422, r.text
        return r.json()

    assert refused({"signal": ["nope"]})["field"] == "table.signal[0]"
    short = refused({"queue": [[1, 2]]})
    assert short["field"] == "table.queue[0]" and f"'{signal}' has 20 link" in short["detail"]
    assert refused({"current_phase": [7]})["field"] == "table.current_phase[0]"
    assert refused({"emergency_links": [[99]]})["field"] == "table.emergency_links[0][0]"
    assert refused({"seconds_since_green": [[1]]})["field"] == "table.seconds_since_green[0]"
    (problem,) = refused({"queue": [[-1] + queue[1:]]})["detail"]
    assert problem["loc"] == ["body", "table", "queue", 0, 0]
    assert problem["msg"].startswith(f"signal '{signal}': ")

    # the event log keeps the decisions and the answer's digest, and rebuilds the answer
    from odlar.core import audit, tracking
    from odlar.mobility import nextphase

    (e,) = audit.events("default", action="predict", limit=1, newest_first=True)
    record = json.loads(e["output"])
    assert record["signals"] == [signal] and record["from"] == [0]
    assert record["phase"] == [r.json()["predictions"][0]["phase"]]
    _, model = tracking.load_version("mobility.signals", version, tenant="default")
    rebuilt = nextphase.answer_from_record(model, record, version)
    assert rebuilt.model_dump() == r.json()
    assert nextphase.answer_digest(rebuilt) == record["answer_sha256"]


def test_cli_run_writes_metrics_and_plot(home: Path, tmp_path: Path) -> None:
    from test_cli import _no_traceback, odlar

    out, png = tmp_path / "run.json", tmp_path / "delay.png"
    r = odlar("mobility", "run", "-s", "ingolstadt1", "-c", "fixed", "-c", "greedy", "--seed",
              "42", "--plot", str(png), "--out", str(out), home=home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    delays = {c["controller"]: c["delay"] for c in result["controllers"]}
    assert delays["greedy"] < delays["fixed"]
    fixed = next(c for c in result["controllers"] if c["controller"] == "fixed")
    assert 0 < fixed["queue"] <= fixed["queue_max"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    r = odlar("mobility", "run", "-s", "nowhere", "-c", "fixed", home=home)
    assert r.returncode == 66 and "nowhere" in r.stderr
    _no_traceback(r)
    r = odlar("mobility", "run", "-s", "cologne1", "-c", "magic", home=home)
    assert r.returncode == 2 and "magic" in r.stderr
    _no_traceback(r)
    r = odlar("fit", "mobility.signals", "--scenario", "cologne1", "--data", "x", home=home)
    assert r.returncode == 2


def test_user_flow_on_an_imported_synthetic_city(home: Path, tmp_path: Path) -> None:
    """Import a network, compare controllers on it, fit a controller on it, by name."""
    from test_cli import _no_traceback, odlar

    r = odlar("mobility", "import", "synthetic", "--size", "3", "--end", "600", "--period",
              "1", "--name", "town", home=home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "scenario town (synthetic): 9 signals" in " ".join(r.stdout.split())
    r = odlar("mobility", "scenarios", home=home)
    assert "town" in r.stdout and "cologne1" in r.stdout
    r = odlar("mobility", "run", "-s", "town", "-c", "fixed", "-c", "max_pressure", "--seed", "42",
              "--out", str(tmp_path / "r.json"), home=home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert len(json.loads((tmp_path / "r.json").read_text())["controllers"]) == 2
    r = odlar("fit", "mobility.signals", "--scenario", "town", "-m", "max_pressure", "-p",
              "seeds=42", home=home)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "mobility.signals v1" in r.stdout
    r = odlar("mobility", "import", "synthetic", "--size", "3", "--name", "town", home=home)
    assert r.returncode == 75 and "town" in r.stderr  # exists: Conflict, nothing replaced
    _no_traceback(r)


def test_revocation_stops_the_inline_next_phase_route_at_once(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next-phase route answers on the event loop once a version is loaded; the
    approval is still read on every request, so a revocation acts on the next one."""
    from fastapi.testclient import TestClient

    from odlar.core import config, jobs
    from odlar.core.tasks import get_task
    from odlar.governance import accounts, approval
    from odlar.server.app import create_app

    monkeypatch.setenv("ODLAR_REQUIRE_APPROVAL", "true")
    config.reset_settings()
    token = accounts.ensure_admin()
    spec = jobs.FitSpec(task="mobility.signals", data="resco:cologne1", method="greedy",
                        params=get_task("mobility.signals").quick_params["greedy"])  # fmt: skip
    version = jobs.run(jobs.create(spec).id).result["model"]["version"]
    url = "/api/v1/tasks/mobility.signals/predict"
    body = {"signals": [{"signal": "GS_cluster_357187_359543", "current_phase": 0,
                         "links": [{"index": 0, "approach": 5}]}]}  # fmt: skip
    with TestClient(create_app()) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        assert client.post(url, json=body).status_code == 409  # pending: does not serve
        approval.approve("default", "mobility.signals", version, actor="t", reason="trial",
                         override=True)  # fmt: skip
        for _ in range(3):
            r = client.post(url, json=body)
            assert r.status_code == 200 and r.json()["model_version"] == version
        approval.revoke("default", "mobility.signals", version, actor="t", reason="stop")
        r = client.post(url, json=body)
        assert r.status_code == 409 and "revoked" in r.json()["detail"]

"""Pedestrian limits, emergency priority and the batched next-phase path of mobility.signals."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from odlar.core.errors import DataError
from odlar.mobility import batch, scenarios
from odlar.mobility import constraints as C
from odlar.mobility.emergency import add_emergency
from odlar.mobility.policies import N_FEATURES, Clock, LinkCounts, decide
from odlar.mobility.sim import Episode, Options, read_layouts, run_many


def test_gate_keeps_pedestrian_limits_whatever_the_controller_asks() -> None:
    """Thousands of signals on the decision grid, each driven by a controller that never
    switches, switches at random or switches every time: no green shorter than the minimum
    and no phase red longer than the maximum gets through the gate."""
    rng = np.random.default_rng(0)
    for trial in range(1500):
        n = int(rng.integers(2, 7))
        delta, yellow = (10.0, 3.0) if trial % 2 else (5.0, 2.0)
        mg = float(rng.choice([0, 5, 7, 12, 20]))
        need = C.shortest_cycle_red(C.Limits(mg), n, delta, yellow)
        lim = C.Limits(mg, need + float(rng.choice([0, 3, 10, 40])))
        phase, green_start, green_end, t = 0, 0.0, np.zeros(n), 0.0
        for _ in range(200):
            red = t - green_end
            red[phase] = 0.0
            want = (phase, int(rng.integers(0, n)), (phase + 1) % n)[trial % 3]
            k, _ = C.enforce(C.State(phase, t - green_start, red), want, lim, delta, yellow)
            if k != phase:
                assert t - green_start >= mg - 1e-6, "a green cut short"
                green_end[phase] = t
                assert t + yellow - green_end[k] <= lim.max_red + 1e-6, "a red too long"
                phase, green_start = k, t + yellow
            assert lim.max_red is not None
            overdue = [j for j in range(n) if j != phase and t - green_end[j] > lim.max_red]
            assert not overdue
            t += delta


def test_limits_no_order_can_keep_are_refused(tmp_path: Path) -> None:
    lay = read_layouts(scenarios.resco("cologne1"))
    (tid,) = lay
    # four green phases, each held 20 s (12 s minimum green + 3 s yellow, on a 10 s grid)
    rules = C.Rules(10, 3, C.Limits(12, 60))
    with pytest.raises(DataError, match=f"signal '{tid}'.*needs at least 63 s"):
        C.check_feasible(rules, lay)
    C.check_feasible(C.Rules(10, 3, C.Limits(12, 63)), lay)
    with pytest.raises(DataError, match="do not exist|does not have: nope"):
        C.check_feasible(C.Rules(10, 3, C.Limits(), (("nope", C.Limits(7)),)), lay)
    bad = tmp_path / "limits.csv"
    bad.write_text("signal,min_green,max_red\nA,7,90\nB,seven,90\n")
    with pytest.raises(DataError) as e:
        C.read_limits(bad)
    assert f"{bad}:3" in str(e.value) and "min_green" in str(e.value)
    bad.write_text("signal,min_green\nA,7\n")
    with pytest.raises(DataError, match="missing column"):
        C.read_limits(bad)
    ok = tmp_path / "ok.csv"
    ok.write_text("signal,min_green,max_red\nA,7,90\nB,10,\n")
    assert C.read_limits(ok) == {"A": C.Limits(7, 90), "B": C.Limits(10, None)}


class _Recorder:
    """libsumo as the episode sees it, writing down every signal's state after each step."""

    def __init__(self, t: Any) -> None:
        self._t, self.log = t, []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._t, name)

    def simulationStep(self, *args: Any) -> None:  # noqa: N802 (libsumo's name)
        self._t.simulationStep(*args)
        tl = self._t.trafficlight
        self.log.append({tid: tl.getRedYellowGreenState(tid) for tid in tl.getIDList()})


def _violations(log: list[dict[str, str]], layouts: dict, lim: C.Limits) -> list[str]:
    """Greens shorter than the minimum and reds longer than the maximum, read from what
    SUMO showed each second (the last green, cut by the episode's end, excepted)."""
    out = []
    for tid, lay in layouts.items():
        shown = [lay.greens.index(s[tid]) if s[tid] in lay.greens else -1 for s in log]
        last_green = dict.fromkeys(range(len(lay.greens)), -1)
        run_start = 0
        for i, k in enumerate(shown):
            if i and k != shown[i - 1]:
                prev = shown[i - 1]
                if prev >= 0 and i - run_start < lim.min_green:
                    out.append(f"{tid}: phase {prev} green {i - run_start} s")
                run_start = i
            if k >= 0:
                last_green[k] = i
            for j, seen in last_green.items():
                if j != k and i - seen > (lim.max_red or 1e9):
                    out.append(f"{tid}: phase {j} red {i - seen} s")
                    last_green[j] = i  # report each long red once
    return out


def _adversarial(layouts: dict, seed: int):  # noqa: ANN202
    rng = np.random.default_rng(seed)

    def choose(now: float, counts: dict, clocks: dict) -> dict[str, int]:
        # switches at random every decision, and otherwise never serves the last phase
        return {tid: int(rng.integers(0, max(1, len(lay.greens) - 1))) for tid, lay in
                layouts.items()}  # fmt: skip

    return choose


def test_no_phase_plan_breaking_the_limits_reaches_sumo(tmp_path: Path) -> None:
    sc = scenarios.resco("cologne8")
    sc = replace(sc, end=sc.begin + 600)
    lim = C.Limits(min_green=12, max_red=90)

    def episode(rules: C.Rules | None) -> tuple[list[dict[str, str]], dict, dict]:
        ep = Episode(sc, "dqn", Options(seed=42, rules=rules), tmp_path)
        ep.start()
        rec = _Recorder(ep.t)
        ep.t = rec
        C.check_feasible(rules or C.Rules(10, 3, lim), ep.layouts)
        ep.run(_adversarial(ep.layouts, 0))
        ep.t = rec._t
        ep.finish(resco_code=False)
        return rec.log, ep.layouts, ep.overrides

    log, layouts, _ = episode(None)
    assert _violations(log, layouts, lim), "the controller alone breaks the limits"
    log, layouts, overrides = episode(C.Rules(sc.delta, sc.yellow, lim))
    assert _violations(log, layouts, lim) == []
    assert overrides.get("min_green", 0) > 0 and overrides.get("max_red", 0) > 0


def test_emergency_vehicles_get_green_on_their_approach(tmp_path: Path) -> None:
    sc = scenarios.resco("cologne8")
    sc = add_emergency(replace(sc, end=sc.begin + 900), tmp_path, count=5)
    off, on = run_many([
        (sc, "max_pressure", {}, Options(seed=42, emergency_priority=False)),
        (sc, "max_pressure", {}, Options(seed=42, emergency_priority=True)),
    ])  # fmt: skip
    assert off["emergency_vehicles"] == on["emergency_vehicles"] == 5
    assert on["emergency_delay"] < off["emergency_delay"]
    assert on["overrides"].get("emergency", 0) > 0 and not off["overrides"]
    assert on["delay_others"] > 0 and "emergency_trip_time" in on


def test_batched_decisions_equal_signal_by_signal_ones() -> None:
    layouts = {**read_layouts(scenarios.resco("ingolstadt7")),
               **read_layouts(scenarios.resco("cologne8"))}  # fmt: skip
    rng = np.random.default_rng(1)
    weights = [
        (rng.normal(size=(N_FEATURES, 16)).astype(np.float32), np.zeros(16, np.float32)),
        (rng.normal(size=(16, 1)).astype(np.float32), np.zeros(1, np.float32)),
    ]
    compiled = {tid: batch.compile_signal(lay) for tid, lay in layouts.items()}
    for trial in range(30):
        ids = [t for t in layouts if rng.random() < 0.7] or list(layouts)
        counts, clocks = {}, {}
        for tid in ids:
            n, p = len(layouts[tid].links), len(layouts[tid].greens)
            c = LinkCounts(*(rng.integers(0, 12, n).astype(float) * (rng.random(n) < 0.6)
                             for _ in range(4)))  # fmt: skip
            for j, lk in enumerate(layouts[tid].links):
                if lk is None:
                    c.approach[j] = c.queue[j] = c.inside[j] = c.down[j] = 0.0
            counts[tid] = c
            clocks[tid] = Clock(int(rng.integers(0, p)), rng.choice([0.0, 50.0, 130.0], p))
        b = batch.Batch(
            batch.plan([compiled[t] for t in ids]),
            *(np.concatenate([getattr(counts[t], k) for t in ids])
              for k in ("approach", "queue", "inside", "down")),
            [clocks[t].phase for t in ids],
            np.concatenate([clocks[t].since_green for t in ids]),
        )  # fmt: skip
        for method, params in (("max_pressure", {}), ("greedy", {}), ("dqn", {"weights": weights}),
                               ("greedy", {"max_red": 120.0})):  # fmt: skip
            one = [decide(method, layouts[t], counts[t], clocks[t], params) for t in ids]
            assert batch.decide_many(method, b, params) == one, (trial, method)


@pytest.fixture
def client(home: Path):  # noqa: ANN201
    from fastapi.testclient import TestClient

    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    token = ensure_admin()
    with TestClient(create_app()) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_next_phase_api_keeps_limits_and_gives_emergency_green(client, home: Path) -> None:
    from odlar.core import jobs
    from odlar.core.tasks import get_task

    task = get_task("mobility.signals")
    params = {**task.quick_params["max_pressure"], "ped_min_green": 12, "ped_max_red": 70}
    spec = jobs.FitSpec(task="mobility.signals", data="resco:cologne1", method="max_pressure",
                        params=params)  # fmt: skip
    jobs.run(jobs.create(spec).id)
    url = "/api/v1/tasks/mobility.signals/predict"
    sig = "GS_cluster_357187_359543"
    queued = [{"index": 0, "queue": 12}, {"index": 1, "queue": 9}]  # red in phase 0

    def ask(**state: Any) -> dict[str, Any]:
        r = client.post(url, json={"signals": [{"signal": sig, "current_phase": 0, **state}]})
        assert r.status_code == 200, r.text
        return r.json()["predictions"][0]

    # green for 5 s only: max-pressure wants phase 1, the pedestrian minimum keeps phase 0
    reds = [0, 10, 10, 10]
    p = ask(links=queued, green_seconds=5, seconds_since_green=reds)
    assert p["phase"] == 0 and p["override"] == "min_green" and p["yellow"] is None
    p = ask(links=queued, green_seconds=15, seconds_since_green=reds)
    assert p["phase"] != 0 and p["state"][0] in "Gg" and p["override"] is None
    # nobody queued on phase 2, but it has been red for 68 s: pedestrians get their green
    # (waiting one more decision would take it past 70 s with the yellow)
    p = ask(green_seconds=40, seconds_since_green=[0, 10, 68, 10])
    assert p["phase"] == 2 and p["override"] == "max_red"
    # an emergency vehicle on link 0 (red in phase 0) gets its green
    p = ask(green_seconds=20, seconds_since_green=reds, emergency_links=[0])
    assert p["state"][0] in "Gg" and p["override"] == "emergency"
    # ... but not by cutting a pedestrian's minimum green
    p = ask(green_seconds=3, seconds_since_green=reds, emergency_links=[0])
    assert p["phase"] == 0 and p["override"] == "min_green"
    # the dense form answers the same as the per-link one
    dense = {"queue": [12, 9] + [0] * 18}
    assert ask(link_counts=dense, green_seconds=15, seconds_since_green=reds) == ask(
        links=queued, green_seconds=15, seconds_since_green=reds
    )

    def refused(state: dict[str, Any]) -> dict[str, Any]:
        r = client.post(url, json={"signals": [{"signal": sig, "current_phase": 0, **state}]})
        assert r.status_code == 422, r.text
        return r.json()

    assert refused({"links": queued})["field"] == "signals[0].green_seconds"
    assert refused({"green_seconds": 1, "link_counts": {"queue": [1, 2]}})["field"] == (
        "signals[0].link_counts.queue"
    )
    wrong = {"green_seconds": 1, "seconds_since_green": reds, "emergency_links": [99]}
    assert refused(wrong)["field"] == "signals[0].emergency_links[0]"
    # limits no order can keep are refused before training
    bad = jobs.FitSpec(task="mobility.signals", data="resco:cologne1", method="max_pressure",
                       params={**params, "ped_max_red": 60})  # fmt: skip
    with pytest.raises(DataError, match="maximum red 60 s cannot be kept.*needs at least 63 s"):
        jobs.run(jobs.create(bad).id)


def test_an_emergency_vehicle_holds_a_signal_at_most_30_s() -> None:
    """One stuck behind a blocked exit would otherwise keep its green for ever (on cologne8
    that gridlocked the network: others' delay 26.7 -> 177.6 s)."""
    from types import SimpleNamespace

    from odlar.mobility.sim import EMERGENCY_HOLD_S, Emergencies

    departed = [["ev", "car"]]
    t = SimpleNamespace(
        simulation=SimpleNamespace(getDepartedIDList=lambda: departed.pop() if departed else [],
                                   getArrivedIDList=lambda: []),
        vehicle=SimpleNamespace(getVehicleClass=lambda v: "emergency" if v == "ev" else "passenger",
                                getNextTLS=lambda v: [("J1", 3, 40.0, "r")]),
    )  # fmt: skip
    evs = Emergencies(t, {"J1": None})  # type: ignore[dict-item]
    assert evs.step(0.0) == {"J1": {3}}
    assert evs.step(EMERGENCY_HOLD_S) == {"J1": {3}}
    assert evs.step(EMERGENCY_HOLD_S + 1) == {}, "the hold ends after 30 s"


def test_a_model_runs_with_the_limits_it_was_fitted_with() -> None:
    from odlar.mobility import runs
    from odlar.mobility.task import SignalsModel

    sc = scenarios.resco("cologne1")
    sc = replace(sc, end=sc.begin + 300)
    model = SignalsModel("max_pressure", {}, {"name": "cologne1"}, {},
                         rules=C.Rules(10, 3, C.Limits(12, 63)))  # fmt: skip
    out = runs.compare(sc, ["max_pressure"], [42], models={"v1": model})
    plain, limited = out["controllers"]
    assert plain["overrides"] == {} and sum(limited["overrides"].values()) > 0

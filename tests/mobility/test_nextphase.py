"""The next-phase API's request forms, its errors and its event-log record."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from odlar.mobility import constraints as C
from odlar.mobility import nextphase, scenarios
from odlar.mobility.layout import transition_state
from odlar.mobility.nextphase import KINDS, NextPhaseRequest
from odlar.mobility.policies import N_FEATURES, Clock, LinkCounts, decide
from odlar.mobility.sim import read_layouts
from odlar.mobility.task import SignalsModel


def _model(method: str, rules: C.Rules | None = None) -> SignalsModel:
    layouts = {**read_layouts(scenarios.resco("ingolstadt7")),
               **read_layouts(scenarios.resco("cologne8"))}  # fmt: skip
    rng = np.random.default_rng(3)
    weights = [
        (rng.normal(size=(N_FEATURES, 16)).astype(np.float32), np.zeros(16, np.float32)),
        (rng.normal(size=(16, 1)).astype(np.float32), np.zeros(1, np.float32)),
    ]
    return SignalsModel(method, {}, {"yellow": 3, "delta": 10}, layouts,
                        weights if method == "dqn" else None, rules=rules)  # fmt: skip


def _state(model: SignalsModel, tid: str, rng: np.random.Generator) -> dict[str, Any]:
    lay = model.layouts[tid]
    n, p = len(lay.links), len(lay.greens)
    used = [j for j, lk in enumerate(lay.links) if lk is not None]
    return {
        "signal": tid,
        "current_phase": int(rng.integers(0, p)),
        "seconds_since_green": rng.choice([0.0, 40.0, 95.0, 130.0], p).tolist(),
        "green_seconds": float(rng.choice([4.0, 15.0, 40.0])),
        "emergency_links": [int(rng.choice(used))] if rng.random() < 0.15 else [],
        "counts": {k: (rng.integers(0, 12, n) * (rng.random(n) < 0.6)).tolist() for k in KINDS},
    }


def _forms(states: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One request in each of its three forms."""
    common = ("signal", "current_phase", "seconds_since_green", "green_seconds", "emergency_links")

    def one(s: dict[str, Any], how: str) -> dict[str, Any]:
        out = {k: s[k] for k in common}
        if how == "links":
            out["links"] = [{"index": j, **{k: s["counts"][k][j] for k in KINDS}}
                            for j in range(len(s["counts"]["queue"]))]  # fmt: skip
        else:
            out["link_counts"] = s["counts"]
        return out

    table = {k: [s[k] for s in states] for k in common}
    table.update({k: [s["counts"][k] for s in states] for k in KINDS})
    return {
        "links": {"signals": [one(s, "links") for s in states]},
        "link_counts": {"signals": [one(s, "link_counts") for s in states]},
        "table": {"table": table},
    }


def _one_by_one(model: SignalsModel, s: dict[str, Any]) -> dict[str, Any]:
    """The simulator's path for one signal: the controller, then emergency pre-emption,
    then the pedestrian limits (`sim.Plant`)."""
    lay = model.layouts[s["signal"]]
    c = LinkCounts(*(np.array(s["counts"][k], float) for k in KINDS))
    for j, lk in enumerate(lay.links):
        if lk is None:  # indices no movement uses carry no detector
            c.approach[j] = c.queue[j] = c.inside[j] = c.down[j] = 0.0
    cur = s["current_phase"]
    k = decide(model.method, lay, c, Clock(cur, np.array(s["seconds_since_green"])),
               model.controller_params)  # fmt: skip
    why = None
    e = C.emergency_phase(lay, set(s["emergency_links"]), cur)
    if e is not None and e != k:
        k, why = e, "emergency"
    if model.rules is not None:
        red = np.array(s["seconds_since_green"], float)
        red[cur] = 0.0
        state = C.State(cur, s["green_seconds"], red)
        k2, reason = C.enforce(state, k, model.rules.of(s["signal"]), 10, 3)
        if k2 != k:
            k, why = k2, reason
    yellow = transition_state(lay.greens[cur], lay.greens[k])
    return {"signal": s["signal"], "phase": k, "state": lay.greens[k], "yellow": yellow,
            "yellow_seconds": 3 if yellow else 0, "hold_seconds": 10, "override": why}  # fmt: skip


@pytest.mark.parametrize("method", ["max_pressure", "dqn", "greedy+limits"])
def test_every_form_answers_as_the_signals_decided_one_by_one(method: str) -> None:
    """`table`, `link_counts` and `links` give the same answer, and it is the answer of
    each signal decided alone on the simulator's path, for random counts and clocks in
    random signal orders (the batched path decides them all at once)."""
    rules = C.Rules(10, 3, C.Limits(12, 100)) if method.endswith("limits") else None
    model = _model(method.split("+")[0], rules)
    rng = np.random.default_rng(7)
    ids = list(model.layouts)
    overrides = set()
    for _ in range(12):
        order = [ids[i] for i in rng.permutation(len(ids))][: int(rng.integers(1, len(ids) + 1))]
        states = [_state(model, t, rng) for t in order]
        want = [_one_by_one(model, s) for s in states]
        overrides |= {w["override"] for w in want}
        for form, body in _forms(states).items():
            got = nextphase.answer(model, NextPhaseRequest.model_validate(body))
            assert got.model_dump()["predictions"] == want, form
    assert "emergency" in overrides
    if rules is not None:
        assert {"min_green", "max_red"} <= overrides


def test_the_event_log_record_rebuilds_the_answer() -> None:
    model = _model("max_pressure")
    rng = np.random.default_rng(1)
    states = [_state(model, t, rng) for t in model.layouts]
    for body in _forms(states).values():
        request = NextPhaseRequest.model_validate(body)
        response = nextphase.answer(model, request).model_copy(update={"model_version": 4})
        record = nextphase.decision_record(model, request, response)
        assert record["signals"] == list(model.layouts)
        rebuilt = nextphase.answer_from_record(model, record, 4)
        assert rebuilt == response
        assert nextphase.answer_digest(rebuilt) == record["answer_sha256"]
        assert len(str(record)) < len(response.model_dump_json()) / 2


def test_a_table_needs_one_entry_per_signal_in_every_column() -> None:
    from pydantic import ValidationError

    t = {"signal": ["a", "b"], "current_phase": [0], "queue": [[1], [2]]}
    with pytest.raises(ValidationError, match="table.current_phase has 1 entries"):
        NextPhaseRequest.model_validate({"table": t})
    with pytest.raises(ValidationError, match="one of the two"):
        NextPhaseRequest.model_validate({})
    bad = {"signal": ["a", "b"], "current_phase": [0, 0], "queue": [[1], [2, -3]]}
    with pytest.raises(ValidationError) as err:
        NextPhaseRequest.model_validate({"table": bad})
    (e,) = err.value.errors()
    assert e["loc"] == ("table", "queue", 1, 1) and e["msg"].startswith("signal 'b': ")

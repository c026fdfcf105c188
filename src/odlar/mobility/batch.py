"""The controllers of `policies`, for many signals at once: a city's whole network in one
API request. The same decisions as `policies.decide` signal by signal (tested), with the
per-phase sums done as one weighted bincount over every signal's (phase, link) pairs and
one pass of the learned network over every phase row, instead of a few hundred small
numpy calls per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from odlar.mobility.layout import SignalLayout
from odlar.mobility.policies import INSIDE_WEIGHT, MAX_RED, N_FEATURES, mlp


@dataclass(frozen=True)
class _Signal:
    links: int  # link indices (the length of its count vectors)
    phases: int
    pair_link: np.ndarray  # per (phase, served link) pair: the link index
    pair_phase: np.ndarray  # ... and the phase
    pair_prio: np.ndarray  # ... and whether the link has priority ('G') in that phase
    share: np.ndarray  # per phase: its share of the signal's links
    unused: np.ndarray  # link indices no movement uses


def compile_signal(layout: SignalLayout) -> _Signal:
    links, phases, prio = [], [], []
    for k, (served, pr) in enumerate(zip(layout.served, layout.priority, strict=True)):
        links += served
        phases += [k] * len(served)
        prio += pr
    n = max(1, sum(1 for lk in layout.links if lk is not None))
    return _Signal(
        len(layout.links),
        len(layout.greens),
        np.asarray(links, np.int64),
        np.asarray(phases, np.int64),
        np.asarray(prio, bool),
        np.array([len(s) / n for s in layout.served]),
        np.array([i for i, lk in enumerate(layout.links) if lk is None], np.int64),
    )


@dataclass(frozen=True)
class Plan:
    """The lane/phase tables of one request's signals, in its order, concatenated: built
    once per list of signals (a city sends the same list request after request) and kept
    by `Plans`, so a request costs no per-signal table work."""

    signals: tuple[_Signal, ...]
    links: np.ndarray  # per signal: its link indices
    phases: np.ndarray  # ... and green phases
    l_off: np.ndarray  # where each signal's links start in the concatenated counts (n + 1)
    p_off: np.ndarray  # ... and its phases in the concatenated phase rows
    pair_link: np.ndarray  # every (phase, served link) pair, in concatenated indices
    pair_phase: np.ndarray
    pair_prio: np.ndarray
    share: np.ndarray  # per phase row
    unused: np.ndarray  # concatenated link indices no movement uses
    sig_of_link: np.ndarray
    sig_of_phase: np.ndarray


def plan(signals: list[_Signal]) -> Plan:
    n = len(signals)
    links = np.array([s.links for s in signals], np.int64)
    phases = np.array([s.phases for s in signals], np.int64)
    l_off = np.concatenate(([0], np.cumsum(links)))
    p_off = np.concatenate(([0], np.cumsum(phases)))
    return Plan(
        tuple(signals), links, phases, l_off, p_off,
        np.concatenate([s.pair_link + l_off[i] for i, s in enumerate(signals)]),
        np.concatenate([s.pair_phase + p_off[i] for i, s in enumerate(signals)]),
        np.concatenate([s.pair_prio for s in signals]),
        np.concatenate([s.share for s in signals]),
        np.concatenate([s.unused + l_off[i] for i, s in enumerate(signals)]),
        np.repeat(np.arange(n), links),
        np.repeat(np.arange(n), phases),
    )  # fmt: skip


class Plans:
    """A model's signals compiled once, and the plans of the signal lists it was last
    asked for."""

    KEEP = 16

    def __init__(self, layouts: dict[str, SignalLayout]) -> None:
        self.compiled = {tid: compile_signal(lay) for tid, lay in layouts.items()}
        self._plans: dict[tuple[str, ...], Plan] = {}

    def of(self, ids: tuple[str, ...]) -> Plan:
        """The plan of these signals, in this order (all known: the caller checked)."""
        hit = self._plans.get(ids)
        if hit is None:
            if len(self._plans) >= self.KEEP:
                self._plans.clear()
            hit = self._plans[ids] = plan([self.compiled[t] for t in ids])
        return hit


@dataclass
class Batch:
    """Counts and clocks of the signals of one request, concatenated in its plan's order."""

    plan: Plan
    approach: np.ndarray
    queue: np.ndarray
    inside: np.ndarray
    down: np.ndarray
    phase: list[int]
    since: np.ndarray  # per phase of every signal: seconds since it was last green


def decide_many(method: str, b: Batch, params: dict[str, Any]) -> list[int]:
    pl = b.plan
    n_sig = len(pl.signals)
    p_off = pl.p_off
    pair_link, pair_phase, prio = pl.pair_link, pl.pair_phase, pl.pair_prio
    total = int(p_off[-1])

    def per_phase(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        w = values[pair_link] if mask is None else values[pair_link] * mask
        return np.bincount(pair_phase, weights=w, minlength=total)

    approach, queue, down = per_phase(b.approach), per_phase(b.queue), per_phase(b.down)
    inside_prio = per_phase(b.inside, prio)
    current = np.zeros(total, bool)
    current[p_off[:-1] + np.asarray(b.phase, np.int64)] = True
    max_red: float | None
    if method == "greedy":
        scores = approach + INSIDE_WEIGHT * per_phase(b.inside)
        demand, max_red = scores, params.get("max_red")
    elif method == "max_pressure":
        demand = queue + INSIDE_WEIGHT * inside_prio
        scores, max_red = demand - down, params.get("max_red", MAX_RED)
    elif method == "dqn":
        tot_q = np.bincount(pl.sig_of_link, weights=b.queue, minlength=n_sig) / 10.0
        tot_a = np.bincount(pl.sig_of_link, weights=b.approach, minlength=n_sig) / 10.0
        sig_of_phase = pl.sig_of_phase
        feats = np.empty((total, N_FEATURES), np.float32)
        feats[:, 0], feats[:, 1], feats[:, 2] = approach / 10.0, queue / 10.0, down / 10.0
        feats[:, 3], feats[:, 4], feats[:, 5] = inside_prio, (queue - down) / 10.0, current
        feats[:, 6] = np.minimum(b.since, MAX_RED) / MAX_RED
        feats[:, 7] = pl.share
        feats[:, 8], feats[:, 9] = tot_q[sig_of_phase], tot_a[sig_of_phase]
        scores = mlp(params["weights"], feats)
        # the starvation guard reads the rounded feature rows, as `policies.learned` does
        demand = 10.0 * feats[:, 1].astype(np.float64) + INSIDE_WEIGHT * feats[:, 3]
        max_red = params.get("max_red", MAX_RED)
    else:
        raise ValueError(f"no adaptive controller '{method}'")
    return _choose(scores.tolist(), demand.tolist(), b.since.tolist(), p_off.tolist(), b.phase,
                   max_red)  # fmt: skip


def _choose(scores: list[float], demand: list[float], since: list[float], p_off: list[int],
            phase: list[int], max_red: float | None) -> list[int]:  # fmt: skip
    """Per signal: the starved phase waiting longest if any (the guard), else the best
    score, ties keeping the current phase (`policies._argmax_keep`)."""
    out = []
    for i, cur in enumerate(phase):
        a, z = p_off[i], p_off[i + 1]
        if max_red is not None:
            starving = [k for k in range(z - a)
                        if k != cur and demand[a + k] > 0 and since[a + k] >= max_red]  # fmt: skip
            if starving:
                out.append(max(starving, key=lambda k: since[a + k]))
                continue
        seg = scores[a:z]
        best = max(seg)
        out.append(cur if seg[cur] >= best - 1e-9 else seg.index(best))
    return out

"""Decisions from detector counts: which green phase a signal shows next.

Pure functions of a signal's layout, its detector counts per controlled link and its
clock, shared by the simulator (every decision epoch) and the API (a real cabinet's
detectors), so what is benchmarked is what is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from odlar.mobility.layout import SignalLayout

#: vehicles standing inside the junction weigh this much on phases giving them priority:
#: left-turners stranded there when their green ended otherwise wait for ever
INSIDE_WEIGHT = 10.0
#: a phase with waiting vehicles is forced after this long without green (max-pressure and
#: learned): with teleporting off, a starved approach otherwise backs up into gridlock
MAX_RED = 120.0


@dataclass
class LinkCounts:
    """Detector counts per controlled link index of one signal."""

    approach: np.ndarray  # vehicles within 50 m of the stop line, any speed
    queue: np.ndarray  # halting vehicles within 200 m
    inside: np.ndarray  # halting vehicles inside the junction on this link's path
    down: np.ndarray  # halting vehicles downstream of the link's exit lane, per feeding link

    @classmethod
    def zeros(cls, n: int) -> LinkCounts:
        return cls(*(np.zeros(n) for _ in range(4)))


@dataclass
class Clock:
    """Where a signal is: its green phase and seconds since each phase was last green."""

    phase: int
    since_green: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class _Compiled:
    served: tuple[np.ndarray, ...]
    priority: tuple[np.ndarray, ...]
    share: np.ndarray


@lru_cache(maxsize=4096)
def _compiled(layout: SignalLayout) -> _Compiled:
    served = tuple(np.asarray(s, dtype=np.int64) for s in layout.served)
    prio = tuple(np.asarray(p, dtype=bool) for p in layout.priority)
    n = max(1, sum(1 for lk in layout.links if lk is not None))
    return _Compiled(served, prio, np.array([len(s) / n for s in served]))


def _argmax_keep(scores: np.ndarray, current: int) -> int:
    """Best phase; ties keep the current one (no switch, no needless yellow)."""
    best = float(scores.max())
    if scores[current] >= best - 1e-9:
        return current
    return int(np.argmax(scores))


def _guard(demand: np.ndarray, clock: Clock, max_red: float | None) -> int | None:
    if max_red is None or clock.since_green.size == 0:
        return None
    starving = [
        k
        for k in range(len(demand))
        if k != clock.phase and demand[k] > 0 and clock.since_green[k] >= max_red
    ]
    return max(starving, key=lambda k: clock.since_green[k]) if starving else None


def greedy(layout: SignalLayout, c: LinkCounts, clock: Clock, max_red: float | None = None) -> int:
    """Max-wave (RESCO MAXWAVE): the phase serving the most vehicles within 50 m."""
    comp = _compiled(layout)
    scores = np.array(
        [c.approach[s].sum() + INSIDE_WEIGHT * c.inside[s].sum() for s in comp.served]
    )
    forced = _guard(scores, clock, max_red)
    return forced if forced is not None else _argmax_keep(scores, clock.phase)


def max_pressure(
    layout: SignalLayout, c: LinkCounts, clock: Clock, max_red: float | None = MAX_RED
) -> int:
    """Max-pressure (Varaiya 2013) over movements: sum over served links of queue upstream
    minus queue downstream, with the starvation guard."""
    comp = _compiled(layout)
    press, demand = [], []
    for s, p in zip(comp.served, comp.priority, strict=True):
        up = c.queue[s].sum() + INSIDE_WEIGHT * c.inside[s[p]].sum()
        press.append(up - c.down[s].sum())
        demand.append(up)
    forced = _guard(np.array(demand), clock, max_red)
    return forced if forced is not None else _argmax_keep(np.array(press), clock.phase)


N_FEATURES = 10


def phase_features(layout: SignalLayout, c: LinkCounts, clock: Clock) -> np.ndarray:
    """One row per green phase; the learned controller scores each row with one shared
    network, so a single model serves signals of any shape."""
    comp = _compiled(layout)
    rows = np.zeros((len(comp.served), N_FEATURES), dtype=np.float32)
    total_q, total_a = c.queue.sum() / 10.0, c.approach.sum() / 10.0
    since = clock.since_green if clock.since_green.size else np.zeros(len(comp.served))
    for k, (s, p) in enumerate(zip(comp.served, comp.priority, strict=True)):
        q, d = c.queue[s].sum(), c.down[s].sum()
        rows[k] = (
            c.approach[s].sum() / 10.0,
            q / 10.0,
            d / 10.0,
            c.inside[s[p]].sum(),
            (q - d) / 10.0,
            float(k == clock.phase),
            min(float(since[k]), MAX_RED) / MAX_RED,
            comp.share[k],
            total_q,
            total_a,
        )
    return rows


def feature_demand(feats: np.ndarray) -> np.ndarray:
    """Each phase's waiting demand from its feature rows, as max-pressure counts it for the
    starvation guard: halting vehicles upstream and, weighted, those stranded inside the
    junction with priority (a phase needed only by them must still be forced)."""
    return 10.0 * feats[:, 1] + INSIDE_WEIGHT * feats[:, 3]


def mlp(weights: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    for i, (w, b) in enumerate(weights):
        x = x @ w + b
        if i < len(weights) - 1:
            x = np.maximum(x, 0.0)
    return x[..., 0]


def learned(
    layout: SignalLayout,
    c: LinkCounts,
    clock: Clock,
    weights: list[tuple[np.ndarray, np.ndarray]],
    max_red: float | None = MAX_RED,
) -> int:
    feats = phase_features(layout, c, clock)
    forced = _guard(feature_demand(feats), clock, max_red)
    return forced if forced is not None else _argmax_keep(mlp(weights, feats), clock.phase)


ADAPTIVE = ("greedy", "max_pressure", "dqn")


def decide(
    method: str, layout: SignalLayout, c: LinkCounts, clock: Clock, params: dict[str, Any]
) -> int:
    if method == "greedy":
        return greedy(layout, c, clock, params.get("max_red"))
    if method == "max_pressure":
        return max_pressure(layout, c, clock, params.get("max_red", MAX_RED))
    if method == "dqn":
        return learned(layout, c, clock, params["weights"], params.get("max_red", MAX_RED))
    raise ValueError(f"no adaptive controller '{method}'")

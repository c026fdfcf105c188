"""Event-driven replay of a workload on a simulated cluster, and its metrics.

Two orders of events:

- `inflation` (the FGD authors' protocol, used by the benchmark): the trace's pods in a
  random order drawn from the seed, then pods drawn at random (with replacement) from the
  trace and appended until the GPU they ask for would pass `ratio` (1.3) times the
  cluster's GPU capacity. Pods never leave: the question is how much of the cluster a
  policy can fill before fragmentation stops it.
- `timeline`: the trace's own creation and deletion times; a pod that was placed frees its
  resources at its deletion time (deletions first when times are equal).

After every event the replay records the GPU demand that has arrived, the milli-GPU
allocated, the fragmented milli-GPU (against the target workload) and the failures, so that
any percent of arrived workload can be read off as the authors do.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from odlar.core.errors import UsageError
from odlar.datacenter.frag import Fragmentation, Target, target_of
from odlar.datacenter.policies import Policy, decide, make
from odlar.datacenter.state import ClusterState, Pod, pod_of
from odlar.datacenter.trace import Cluster, Workload

RATIO = 1.3
SEEDS = tuple(range(42, 52))  # the authors' ten seeds


def inflated(workload: Workload, capacity_milli: int, ratio: float, seed: int) -> np.ndarray:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"""Pod indices in arrival order: shuffled, then resampled until demand reaches
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
`ratio` x capacity (or trimmed at random when the trace already asks for more)."""
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
rng = np.random.default_rng(seed)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
order = rng.permutation(workload.size)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
demand = workload.gpu_demand
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
target = ratio * capacity_milli
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
total = int(demand.sum())
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if total > target:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
keep = np.ones(len(order), dtype=bool)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
for i in rng.permutation(len(order)):
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if total <= target:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
break
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
keep[i] = False
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
total -= int(demand[order[i]])
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return order[keep]
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
extra: list[np.ndarray] = []
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
while True:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
draw = rng.integers(workload.size, size=max(256, workload.size))
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
over = np.flatnonzero(total + np.cumsum(demand[draw]) > target)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if len(over):
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
extra.append(draw[: over[0]])
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
break
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
extra.append(draw)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
total += int(demand[draw].sum())
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return np.concatenate([order, *extra])


@dataclass
class Snapshot:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"""The cluster at one point of a replay: per node GPU free and fragmentation."""

        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
percent: float
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
gpu_free: np.ndarray
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
cpu_free: np.ndarray
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
frag: np.ndarray


@dataclass
class Replay:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
policy: str
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
seed: int
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
capacity_milli: int
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
arrived: np.ndarray  # milli-GPU asked for by pods arrived so far, after each event
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
allocated: np.ndarray  # milli-GPU allocated after each event
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
frag: np.ndarray  # fragmented milli-GPU after each event
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
failed: np.ndarray  # failed pods so far
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
placement: np.ndarray  # per arrival: node index or -1
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
pods: int
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
seconds: float
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
snapshot: Snapshot | None = None
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
extra: dict[str, Any] = field(default_factory=dict)

        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
@property
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
def arrived_pct(self) -> np.ndarray:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return 100.0 * self.arrived / self.capacity_milli

        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
def curve(self, key: str = "allocated", upto: int | None = None) -> dict[int, float]:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"""Mean of a metric (percent of GPU capacity) over the events at each whole percent
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
of arrived workload; a percent with no event takes the events within 1 point (the
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
authors' discretisation)."""
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
values = {"allocated": self.allocated, "frag": self.frag}[key]
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
pct = 100.0 * values / self.capacity_milli
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
arrived = np.round(self.arrived_pct)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
top = int(arrived.max(initial=0)) if upto is None else upto
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
out: dict[int, float] = {}
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
for x in range(0, top + 1):
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
hit = arrived == x
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if not hit.any():
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
hit = np.abs(arrived - x) <= 1
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if hit.any():
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
out[x] = float(pct[hit].mean())
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return out

        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
def frag_ratio_at_end(self) -> float:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
idle = self.capacity_milli - self.allocated[-1]
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return float(100.0 * self.frag[-1] / idle) if idle > 0 else 0.0

        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
def metrics(self, at: int = round(100 * RATIO)) -> dict[str, float]:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
alloc = self.curve("allocated", upto=at)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
frag = self.curve("frag", upto=at)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
last = max(alloc) if alloc else 0
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return {
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"gpu_allocated": alloc.get(at, alloc.get(last, 0.0)),
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"frag_amount": frag.get(at, frag.get(last, 0.0)),
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"frag_ratio": self.frag_ratio_at_end(),
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"failed_pods": float(self.failed[-1]) if len(self.failed) else 0.0,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"pods": float(self.pods),
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"replay_seconds": self.seconds,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
}


def pods_of(workload: Workload, models: tuple[str, ...]) -> list[Pod]:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return [
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
pod_of(
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
workload.cpu[i],
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
workload.memory[i],
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
workload.num_gpu[i],
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
workload.gpu_milli[i],
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
workload.spec[i],
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
models,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
for i in range(workload.size)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
]


def events_of(workload: Workload, protocol: str, capacity_milli: int, ratio: float, seed: int):
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"""(pod index, +1 arrival / -1 departure) in order."""
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if protocol == "inflation":
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return [(int(i), 1) for i in inflated(workload, capacity_milli, ratio, seed)]
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if protocol == "timeline":
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if not workload.has_lifetimes:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
raise UsageError(
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
f"{workload.source}: the timeline replay needs creation_time and "
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"deletion_time for every pod"
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
times = [(int(workload.creation[i]), 1, i) for i in range(workload.size)]
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
times += [(int(workload.deletion[i]), 0, i) for i in range(workload.size)]
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
times.sort()  # departures (0) before arrivals (1) at the same second
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return [(i, 1 if kind else -1) for _, kind, i in times]
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
raise UsageError(f"unknown replay protocol '{protocol}' (inflation or timeline)")


def replay(
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
cluster: Cluster,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
workload: Workload,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
policy: Policy | str,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
*,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
seed: int = 42,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
target: Target | None = None,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
protocol: str = "inflation",
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
ratio: float = RATIO,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
snapshot_at: float | None = None,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
params: dict[str, Any] | None = None,
) -> Replay:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
"""Replay `workload` on `cluster` under one policy and seed."""
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
policy = make(policy, params) if isinstance(policy, str) else policy
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
policy.reset()
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
start = time.perf_counter()
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
frag = Fragmentation.bind(target or target_of(workload), cluster.models)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
state = ClusterState(cluster, frag)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
shapes = pods_of(workload, cluster.models)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
rng = np.random.default_rng(seed + 1_000_003)  # policies' draws: not the arrival stream
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
rank = np.argsort(rng.permutation(cluster.size))  # node order for ties, from the seed
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
events = events_of(workload, protocol, state.capacity_milli, ratio, seed)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
n = len(events)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
arrived = np.zeros(n, dtype=np.int64)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
allocated = np.zeros(n, dtype=np.int64)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
fragmented = np.zeros(n)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
failed = np.zeros(n, dtype=np.int64)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
placement: list[int] = []
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
where: dict[int, tuple[int, np.ndarray]] = {}
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
total_in = n_failed = 0
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
used = 0
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
snap: Snapshot | None = None
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
for k, (i, kind) in enumerate(events):
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
pod = shapes[i]
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if kind > 0:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
total_in += pod.demand
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
choice = decide(policy, state, pod, rng, rank)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if choice is None:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
n_failed += 1
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
placement.append(-1)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
else:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
node, gpus = choice
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
state.place(node, gpus, pod)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
used += pod.demand
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
where[i] = choice
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
placement.append(node)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
elif i in where:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
node, gpus = where.pop(i)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
state.release(node, gpus, pod)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
used -= pod.demand
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
arrived[k], allocated[k], failed[k] = total_in, used, n_failed
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
fragmented[k] = state.frag.sum()
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if snapshot_at is not None and snap is None:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if 100.0 * total_in / state.capacity_milli >= snapshot_at:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
snap = Snapshot(
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
snapshot_at, state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
if snapshot_at is not None and snap is None:
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
snap = Snapshot(
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
snapshot_at, state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
)
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
return Replay(
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
policy=policy.name,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
seed=seed,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
capacity_milli=state.capacity_milli,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
arrived=arrived,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
allocated=allocated,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
frag=fragmented,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
failed=failed,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
placement=np.array(placement, dtype=np.int64),
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
pods=len(placement),
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
seconds=round(time.perf_counter() - start, 3),
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
snapshot=snap,
        reached = snapshot_at is not None and 100.0 * total_in >= snapshot_at * state.capacity_milli
        if reached and snap is None:
            snap = Snapshot(
                float(snapshot_at), state.gpu_free.copy(), state.cpu_free.copy(), state.frag.copy()
            )
)

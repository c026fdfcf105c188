"""Event-driven replay of a workload on a simulated cluster, and its metrics.

Two orders of events:

- `inflation` (the FGD authors' protocol, used by the benchmark): the trace's pods in a
  random order drawn from the seed, then pods drawn at random (with replacement) from the
  trace and appended until the GPU they ask for would pass `ratio` (1.3) times the
  cluster's GPU capacity. Pods never leave: the question is how much of the cluster a
  policy can fill before fragmentation stops it.
- `once`: every pod of the trace once, in a random order (capacity planning).
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
    """Pod indices in arrival order: shuffled, then resampled until demand reaches
    `ratio` x capacity (or trimmed at random when the trace already asks for more)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(workload.size)
    demand = workload.gpu_demand
    target = ratio * capacity_milli
    total = int(demand.sum())
    if total > target:
        keep = np.ones(len(order), dtype=bool)
        for i in rng.permutation(len(order)):
            if total <= target:
                break
            keep[i] = False
            total -= int(demand[order[i]])
        return order[keep]
    extra: list[np.ndarray] = []
    while True:
        draw = rng.integers(workload.size, size=max(256, workload.size))
        over = np.flatnonzero(total + np.cumsum(demand[draw]) > target)
        if len(over):
            extra.append(draw[: over[0]])
            break
        extra.append(draw)
        total += int(demand[draw].sum())
    return np.concatenate([order, *extra])


@dataclass
class Snapshot:
    """The cluster at one point of a replay: per node free GPU, CPU and fragmentation."""

    percent: float
    gpu_free: np.ndarray
    cpu_free: np.ndarray
    frag: np.ndarray
    memory_free: np.ndarray | None = None
    tags: np.ndarray | None = None  # running pods per GPU shape (the clustering policy's)


@dataclass
class Replay:
    policy: str
    seed: int
    capacity_milli: int
    arrived: np.ndarray  # milli-GPU asked for by pods arrived so far, after each event
    allocated: np.ndarray  # milli-GPU allocated after each event
    frag: np.ndarray  # fragmented milli-GPU after each event
    failed: np.ndarray  # failed pods so far
    placement: np.ndarray  # per arrival: node index or -1
    pods: int
    seconds: float  # wall clock
    cpu_seconds: float = 0.0  # this process's CPU time: what a busy machine does not inflate
    placed_milli: int = 0  # GPU demand of all pods placed, departed ones included
    snapshot: Snapshot | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def arrived_pct(self) -> np.ndarray:
        return 100.0 * self.arrived / self.capacity_milli

    def curve(self, key: str = "allocated", upto: int | None = None) -> dict[int, float]:
        """Mean of a metric over the events at each whole percent of arrived workload; a
        percent with no event takes the events within 1 point (the authors'
        discretisation). `allocated` and `frag`: percent of GPU capacity; `frag_ratio`:
        percent of idle GPU; `failed`: pods failed so far."""
        idle = np.maximum(self.capacity_milli - self.allocated, 1)
        pct = {
            "allocated": 100.0 * self.allocated / self.capacity_milli,
            "frag": 100.0 * self.frag / self.capacity_milli,
            "frag_ratio": 100.0 * self.frag / idle,
            "failed": self.failed.astype(float),
        }[key]
        arrived = np.round(self.arrived_pct)
        top = int(arrived.max(initial=0)) if upto is None else upto
        out: dict[int, float] = {}
        for x in range(0, top + 1):
            hit = arrived == x
            if not hit.any():
                hit = np.abs(arrived - x) <= 1
            if hit.any():
                out[x] = float(pct[hit].mean())
        return out

    def placed_share(self) -> float:
        """Percent of the GPU asked for by arriving pods that was placed."""
        asked = int(self.arrived[-1]) if len(self.arrived) else 0
        return 100.0 * self.placed_milli / asked if asked else 100.0

    def frag_ratio_at_end(self) -> float:
        idle = self.capacity_milli - self.allocated[-1]
        return float(100.0 * self.frag[-1] / idle) if idle > 0 else 0.0

    def metrics(self, at: int = round(100 * RATIO)) -> dict[str, float]:
        alloc = self.curve("allocated", upto=at)
        frag = self.curve("frag", upto=at)
        last = max(alloc) if alloc else 0
        return {
            "gpu_allocated": alloc.get(at, alloc.get(last, 0.0)),
            "frag_amount": frag.get(at, frag.get(last, 0.0)),
            "frag_ratio": self.frag_ratio_at_end(),
            "failed_pods": float(self.failed[-1]) if len(self.failed) else 0.0,
            "pods": float(self.pods),
            "replay_seconds": self.seconds,
            "replay_cpu_seconds": self.cpu_seconds,
        }


def pods_of(workload: Workload, models: tuple[str, ...]) -> list[Pod]:
    return [
        pod_of(
            workload.cpu[i],
            workload.memory[i],
            workload.num_gpu[i],
            workload.gpu_milli[i],
            workload.spec[i],
            models,
        )
        for i in range(workload.size)
    ]


def events_of(
    workload: Workload, protocol: str, capacity_milli: int, ratio: float, seed: int
) -> list[tuple[int, int]]:
    """(pod index, +1 arrival / -1 departure) in order."""
    if protocol == "inflation":
        return [(int(i), 1) for i in inflated(workload, capacity_milli, ratio, seed)]
    if protocol == "once":  # every pod of the trace once, in an order drawn from the seed
        return [(int(i), 1) for i in np.random.default_rng(seed).permutation(workload.size)]
    if protocol == "timeline":
        if not workload.has_lifetimes:
            raise UsageError(
                f"{workload.source}: the timeline replay needs creation_time and "
                "deletion_time for every pod"
            )
        times = [(int(workload.creation[i]), 1, i) for i in range(workload.size)]
        times += [(int(workload.deletion[i]), 0, i) for i in range(workload.size)]
        times.sort()  # departures (0) before arrivals (1) at the same second
        return [(i, 1 if kind else -1) for _, kind, i in times]
    raise UsageError(f"unknown replay protocol '{protocol}' (inflation, once or timeline)")


def replay(
    cluster: Cluster,
    workload: Workload,
    policy: Policy | str,
    *,
    seed: int = 42,
    target: Target | None = None,
    protocol: str = "inflation",
    ratio: float = RATIO,
    snapshot_at: float | None = None,
    params: dict[str, Any] | None = None,
) -> Replay:
    """Replay `workload` on `cluster` under one policy and seed."""
    policy = make(policy, params) if isinstance(policy, str) else policy
    policy.reset()
    start, cpu_start = time.perf_counter(), time.process_time()
    frag = Fragmentation.bind(target or target_of(workload), cluster.models)
    state = ClusterState(cluster, frag)
    shapes = pods_of(workload, cluster.models)
    rng = np.random.default_rng(seed + 1_000_003)  # policies' draws: not the arrival stream
    rank = np.argsort(rng.permutation(cluster.size))  # node order for ties, from the seed
    events = events_of(workload, protocol, state.capacity_milli, ratio, seed)
    n = len(events)
    arrived = np.zeros(n, dtype=np.int64)
    allocated = np.zeros(n, dtype=np.int64)
    fragmented = np.zeros(n)
    failed = np.zeros(n, dtype=np.int64)
    placement: list[int] = []
    where: dict[int, tuple[int, np.ndarray]] = {}
    total_in = n_failed = used = placed = 0
    snap: Snapshot | None = None
    for k, (i, kind) in enumerate(events):
        pod = shapes[i]
        if kind > 0:
            total_in += pod.demand
            choice = decide(policy, state, pod, rng, rank)
            if choice is None:
                n_failed += 1
                placement.append(-1)
            else:
                node, gpus = choice
                state.place(node, gpus, pod)
                used += pod.demand
                placed += pod.demand
                where[i] = choice
                placement.append(node)
        elif i in where:
            node, gpus = where.pop(i)
            state.release(node, gpus, pod)
            used -= pod.demand
        arrived[k], allocated[k], failed[k] = total_in, used, n_failed
        fragmented[k] = state.frag.sum()
        due = snapshot_at is not None and (
            100.0 * total_in >= snapshot_at * state.capacity_milli or k == n - 1
        )
        if snap is None and due:
            snap = Snapshot(
                float(snapshot_at),
                state.gpu_free.copy(),
                state.cpu_free.copy(),
                state.frag.copy(),
                state.memory_free.copy(),
                state.tags.copy(),
            )
    return Replay(
        policy=policy.name,
        seed=seed,
        capacity_milli=state.capacity_milli,
        arrived=arrived,
        allocated=allocated,
        frag=fragmented,
        failed=failed,
        placement=np.array(placement, dtype=np.int64),
        pods=len(placement),
        seconds=round(time.perf_counter() - start, 3),
        cpu_seconds=round(time.process_time() - cpu_start, 3),
        placed_milli=placed,
        snapshot=snap,
    )

"""What a data-center console page shows, as plain data (the page itself comes later).

- `nodes_at`: per node, GPU allocated and fragmented at a chosen percent of arrived
  workload in one replay;
- `allocation_curves`: each policy's share of GPUs allocated against arrived workload.
"""

from __future__ import annotations

from typing import Any

from odlar.datacenter.frag import target_of
from odlar.datacenter.replay import replay
from odlar.datacenter.trace import MILLI, Cluster, Workload


def nodes_at(
    cluster: Cluster, workload: Workload, method: str, percent: float, seed: int = 42
) -> list[dict[str, Any]]:
    """Each node at `percent` of arrived workload (percent of GPU capacity)."""
    r = replay(cluster, workload, method, seed=seed, snapshot_at=percent)
    snap = r.snapshot
    assert snap is not None
    rows = []
    for i in range(cluster.size):
        gpus = int(cluster.gpus[i])
        free = snap.gpu_free[i, :gpus].tolist()
        rows.append(
            {
                "node": cluster.names[i],
                "model": cluster.models[cluster.model[i]],
                "gpus": gpus,
                "gpu_free": free,
                "gpu_allocated_milli": gpus * MILLI - sum(free),
                "frag_milli": round(float(snap.frag[i]), 1),
                "cpu_free": int(snap.cpu_free[i]),
                "cpu_milli": int(cluster.cpu[i]),
            }
        )
    return rows


def allocation_curves(
    cluster: Cluster, workload: Workload, methods: tuple[str, ...], seed: int = 42
) -> dict[str, dict[int, float]]:
    """Per policy: percent of arrived workload -> percent of GPUs allocated."""
    target = target_of(workload)
    return {m: replay(cluster, workload, m, seed=seed, target=target).curve() for m in methods}

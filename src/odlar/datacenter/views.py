"""What the data-center console page shows, as plain data (the page is `web.py`).

- `scene`: one replay per policy, each with the cluster as it stood at a chosen percent of
  arrived workload; `node_rows` turns one such snapshot into a row per node;
- `allocation_curves`: each policy's share of GPUs allocated against arrived workload;
- `request_at`: a placement request for the cluster as a snapshot left it;
- `explain`: a placement answer in words (chosen node, runners-up, why others were out);
- `bench_rows`: a recorded bench run beside the FGD authors' published figures.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from odlar.datacenter.bench import PUBLISHED, VARIANTS
from odlar.datacenter.frag import target_of
from odlar.datacenter.placement import ClusterTable, PendingPod, PlacementRequest
from odlar.datacenter.policies import BASELINES
from odlar.datacenter.replay import Replay, Snapshot, replay
from odlar.datacenter.trace import MILLI, Cluster, Workload

#: why a node could not take a pod, by the first words of `placement._why`
REASONS = (
    ("milli-CPU", "not enough CPU"),
    ("MiB", "not enough memory"),
    ("GPU model", "GPU model not allowed"),
    ("GPU(s)", "not enough free GPU"),
)


def pod_lists(folder: Path) -> list[str]:
    """The trace's pod lists in a folder (`openb_pod_list_<variant>.csv`), benchmark
    variants first."""
    names = sorted(p.name for p in folder.glob("openb_pod_list_*.csv")) if folder.is_dir() else []
    first = [f"openb_pod_list_{v}.csv" for v in VARIANTS]
    return [n for n in first if n in names] + [n for n in names if n not in first]


def scene(
    cluster: Cluster,
    workload: Workload,
    methods: tuple[str, ...],
    percent: float,
    seed: int = 42,
) -> dict[str, Replay]:
    """Per policy, the benchmark's replay (inflated to 130% of GPU capacity) with the
    cluster kept as it stood when arrivals reached `percent` of capacity."""
    target = target_of(workload)
    return {
        m: replay(cluster, workload, m, seed=seed, target=target, snapshot_at=percent)
        for m in methods
    }


def node_rows(cluster: Cluster, snap: Snapshot) -> list[dict[str, Any]]:
    """Each node at the snapshot: its GPUs' free milli-GPU, allocation and fragmentation."""
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


def nodes_at(
    cluster: Cluster, workload: Workload, method: str, percent: float, seed: int = 42
) -> list[dict[str, Any]]:
    """Each node at `percent` of arrived workload (percent of GPU capacity)."""
    r = replay(cluster, workload, method, seed=seed, snapshot_at=percent)
    assert r.snapshot is not None
    return node_rows(cluster, r.snapshot)


def allocation_curves(
    cluster: Cluster, workload: Workload, methods: tuple[str, ...], seed: int = 42
) -> dict[str, dict[int, float]]:
    """Per policy: percent of arrived workload -> percent of GPUs allocated."""
    target = target_of(workload)
    return {m: replay(cluster, workload, m, seed=seed, target=target).curve() for m in methods}


def summary(cluster: Cluster, snap: Snapshot) -> dict[str, float]:
    """The cluster at the snapshot: GPUs allocated and fragmented (% of capacity), idle
    GPUs (no milli-GPU used) and partly used ones."""
    capacity = max(1, cluster.total_gpus * MILLI)
    present = [snap.gpu_free[i, : int(cluster.gpus[i])] for i in range(cluster.size)]
    free = sum(int(f.sum()) for f in present)
    return {
        "gpus": cluster.total_gpus,
        "allocated_pct": round(100 * (capacity - free) / capacity, 2),
        "frag_pct": round(100 * float(snap.frag.sum()) / capacity, 2),
        "idle_gpus": sum(int((f == MILLI).sum()) for f in present),
        "partial_gpus": sum(int(((f > 0) & (f < MILLI)).sum()) for f in present),
    }


def request_at(cluster: Cluster, snap: Snapshot, pod: PendingPod) -> PlacementRequest:
    """A placement request for `pod` on the cluster as the snapshot left it (what a
    scheduler extender would send: free amounts per node and GPU)."""
    assert snap.memory_free is not None
    return PlacementRequest(
        nodes=ClusterTable(
            name=list(cluster.names),
            model=[cluster.models[k] for k in cluster.model],
            cpu_free=snap.cpu_free.tolist(),
            memory_free=snap.memory_free.tolist(),
            gpu_free=[snap.gpu_free[i, : int(cluster.gpus[i])].tolist()
                      for i in range(cluster.size)],
            gpu_pods=snap.tags.tolist() if snap.tags is not None else None,
        ),
        pod=pod,
    )  # fmt: skip


def _reason(text: str) -> str:
    return next((label for key, label in REASONS if key in text), text)


def explain(answer: Any, request: PlacementRequest, top: int = 8) -> dict[str, Any]:
    """The chosen node with its score and GPUs before the pod, the best-scored other nodes,
    and how many nodes were out for each reason."""
    free = dict(zip(request.nodes.name, request.nodes.gpu_free, strict=True))
    cpu = dict(zip(request.nodes.name, request.nodes.cpu_free, strict=True))
    ranked = sorted(
        zip(answer.feasible, answer.score, answer.priority, answer.node_gpus, strict=True),
        key=lambda r: -r[1],
    )
    rows = [
        {"node": n, "score": s, "priority": p, "gpus": g, "gpu_free": free[n],
         "cpu_free": cpu[n], "chosen": n == answer.node}
        for n, s, p, g in ranked[:top]
    ]  # fmt: skip
    chosen = next((r for r in rows if r["chosen"]), None)
    if chosen is None and answer.node is not None:  # ties beyond the shown rows
        k = answer.feasible.index(answer.node)
        chosen = {"node": answer.node, "score": answer.score[k], "gpus": answer.gpus,
                  "gpu_free": free[answer.node], "cpu_free": cpu[answer.node]}  # fmt: skip
    out = Counter(_reason(why) for why in answer.failed.values())
    return {
        "chosen": chosen,
        "ranked": rows,
        "feasible": len(answer.feasible),
        "failed": sorted(out.items(), key=lambda kv: -kv[1]),
        "nodes": len(request.nodes.name),
    }


def _variant(run_method: str) -> tuple[str, str]:
    variant, _, policy = run_method.partition("/")
    return variant, policy


def bench_rows(run: dict[str, Any] | None) -> tuple[list[str], list[dict[str, Any]]]:
    """(policies, one row per variant): in each cell ours (from a recorded `odlar bench
    datacenter.scheduling` run, when there is one) and the authors' published share of GPUs
    allocated; our own policy (fgd_plus) is set against their FGD."""
    ours: dict[tuple[str, str], dict[str, Any]] = {}
    for r in (run or {}).get("results", []):
        if "variant" in r and "policy" in r:
            ours[(r["variant"], r["policy"])] = r["metrics"]
        elif re.match(r"^[a-z0-9]+/[a-z_]+$", str(r.get("method", ""))):
            ours[_variant(r["method"])] = r["metrics"]
    policies = list(BASELINES) + sorted({p for (_, p) in ours} - set(BASELINES))
    rows = []
    for v in PUBLISHED:
        cells = {}
        for p in policies:
            published = PUBLISHED[v].get(p)
            m = ours.get((v, p))
            alloc = m["gpu_allocated"] if m else None
            ref = published[0] if published else PUBLISHED[v]["fgd"][0]
            cells[p] = {
                "ours": alloc, "published": published[0] if published else None,
                "against": "published" if published else "published FGD",
                "gap": round(alloc - ref, 2) if alloc is not None else None,
            }  # fmt: skip
        rows.append({"variant": v, "cells": cells})
    return policies, rows

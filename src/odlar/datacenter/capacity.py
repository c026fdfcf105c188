"""Capacity planning: how big must the cluster be for a workload mix to be placed?

The cluster's node mix is scaled (every node type in the same proportion), the whole
workload replayed once per seed in a random order with no departures (`once`), and the
share of its GPU demand placed measured. The answer is the smallest scale on the grid
that places at least the wanted share on every seed's mean, with the GPUs per model it
takes; the curve of all scales is what the plot shows.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from odlar.core.errors import UsageError
from odlar.core.tasks import Progress, no_progress
from odlar.datacenter.frag import target_of
from odlar.datacenter.replay import replay
from odlar.datacenter.trace import Cluster, Workload

SCALES = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0)


def scale(cluster: Cluster, factor: float, seed: int = 0) -> Cluster:
    """The node list `factor` times over: whole copies, then a random share of the nodes
    for the fractional part (drawn within each GPU model so the mix stays the same)."""
    if factor <= 0:
        raise UsageError(f"scale {factor} must be positive")
    rng = np.random.default_rng(seed)
    whole = int(factor)
    index = [np.arange(cluster.size)] * whole
    part = factor - whole
    if part > 1e-9:
        for code in np.unique(cluster.model):
            members = np.flatnonzero(cluster.model == code)
            k = int(part * len(members) + 0.5)  # half up: x1.5 of one node adds it
            if k:
                index.append(np.sort(rng.choice(members, size=k, replace=False)))
    picked = np.concatenate(index) if index else np.zeros(0, dtype=np.int64)
    if not len(picked):
        raise UsageError(f"scale {factor} leaves no nodes")
    out = cluster.take(picked)
    copies: dict[str, int] = {}
    names = []
    for name in out.names:  # copies of a node need their own names
        copies[name] = copies.get(name, 0) + 1
        names.append(name if copies[name] == 1 else f"{name}-copy{copies[name] - 1}")
    return Cluster(
        names=tuple(names),
        cpu=out.cpu,
        memory=out.memory,
        gpus=out.gpus,
        model=out.model,
        models=out.models,
        source=f"{cluster.source} x{factor}",
    )


@dataclass
class CapacityPlan:
    method: str
    wanted: float
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def answer(self) -> dict[str, Any] | None:
        """The smallest scale that places the wanted share, or None when none does."""
        ok = [r for r in self.rows if r["placed"] >= self.wanted]
        return min(ok, key=lambda r: r["scale"]) if ok else None


def plan(
    cluster: Cluster,
    workload: Workload,
    *,
    method: str = "fgd",
    wanted: float = 95.0,
    scales: tuple[float, ...] = SCALES,
    seeds: tuple[int, ...] = (42,),
    progress: Progress = no_progress,
) -> CapacityPlan:
    if not 0 < wanted <= 100:
        raise UsageError(f"wanted share {wanted} must be in (0, 100]")
    target = target_of(workload)
    result = CapacityPlan(method, wanted)
    for k, factor in enumerate(sorted(scales)):
        scaled = scale(cluster, factor)
        placed = [
            replay(scaled, workload, method, seed=s, target=target, protocol="once").placed_share()
            for s in seeds
        ]
        result.rows.append(
            {
                "scale": factor,
                "nodes": scaled.size,
                "gpus": scaled.total_gpus,
                "gpus_by_model": scaled.gpus_by_model(),
                "placed": round(statistics.fmean(placed), 2),
            }
        )
        progress((k + 1) / len(scales), f"x{factor}: {result.rows[-1]['placed']:.1f}% placed")
    return result


def figure(result: CapacityPlan) -> Any:
    """The curve: GPUs in the cluster against the share of the workload placed."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[r["gpus"] for r in result.rows],
            y=[r["placed"] for r in result.rows],
            mode="lines+markers",
            name=result.method,
            text=[f"x{r['scale']}" for r in result.rows],
        )
    )
    fig.add_hline(y=result.wanted, line_dash="dash", annotation_text=f"{result.wanted:g}%")
    fig.update_layout(
        title=f"GPU demand placed by {result.method} against cluster size",
        xaxis_title="GPUs in the cluster",
        yaxis_title="% of the workload's GPU demand placed",
    )
    return fig

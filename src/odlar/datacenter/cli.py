"""`odlar datacenter ...`: replays that compare placement policies, and capacity planning.

Mounted by the platform as a sub-command group (see `sector.py`); runs standalone with
`python -m odlar.datacenter.cli`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from odlar.core.errors import OdlarError, UsageError

app = typer.Typer(
    help="Data center: replay GPU workloads under placement policies; plan capacity.",
    no_args_is_help=True,
)
out = Console()
err = Console(stderr=True)


def _clean_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """A user mistake is one line on stderr and the error's exit code, never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except OdlarError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return run


def _trace(pods: Path, nodes: Path | None):
    from odlar.datacenter.trace import load_nodes, load_pods, nodes_beside

    workload = load_pods(pods)
    return load_nodes(nodes or nodes_beside(pods)), workload


def _methods(names: list[str] | None) -> tuple[str, ...]:
    from odlar.datacenter.policies import METHODS

    chosen = tuple(names or ("random", "bestfit", "fgd"))
    unknown = sorted(set(chosen) - set(METHODS))
    if unknown:
        raise UsageError(f"unknown policy {', '.join(unknown)} (known: {', '.join(METHODS)})")
    return chosen


@app.command("replay")
@_clean_errors
def replay_command(
    pods: Path = typer.Argument(..., help="Pod list CSV (the trace's shape)"),
    nodes: Path | None = typer.Option(None, help="Node list CSV (default: beside the pods)"),
    method: list[str] | None = typer.Option(None, "--method", "-m", help="Policy (repeat)"),
    seed: int = typer.Option(42, help="Seed of the arrival order"),
    protocol: str = typer.Option("inflation", help="inflation, once or timeline"),
    ratio: float = typer.Option(1.3, help="Inflation: arrivals up to this x GPU capacity"),
    plot: Path | None = typer.Option(None, help="Write the allocation curves (HTML)"),
    json_out: Path | None = typer.Option(None, "--json", help="Write metrics and curves"),
) -> None:
    """Replay a workload under each policy; GPU allocated and fragmented at the end."""
    from odlar.datacenter.frag import target_of
    from odlar.datacenter.replay import replay

    cluster, workload = _trace(pods, nodes)
    target = target_of(workload)
    table = Table(title=f"{workload.size} pods on {cluster.size} nodes ({cluster.total_gpus} GPUs)")
    for column in ("policy", "GPU allocated %", "fragmented %", "failed pods", "seconds"):
        table.add_column(column, justify="left" if column == "policy" else "right")
    results: dict[str, Any] = {}
    at = round(100 * ratio)
    for m in _methods(method):
        r = replay(cluster, workload, m, seed=seed, target=target, protocol=protocol, ratio=ratio)
        metrics = r.metrics(at=at) if protocol == "inflation" else {
            **r.metrics(at=int(r.arrived_pct[-1])), "placed": r.placed_share()
        }  # fmt: skip
        results[m] = {"metrics": metrics, "curve": r.curve()}
        table.add_row(
            m,
            f"{metrics['gpu_allocated']:.2f}",
            f"{metrics['frag_amount']:.2f}",
            f"{metrics['failed_pods']:.0f}",
            f"{metrics['replay_seconds']:.2f}",
        )
    out.print(table)
    if json_out:
        json_out.write_text(json.dumps(results, indent=2) + "\n")
    if plot:
        _write_html(_curves_figure(results), plot)
        out.print(f"wrote {plot}")


@app.command("capacity")
@_clean_errors
def capacity_command(
    pods: Path = typer.Argument(..., help="Pod list CSV: the workload mix to place"),
    nodes: Path | None = typer.Option(None, help="Node list CSV: the node mix to scale"),
    method: str = typer.Option("fgd", help="Placement policy"),
    wanted: float = typer.Option(95.0, help="Share of the GPU demand to place, %"),
    scales: str = typer.Option(
        "0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2,1.35,1.5,1.75,2.0", help="Cluster sizes to try"
    ),
    seeds: str = typer.Option("42", help="Seeds of the arrival order, comma-separated"),
    plot: Path | None = typer.Option(None, help="Write the curve (HTML)"),
) -> None:
    """How many GPUs of which model place the workload at the wanted share."""
    from odlar.datacenter import capacity

    cluster, workload = _trace(pods, nodes)
    try:
        grid = tuple(float(s) for s in scales.split(","))
        seed_list = tuple(int(s) for s in seeds.split(","))
    except ValueError:
        raise UsageError("--scales takes numbers and --seeds integers, comma-separated") from None
    _methods([method])
    result = capacity.plan(
        cluster, workload, method=method, wanted=wanted, scales=grid, seeds=seed_list
    )
    table = Table(title=f"{workload.size} pods, {method}: GPU demand placed by cluster size")
    for column in ("scale", "nodes", "GPUs", "placed %", "GPUs by model"):
        table.add_column(column)
    for r in result.rows:
        by_model = ", ".join(f"{k} {v}" for k, v in r["gpus_by_model"].items() if v)
        table.add_row(
            f"x{r['scale']:g}", str(r["nodes"]), str(r["gpus"]), f"{r['placed']:.2f}", by_model
        )
    out.print(table)
    best = result.answer
    if best is None:
        out.print(f"no size on the grid places {wanted:g}%: try larger --scales")
    else:
        by_model = ", ".join(f"{v} {k}" for k, v in best["gpus_by_model"].items() if v)
        out.print(f"{wanted:g}% placed from x{best['scale']:g}: {best['gpus']} GPUs ({by_model})")
    if plot:
        _write_html(capacity.figure(result), plot)
        out.print(f"wrote {plot}")


def _curves_figure(results: dict[str, Any]) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure()
    for m, r in results.items():
        xs = sorted(r["curve"])
        fig.add_trace(go.Scatter(x=xs, y=[r["curve"][x] for x in xs], mode="lines", name=m))
    fig.update_layout(
        title="GPU allocated against arrived workload",
        xaxis_title="arrived GPU demand, % of capacity",
        yaxis_title="GPU allocated, % of capacity",
    )
    return fig


def _write_html(fig: Any, path: Path) -> None:
    """A self-contained page (plotly.js inside): opens air-gapped."""
    tmp = path.with_name(path.name + ".tmp")
    fig.write_html(tmp, include_plotlyjs=True, full_html=True)
    tmp.replace(path)


if __name__ == "__main__":  # pragma: no cover
    app()

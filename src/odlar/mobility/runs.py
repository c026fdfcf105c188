"""Compare controllers on one scenario: episodes on several seeds in parallel processes,
the metrics per controller, and the delay-over-time plot an engineer looks at first."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from odlar.core.errors import UsageError
from odlar.mobility.bench import DEADLOCK_S
from odlar.mobility.scenarios import Scenario
from odlar.mobility.sim import NATIVE, Options, run_many
from odlar.mobility.task import SignalsModel

CONTROLLERS = ("fixed", "actuated", "greedy", "max_pressure")


def compare(
    scenario: Scenario,
    controllers: list[str],
    seeds: list[int],
    *,
    models: dict[str, SignalsModel] | None = None,
    junction_blocker: float | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """`controllers` names built-in ones; `models` adds registered versions by label."""
    models = models or {}
    for c in controllers:
        if c not in CONTROLLERS:
            raise UsageError(f"no controller '{c}' (built in: {', '.join(CONTROLLERS)}; "
                             "or a trained model version with --model)")  # fmt: skip
    for label, m in models.items():
        if m.scenario.get("name") != scenario.name:
            raise UsageError(
                f"{label} was trained on '{m.scenario.get('name')}', not '{scenario.name}'"
            )
    plan: list[tuple[str, str, dict[str, Any]]] = [(c, c, {}) for c in controllers]
    plan += [(label, m.method, m.controller_params) for label, m in models.items()]
    if not plan:
        raise UsageError("name at least one controller or model")
    # a model keeps the pedestrian limits it was fitted with
    rules = [None] * len(controllers) + [getattr(m, "rules", None) for m in models.values()]
    runs = [
        (scenario, method, params,
         Options(seed=s, junction_blocker=junction_blocker, rules=rules[i]))
        for i, (_, method, params) in enumerate(plan)
        for s in seeds
    ]  # fmt: skip
    raw = run_many(runs, workers)
    out: dict[str, Any] = {"scenario": scenario.describe(), "seeds": seeds, "controllers": []}
    for i, (label, method, _) in enumerate(plan):
        eps = raw[i * len(seeds) : (i + 1) * len(seeds)]
        delays = [e["delay"] for e in eps]
        out["controllers"].append(
            {
                "controller": label,
                "method": method,
                "native_program": method in NATIVE,
                "delay": statistics.fmean(delays),
                "delay_sd": statistics.stdev(delays) if len(delays) > 1 else 0.0,
                "delay_per_seed": delays,
                **{
                    k: statistics.fmean(float(e[k]) for e in eps)
                    for k in ("trip_time", "waiting_time", "queue", "queue_max", "throughput",
                              "never_inserted", "teleports", "collisions",
                              "delay_resco_code")  # fmt: skip
                },
                "deadlocks": sum(e["max_junction_wait"] > DEADLOCK_S for e in eps),
                "wall_s": statistics.fmean(e["wall_s"] for e in eps),
                # decisions the gate changed on the first seed (pedestrian limits, emergency)
                "overrides": eps[0].get("overrides", {}),
                # the first seed's time series, for the plot
                "delay_over_time": eps[0]["delay_over_time"],
                "samples": eps[0]["samples"],
            }
        )
    return out


def plot(result: dict[str, Any], path: Path) -> Path:
    """Delay of the vehicles departing in each 5 minutes, and vehicles halting, over the
    episode: one line per controller. PNG (matplotlib) or, for .html, an interactive page."""
    if path.suffix.lower() == ".html":
        return _plot_html(result, path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    begin = result["scenario"]["begin"]
    for c in result["controllers"]:
        d = c["delay_over_time"]
        a.plot([(p["t"] - begin) / 60 for p in d], [p["delay"] for p in d], marker="o",
               label=f"{c['controller']} ({c['delay']:.1f} s)")  # fmt: skip
        s = c["samples"]
        b.plot([(p["t"] - begin) / 60 for p in s], [p["halting"] for p in s], label=c["controller"])
    a.set_ylabel("delay per vehicle (s)\nby departure, 5-min bins")
    a.set_title(f"{result['scenario']['name']}: seed {result['seeds'][0]}")
    a.legend(fontsize=8)
    a.grid(alpha=0.3)
    b.set_ylabel("vehicles halting")
    b.set_xlabel("minutes into the episode")
    b.grid(alpha=0.3)
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)
    return path


def _plot_html(result: dict[str, Any], path: Path) -> Path:
    import plotly.graph_objects as go

    begin = result["scenario"]["begin"]
    fig = go.Figure()
    for c in result["controllers"]:
        d = c["delay_over_time"]
        fig.add_scatter(x=[(p["t"] - begin) / 60 for p in d], y=[p["delay"] for p in d],
                        name=f"{c['controller']} ({c['delay']:.1f} s)")  # fmt: skip
    fig.update_layout(
        title=f"{result['scenario']['name']}: delay by departure time",
        xaxis_title="minutes into the episode",
        yaxis_title="delay per vehicle (s)",
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(fig.to_html(include_plotlyjs=True, full_html=True))
    tmp.replace(path)
    return path

"""The RESCO protocol (BENCHMARKS.md section 5): eight scenarios, one-hour episodes, RESCO
delay; our controllers re-measured on our SUMO beside the published SUMO 1.9 figures."""

from __future__ import annotations

import statistics
import time
from typing import Any

from odlar.core.compute.fanout import map_items
from odlar.core.errors import UsageError
from odlar.core.tasks import Anchor, BenchResult, Progress
from odlar.mobility import dqn
from odlar.mobility.scenarios import RESCO_NAMES, Scenario, resco
from odlar.mobility.sim import Options, run_many

SOURCE = "RESCO result files (Ault and Sharon 2021), SUMO 1.9"
PROTOCOL = (
    "RESCO: one-hour episodes (Cologne from 25200 s, Ingolstadt from 57600 s, grids from 0), "
    "a decision every 10 s with 3 s yellow (arterial4x4: 5 s and 2 s), no teleporting; "
    "delay = mean over vehicles of timeLoss + departDelay, unfinished trips included, plus "
    "(end - scheduled departure) for vehicles never inserted. Ours: SUMO 1.28 via libsumo, "
    "fixed seeds; published: SUMO 1.9 with --random, learners' best training episode."
)
PUBLISHED_METHODS = ("fixed", "greedy", "max_pressure", "idqn", "ippo", "mplight", "fma2c")
# BENCHMARKS.md section 5, delay in s; None where RESCO published no figure
PUBLISHED: dict[str, tuple[float | None, ...]] = {
    "grid4x4": (None, 34.32, 52.55, 32.95, 44.00, 46.91, 99.77),
    "arterial4x4": (None, 820.81, 952.75, 1168.32, 686.62, 837.75, 654.13),
    "cologne1": (56.61, 27.81, 65.85, 26.05, 43.24, 28.74, 30.79),
    "cologne3": (46.35, 90.67, 162.28, 23.99, 24.03, 83.65, 26.86),
    "cologne8": (63.77, 21.87, 47.73, 22.06, 21.62, 60.42, 33.88),
    "ingolstadt1": (39.40, 28.32, 23.62, 21.48, 20.90, None, 27.00),
    "ingolstadt7": (91.31, 80.56, 46.82, 31.19, 31.68, 48.21, 51.39),
    "ingolstadt21": (133.10, 76.32, 136.72, 59.64, 93.11, 78.16, 90.29),
}
BASELINES = ("fixed", "actuated", "greedy", "max_pressure")
CONTROLLERS = (*BASELINES, "dqn")
SEEDS = (42, 1, 2)
#: a vehicle standing this long inside a junction means a deadlock (teleporting is off)
DEADLOCK_S = 300.0


def anchors(scenario: str) -> list[Anchor]:
    row = PUBLISHED.get(scenario)
    if row is None:
        return []
    return [
        Anchor(method=m, metrics={"delay": v}, source=SOURCE)
        for m, v in zip(PUBLISHED_METHODS, row, strict=True)
        if v is not None
    ]


def best_published(scenario: str) -> tuple[str, float]:
    row = PUBLISHED[scenario]
    return min(
        ((m, v) for m, v in zip(PUBLISHED_METHODS, row, strict=True) if v is not None),
        key=lambda mv: mv[1],
    )


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean (and spread) over seeds of one scenario and controller."""
    delays = [r["delay"] for r in runs]
    scenario, method = runs[0]["scenario"], runs[0]["method"]
    published = dict(zip(PUBLISHED_METHODS, PUBLISHED.get(scenario, ()), strict=False))
    metrics: dict[str, Any] = {
        "delay": statistics.fmean(delays),
        "published": published.get(method),
        "delay_sd": statistics.stdev(delays) if len(delays) > 1 else 0.0,
    }
    for key in ("delay_resco_code", "trip_time", "waiting_time", "queue", "queue_max",
                "throughput", "never_inserted", "teleports"):  # fmt: skip
        metrics[key] = statistics.fmean(float(r.get(key, 0.0)) for r in runs)
    metrics["deadlocks"] = sum(r["max_junction_wait"] > DEADLOCK_S for r in runs)
    return {
        "method": f"{method} ({scenario})",
        "scenario": scenario,
        "controller": method,
        "seeds": [r["seed"] for r in runs],
        "delay_per_seed": [round(d, 2) for d in delays],
        "metrics": {k: _round(v) for k, v in metrics.items()},
        "predict_seconds": round(statistics.fmean(r["wall_s"] for r in runs), 2),
    }


def run(
    *,
    quick: bool,
    progress: Progress,
    scenarios: tuple[str, ...] | None = None,
    methods: tuple[str, ...] | None = None,
    params: dict[str, Any] | None = None,
) -> BenchResult:
    params = params or {}
    names = scenarios or (("cologne1", "ingolstadt1") if quick else RESCO_NAMES)
    chosen = methods or BASELINES
    unknown = [m for m in chosen if m not in CONTROLLERS]
    if unknown:
        raise UsageError(
            f"no controller {', '.join(repr(m) for m in unknown)} in the mobility.signals "
            f"benchmark (known: {', '.join(CONTROLLERS)})"
        )
    seeds = tuple(int(s) for s in str(params.get("seeds", "42" if quick else "42,1,2")).split(","))
    horizon = 600 if quick else None
    notes: list[str] = []
    plan: list[Scenario] = []
    for name in names:
        sc = resco(name)
        if horizon:
            sc = Scenario(**{**sc.__dict__, "end": sc.begin + horizon})
        plan.append(sc)
    results: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    weights: dict[str, Any] = {}
    if "dqn" in chosen:
        minutes = float(params.get("minutes", 0.2 if quick else dqn.DEFAULTS["minutes"]))
        progress(0.0, f"training dqn on {len(plan)} scenarios ({minutes:g} min each)")
        for name, trained in train_many(plan, {"minutes": minutes}, params.get("backend")):
            weights[name] = trained.weights
            notes.append(
                f"dqn {name}: trained {trained.episodes} episodes in {trained.seconds:.0f} s "
                f"on one core; kept episode {trained.best['episode']} (evaluation seeds "
                f"{trained.best['seeds']}, delay {trained.best['delay']:.2f})"
            )
            progress(0.5 * len(weights) / len(plan), f"dqn trained on {name}")
    runs = [
        (sc, m, {"weights": weights[sc.name]} if m == "dqn" else {}, Options(seed=seed))
        for sc in plan
        for m in chosen
        for seed in seeds
    ]
    done: list[dict[str, Any]] = []

    def tick(r: dict[str, Any]) -> None:
        done.append(r)
        progress(0.5 + 0.5 * len(done) / len(runs) if weights else len(done) / len(runs),
                 f"{r['scenario']} {r['method']} seed {r['seed']}: {r['delay']:.1f} s")  # fmt: skip

    t_episodes = time.perf_counter()
    raw = run_many(runs, on_result=tick, backend=params.get("backend"))
    episodes_wall = time.perf_counter() - t_episodes
    for sc in plan:
        for m in chosen:
            rows = [r for r in raw if r["scenario"] == sc.name and r["method"] == m]
            results.append(summarise(rows))
    notes.append(
        f"{len(runs)} episodes in {episodes_wall:.0f} s on "
        f"{'Ray tasks' if params.get('backend') == 'ray' else f'{_workers(len(runs))} processes'} "
        f"(whole bench {time.perf_counter() - t0:.0f} s)"
    )
    if not quick and set(BASELINES) <= set(chosen):
        met = []
        for name in names:
            m, v = best_published(name)
            ours = min(
                (r for r in results if r["scenario"] == name), key=lambda r: r["metrics"]["delay"]
            )
            d = ours["metrics"]["delay"]
            ok = d <= v
            met.append(ok)
            verdict = "at or below" if ok else f"behind by {d - v:.2f}"
            notes.append(
                f"{name}: best ours {ours['controller']} {d:.2f} vs best published "
                f"{m} {v:.2f}: {verdict}"
            )
        notes.append(f"at or below the best published delay on {sum(met)} of {len(met)}")
    if horizon:
        notes.append(f"quick: {horizon} s episodes, not the protocol's hour")
    return BenchResult(
        task="mobility.signals",
        dataset="resco",
        protocol=PROTOCOL,
        results=results,
        anchors=[_best_anchor(name) for name in names],
        notes=notes,
    )


def _train_one(args: tuple[Scenario, dict[str, Any]]) -> tuple[str, dqn.Trained]:
    sc, params = args
    return sc.name, dqn.train(sc, params, lambda f, m: None)


def train_many(
    plan: list[Scenario], params: dict[str, Any], backend: Any = None
) -> list[tuple[str, dqn.Trained]]:
    """One DQN per scenario, trained in parallel fresh processes (one core each: libsumo
    allows one simulation per process, and each training runs one torch thread)."""
    return map_items(_train_one, [(sc, params) for sc in plan], fresh_process=True,
                     backend=backend)  # fmt: skip


def next_phase_latency(requests: int, progress: Progress) -> BenchResult:
    """Time the next-phase route of `odlar serve` (token, role, approval, event log
    included) as a cabinet calls it: one signal's detectors per request, over loopback."""
    import http.client
    import json

    import numpy as np

    from odlar.core import jobs
    from odlar.core.bench import scratch_store, server_process
    from odlar.governance import accounts, approval

    rows = []
    with scratch_store():
        token = accounts.ensure_admin()
        versions = {}
        for method, params in (
            ("max_pressure", {"horizon": 600, "seeds": "42"}),
            ("dqn", {"minutes": 0.5, "episodes": 2, "eval_every": 1, "horizon": 600,
                     "seeds": "42"}),
        ):  # fmt: skip
            spec = jobs.FitSpec(task="mobility.signals", data="resco:ingolstadt7", method=method,
                                params=params)  # fmt: skip
            job = jobs.run(jobs.create(spec, created_by="bench").id)
            versions[method] = v = int(job.result["model"]["version"])
            approval.approve("default", "mobility.signals", v, actor="bench", reason="bench",
                             override=True)  # fmt: skip
        progress(0.3, "controllers registered; timing requests")
        rng = np.random.default_rng(0)
        body = {
            "signals": [
                {
                    "signal": "gneJ143",
                    "current_phase": 0,
                    "seconds_since_green": None,
                    "links": [{"index": i, "approach": 0.0, "queue": 0.0} for i in range(6)],
                }
            ]
        }
        with server_process("odlar", "serve") as url:
            # a lean client (the standard library's, one kept-alive connection): on 2 shared
            # cores a heavier client's own CPU time would be counted against the server
            conn = http.client.HTTPConnection(url.removeprefix("http://"))
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            for method, v in versions.items():
                body["model_version"] = v
                times, server = [], []
                for i in range(requests + 50):
                    for link in body["signals"][0]["links"]:
                        link["queue"] = float(rng.integers(0, 15))
                        link["approach"] = float(rng.integers(0, 8))
                    start = time.perf_counter()
                    conn.request("POST", "/api/v1/tasks/mobility.signals/predict",
                                 json.dumps(body), headers)  # fmt: skip
                    r = conn.getresponse()
                    answer = json.loads(r.read())
                    if i >= 50:  # the first 50 warm the path
                        times.append(1000 * (time.perf_counter() - start))
                        # the server's own time (Server-Timing: app;dur=MS)
                        server.append(float(r.headers["server-timing"].split("dur=")[1]))
                    if r.status != 200:
                        raise RuntimeError(str(answer))
                rows.append({
                    "method": f"next phase, {method} (ingolstadt7 gneJ143)",
                    "metrics": {
                        **{q: round(float(np.percentile(times, p)), 3)
                           for q, p in (("ms_p50", 50), ("ms_p99", 99))},
                        **{q: round(float(np.percentile(server, p)), 3)
                           for q, p in (("server_ms_p50", 50), ("server_ms_p99", 99))},
                    },
                    "details": {"requests": requests},
                })  # fmt: skip
            conn.close()
    return BenchResult(
        task="mobility.signals",
        dataset="api",
        protocol="POST /api/v1/tasks/mobility.signals/predict on `odlar serve` over loopback, "
        "one signal per request, governed (token, role, approval, event log); ms: client-side "
        "wall time (Python's http.client, keep-alive, on the same 2 cores as the server); "
        "server_ms: the server's Server-Timing; target under 5 ms at the 99th percentile",
        results=rows,
        anchors=[Anchor("target", {"ms_p99": 5.0}, "issue 4")],
        notes=[],
    )


def _best_anchor(name: str) -> Anchor:
    method, delay = best_published(name)
    return Anchor(f"best published: {method} ({name})", {"delay": delay}, SOURCE)


def _workers(n: int) -> int:
    import os

    return max(1, min(os.cpu_count() or 1, n))


def _round(v: Any) -> Any:
    return round(v, 3) if isinstance(v, float) else v

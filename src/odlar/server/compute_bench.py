"""`odlar bench compute`: local processes against a Ray cluster, side by side in one run.

On a throw-away store and a Ray cluster started here (a head with no CPUs, worker nodes
of one CPU each, on loopback):

1. submission-to-start latency of a fit job, local and on Ray (one job at a time);
2. throughput of N short fit jobs (50; --quick: 4), two at a time on both: local with
   ODLAR_LOCAL_CPUS=2, Ray with two 1-CPU workers;
3. the RESCO baseline bench (mobility.signals, four classic controllers, 8 scenarios, seed
   42) on the local process pool (2 processes) and as Ray tasks on one, then two worker
   nodes: the fan-out's speed-up and its cost against the local pool on the same cores.

Targets (issue 15): Ray's per-job overhead under 1 s; the fan-out within 10% of the local
process pool on the same cores.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.tasks import Anchor, BenchResult, Progress

SHORT_JOB = {"task": "energy.rul", "data": "energy/cmapss/train_FD001.txt", "method": "gbm",
             "params": {"folds": 2, "max_iter": 40, "cuts_per_unit": 3},
             "resources": {"cpus": 1}}  # fmt: skip


@contextmanager
def _env(**values: str | None) -> Iterator[None]:
    from odlar.core import config

    old = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    config.reset_settings()
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        config.reset_settings()


def _wait(ids: list[str], timeout: float = 1800) -> list[Any]:
    from odlar.core import jobs

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        views = [jobs.get(i) for i in ids]
        if all(v.state in jobs.FINISHED for v in views):
            bad = [v for v in views if v.state != "succeeded"]
            if bad:
                raise RuntimeError(f"job {bad[0].id} {bad[0].state}: {bad[0].error}")
            return views
        time.sleep(0.2)
    raise TimeoutError("jobs did not finish")


def _latency(backend: str, n: int) -> list[float]:
    """Seconds from the submit call to the job's process recording itself running, one
    job at a time (each waits for the one before to end)."""
    from datetime import UTC, datetime

    from odlar.core import jobs

    out = []
    for _ in range(n):
        t0 = datetime.now(UTC)
        job = jobs.submit(jobs.FitSpec.model_validate({**SHORT_JOB, "backend": backend}))
        (done,) = _wait([job.id])
        out.append((done.started_at - t0).total_seconds())
    return out


def _throughput(backend: str, n: int) -> float:
    from odlar.core import jobs

    t0 = time.perf_counter()
    ids = [jobs.submit(jobs.FitSpec.model_validate({**SHORT_JOB, "backend": backend})).id
           for _ in range(n)]  # fmt: skip
    _wait(ids)
    return time.perf_counter() - t0


def _resco(quick: bool, backend: str | None) -> tuple[float, dict[str, float]]:
    from odlar.core import benchmarks

    t0 = time.perf_counter()
    params = {"seeds": "42"} | ({"backend": backend} if backend else {})
    # through the benchmark registry, as `odlar bench mobility.signals` runs it
    resco = benchmarks.find("mobility.signals", "resco")
    result = resco.run(benchmarks.BenchRun(Path(), quick=quick, params=params))
    delays = {r.method: r.metrics["delay"] for r in result.results}
    return time.perf_counter() - t0, {k: v for k, v in delays.items() if v is not None}


def _fan_out(cluster: Any, quick: bool, progress: Progress, notes: list[str]) -> list[dict]:
    """The RESCO baselines on one Ray worker, then two, then the local pool (2 processes);
    leaves the cluster with two workers."""
    from odlar.core.compute import fanout

    progress(0.15, "one vs two workers: RESCO baselines on one Ray worker")
    with _env(**cluster.client_env()):
        one_s, one_delays = _resco(quick, "ray")
        fanout.disconnect()
    progress(0.35, "adding a second worker node")
    cluster.add_worker(cpus=1)
    with _env(**cluster.client_env()):
        two_s, two_delays = _resco(quick, "ray")
        fanout.disconnect()
    progress(0.55, "RESCO baselines on the local process pool (2 processes)")
    with _env(ODLAR_RAY_ADDRESS=None):
        local_s, local_delays = _resco(quick, "local")
    same = one_delays == two_delays == local_delays
    scope = "2 scenarios, 600 s (quick)" if quick else "8 scenarios, one hour"
    notes.append(f"RESCO: 4 controllers, {scope}, seed 42; delays identical on the three "
                 f"runs: {same}")  # fmt: skip
    return [
        {"method": "RESCO baselines, local pool (2 processes)",
         "metrics": {"seconds": round(local_s, 1)}},
        {"method": "RESCO baselines, Ray tasks, 1 worker (1 CPU)",
         "metrics": {"seconds": round(one_s, 1)}},
        {"method": "RESCO baselines, Ray tasks, 2 workers (1 CPU each)",
         "metrics": {"seconds": round(two_s, 1),
                     "speedup_vs_1_worker": round(one_s / two_s, 3),
                     "ratio_to_local_pool": round(two_s / local_s, 3)}},
    ]  # fmt: skip


@benchmark("compute", "ray", settings=("jobs", "latency", "resco"), record=False)
def run_bench(run: BenchRun) -> BenchResult:
    """`params`: `jobs` (short jobs for throughput, default 50; --quick 4), `latency` (jobs
    timed one at a time, default 5; --quick 2), `resco` (false: skip the fan-out part)."""
    from odlar.core.bench import scratch_store
    from odlar.core.compute import fanout
    from odlar.core.compute.local_cluster import LocalCluster

    quick, progress, params = run.quick, run.progress, run.params
    n_latency = int(params.get("latency", 2 if quick else 5))
    n_jobs = int(params.get("jobs", 4 if quick else 50))
    with_resco = str(params.get("resco", "true")).lower() not in ("false", "0", "no")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    progress(0.0, "starting a Ray head and one worker node")
    t_start = time.perf_counter()
    cluster = LocalCluster().start()
    try:
        cluster.add_worker(cpus=1)
        notes.append(f"Ray head and one worker started in {time.perf_counter() - t_start:.0f} s")
        with scratch_store(), cluster.as_client():
            progress(0.05, "local: submission-to-start latency")
            with _env(ODLAR_RAY_ADDRESS=None, ODLAR_LOCAL_CPUS="2"):
                local_lat = _latency("local", n_latency)
            progress(0.1, "ray: submission-to-start latency")
            with _env(**cluster.client_env()):
                ray_lat = _latency("ray", n_latency)
            for name, lat in (("local", local_lat), ("ray", ray_lat)):
                rows.append({"method": f"submission to start, {name}",
                             "metrics": {"seconds_median": round(statistics.median(lat), 3),
                                         "seconds_max": round(max(lat), 3)},
                             "details": {"seconds": [round(x, 3) for x in lat]}})  # fmt: skip
            overhead = statistics.median(ray_lat) - statistics.median(local_lat)
            rows.append({"method": "Ray per-job overhead (median latency, ray - local)",
                         "metrics": {"seconds": round(overhead, 3)}})  # fmt: skip

            if with_resco:
                rows += _fan_out(cluster, quick, progress, notes)
            else:
                cluster.add_worker(cpus=1)
                notes.append("fan-out part skipped (--param resco=false)")

            progress(0.7, f"throughput: {n_jobs} short jobs, local")
            with _env(ODLAR_RAY_ADDRESS=None, ODLAR_LOCAL_CPUS="2"):
                local_t = _throughput("local", n_jobs)
            progress(0.85, f"throughput: {n_jobs} short jobs, ray")
            with _env(**cluster.client_env()):
                ray_t = _throughput("ray", n_jobs)
            for name, secs in (("local, 2 at a time", local_t), ("Ray, 2 workers x 1 CPU", ray_t)):
                per_minute = round(60 * n_jobs / secs, 2)
                rows.append({"method": f"{n_jobs} short fit jobs, {name}",
                             "metrics": {"seconds": round(secs, 1),
                                         "jobs_per_minute": per_minute}})  # fmt: skip
    finally:
        fanout.disconnect()
        cluster.stop()
    notes.append(
        "short job: energy.rul gbm on C-MAPSS FD001 (2 folds, 40 iterations), 1 CPU; the "
        "job's process imports odlar and MLflow and registers a model version"
    )
    notes.append("measured on a 2-core machine shared with other work: timings vary with its load")
    return BenchResult(
        task="compute",
        dataset="ray",
        protocol=" ".join(__doc__.split("\n\n", 1)[1].split()),
        results=rows,
        anchors=[
            Anchor("target: Ray per-job overhead", {"seconds": 1.0}, "issue 15"),
            Anchor("target: fan-out on Ray vs local pool, same cores",
                   {"ratio_to_local_pool": 1.10}, "issue 15"),  # fmt: skip
        ],
        notes=notes,
    )

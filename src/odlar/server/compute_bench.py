"""`odlar bench compute`: local processes against a Ray cluster, side by side in one run.

On a throw-away store and a Ray cluster started here (a head with no CPUs, worker nodes
of one CPU each, on loopback):

1. submission-to-start latency of a short fit job, local and on Ray (one job at a time,
   the two backends alternating), split into its stages;
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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.tasks import Anchor, BenchResult

#: the short job: gradient boosting on the first SHORT_UNITS engines of C-MAPSS FD001, tiny
#: settings; what is left of its seconds is starting Python and odlar, MLflow's store and
#: registering the model version, which every fit job pays
SHORT_UNITS = 10
SHORT_JOB = {"task": "energy.rul", "method": "gbm",
             "params": {"folds": 2, "max_iter": 10, "cuts_per_unit": 1},
             "resources": {"cpus": 1}}  # fmt: skip


def _short_data(folder: Path) -> str:
    """The short job's data file (outside odlar's home, which jobs may not read)."""
    from odlar.core.config import get_settings

    source = get_settings().data_dir / "energy/cmapss/train_FD001.txt"
    if not source.is_file():
        from odlar.core.errors import NotFound

        raise NotFound(f"{source}: C-MAPSS FD001 is needed (odlar data fetch cmapss)")
    rows = [r for r in source.read_text().splitlines() if r.strip()]
    path = folder / "fd001-short.txt"
    path.write_text("\n".join(r for r in rows if int(r.split()[0]) <= SHORT_UNITS) + "\n")
    return str(path)


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


#: the start-up's parts, in order: name and the two events it lies between
STAGES = {
    "local": [("submit and start the process", "submitted", "process"),
              ("Python and odlar's imports", "process", "imported"),
              ("read the job, record it running", "imported", "running")],
    "ray": [("odlar: quota and capacity checks, Ray's Jobs API call", "submitted", "accepted"),
            ("Ray: start the job supervisor's worker process", "accepted", "supervisor"),
            ("Ray: that worker imports Ray, runs the job supervisor, starts the entrypoint",
             "supervisor", "process"),
            ("Python and odlar's imports", "process", "imported"),
            ("read the job, record it running", "imported", "running")],
}  # fmt: skip


def _one_start(backend: str, spec: dict[str, Any]) -> dict[str, float]:
    """One job, submitted and waited for: the times (seconds after the submit call) of
    the events of its start-up, from the job's own `odlar-startup` log line."""
    from odlar.core import jobs
    from odlar.core.compute import startup

    t0 = time.time()
    job = jobs.submit(jobs.FitSpec.model_validate({**spec, "backend": backend}))
    accepted = time.time()
    (done,) = _wait([job.id])
    rec = startup.parse(jobs.logs(job.id)) or {}
    procs = rec.get("processes") or []
    events = {"submitted": t0, "accepted": accepted, "running": done.started_at.timestamp()}
    if procs:
        events["process"] = procs[0]["start"]
        events["imported"] = rec["imported"]
        sup = [p["start"] for p in procs[1:] if p["cmd"].startswith("ray::JobSupervisor")]
        if sup:
            events["supervisor"] = sup[0]
    return {k: v - t0 for k, v in events.items()}


def _latency(cluster: Any, spec: dict[str, Any], n: int) -> dict[str, list[dict[str, float]]]:
    """`n` jobs on each backend, one at a time, local and Ray alternating (so both see the
    same load): each job's start-up events."""
    out: dict[str, list[dict[str, float]]] = {"local": [], "ray": []}
    for i in range(n):
        for backend in ("local", "ray") if i % 2 == 0 else ("ray", "local"):
            env = (
                cluster.client_env()
                if backend == "ray"
                else {"ODLAR_RAY_ADDRESS": None, "ODLAR_LOCAL_CPUS": "2"}
            )
            with _env(**env):
                out[backend].append(_one_start(backend, spec))
    return out


def _latency_rows(starts: dict[str, list[dict[str, float]]]) -> list[dict[str, Any]]:
    rows = []
    for backend, events in starts.items():
        lat = [e["running"] for e in events]
        parts = {}
        for name, a, b in STAGES[backend]:
            spans = [e[b] - e[a] for e in events if a in e and b in e]
            if spans:
                parts[name] = round(statistics.median(spans), 3)
        rows.append({"method": f"submission to start, {backend}",
                     "metrics": {"seconds_median": round(statistics.median(lat), 3),
                                 "seconds_max": round(max(lat), 3)},
                     "details": {"seconds": [round(x, 3) for x in lat],
                                 "median_seconds_by_stage": parts}})  # fmt: skip
    overhead = statistics.median(e["running"] for e in starts["ray"]) - statistics.median(
        e["running"] for e in starts["local"]
    )
    rows.append({"method": "Ray per-job overhead (median latency, ray - local)",
                 "metrics": {"seconds": round(overhead, 3)}})  # fmt: skip
    return rows


def _throughput(backend: str, spec: dict[str, Any], n: int) -> float:
    from odlar.core import jobs

    t0 = time.perf_counter()
    ids = [jobs.submit(jobs.FitSpec.model_validate({**spec, "backend": backend})).id
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


def _fan_out(
    cluster: Any, quick: bool, progress: Callable[[float, str], None], notes: list[str]
) -> list[dict]:
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
    """`params`: `jobs` (short jobs for throughput, default 50; --quick 4; 0 skips it),
    `latency` (jobs timed one at a time on each backend, default 5; --quick 2; 0 skips it),
    `resco` (false: skip the fan-out part)."""
    import tempfile

    from odlar.core.bench import scratch_store
    from odlar.core.compute import fanout
    from odlar.core.compute.local_cluster import LocalCluster

    quick, progress, params = run.quick, run.progress, run.params
    n_latency = int(params.get("latency", 2 if quick else 5))
    n_jobs = int(params.get("jobs", 4 if quick else 50))
    with_resco = str(params.get("resco", "true")).lower() not in ("false", "0", "no")
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    loads: list[float] = []

    def phase(fraction: float, what: str) -> None:
        loads.append(os.getloadavg()[0])
        notes.append(f"{what}: load average {loads[-1]:.1f} at its start")
        progress(fraction, what)

    progress(0.0, "starting a Ray head and one worker node")
    t_start = time.perf_counter()
    cluster = LocalCluster().start()
    data = tempfile.TemporaryDirectory(prefix="odlar-short-")
    try:
        cluster.add_worker(cpus=1)
        notes.append(f"Ray head and one worker started in {time.perf_counter() - t_start:.0f} s")
        spec = {**SHORT_JOB, "data": _short_data(Path(data.name))}
        with scratch_store(), cluster.as_client():
            if n_latency:
                phase(0.05, f"submission-to-start latency, {n_latency} jobs each, alternating")
                rows += _latency_rows(_latency(cluster, spec, n_latency))
            if with_resco:
                rows += _fan_out(cluster, quick, phase, notes)
            else:
                cluster.add_worker(cpus=1)
                notes.append("fan-out part skipped (--param resco=false)")
            if n_jobs:
                phase(0.7, f"throughput: {n_jobs} short jobs, local")
                with _env(ODLAR_RAY_ADDRESS=None, ODLAR_LOCAL_CPUS="2"):
                    local_t = _throughput("local", spec, n_jobs)
                phase(0.85, f"throughput: {n_jobs} short jobs, ray")
                with _env(**cluster.client_env()):
                    ray_t = _throughput("ray", spec, n_jobs)
                for name, secs in (("local, 2 at a time", local_t),
                                   ("Ray, 2 workers x 1 CPU", ray_t)):  # fmt: skip
                    per_minute = round(60 * n_jobs / secs, 2)
                    rows.append({"method": f"{n_jobs} short fit jobs, {name}",
                                 "metrics": {"seconds": round(secs, 1),
                                             "jobs_per_minute": per_minute}})  # fmt: skip
    finally:
        fanout.disconnect()
        cluster.stop()
        data.cleanup()
    notes.append(
        f"short job: energy.rul gbm on the first {SHORT_UNITS} engines of C-MAPSS FD001 "
        "(2 folds, 10 iterations), 1 CPU; the job's process imports odlar and MLflow and "
        "registers a model version"
    )
    notes.append(
        "start-up events: the job's process prints when it and its parent processes started "
        "(from /proc) and when its imports were done; a job is started when its process "
        "records it running, the same event on both backends"
    )
    loads.append(os.getloadavg()[0])
    notes.append(f"load average {min(loads):.1f} to {max(loads):.1f} on {os.cpu_count()} cores")
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

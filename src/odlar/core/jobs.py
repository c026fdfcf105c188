"""Jobs: one interface, state in the store, so a restart never loses or strands a job.

A job is recorded `queued` and started by the scheduler (`core/compute/scheduler.py`) when
its tenant's quota and the backend's capacity allow. Both backends run the same command,
`python -P -m odlar.core.jobs ID` (-P: the server's working directory is never on its
import path), which reads the job from the store and writes its progress, result and
accounting back:

- local: a process on this machine in a new session, so a job keeps going if the server
  that started it dies; `recover()` marks a job whose process is gone as interrupted and
  ends the MLflow run it left open, so MLflow and odlar agree;
- ray (with ODLAR_RAY_ADDRESS): a Ray Job with the resources the job declares;
  `recover()` reconciles every active Ray job with the cluster's state.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select

from odlar.core.compute import scheduler
from odlar.core.compute.resources import Resources
from odlar.core.config import get_settings
from odlar.core.datasets import resolve_source
from odlar.core.errors import Conflict, NotFound, OdlarError, UsageError
from odlar.core.privacy import tenant_scope
from odlar.core.store import DEFAULT_TENANT, JobRecord, as_utc, session_scope, utcnow
from odlar.core.tasks import Progress, get_task

ACTIVE = ("queued", "running")
FINISHED = ("succeeded", "failed", "interrupted", "cancelled")


class FitSpec(BaseModel):
    """What a fit job does: train `method` of `task` on `data`, optionally evaluate on `eval`."""

    task: str = Field(description="Task name, e.g. energy.rul")
    data: str = Field(description="Dataset id, or a path relative to ODLAR_DATA")
    method: str | None = Field(
        default=None, description="Model family; the task's default if omitted"
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="Hyperparameters, seed included"
    )
    eval: str | None = Field(default=None, description="Dataset id or path with ground truth")
    resources: Resources | None = Field(
        default=None,
        description="CPUs, GPUs, memory; the task's declaration for the method if omitted",
    )
    backend: Literal["local", "ray"] | None = Field(
        default=None,
        description="Where to run: 'ray' when ODLAR_RAY_ADDRESS is set, else local",
    )


@dataclass
class JobView:
    id: str
    kind: str
    task: str
    state: str
    progress: float
    message: str
    spec: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pid: int | None
    tenant: str
    backend: str
    node: str | None
    resources: dict[str, Any]
    usage: dict[str, float | None]

    @classmethod
    def of(cls, r: JobRecord) -> JobView:
        return cls(
            r.id,
            r.kind,
            r.task,
            r.state,
            r.progress,
            r.message,
            r.spec,
            r.result,
            r.error,
            as_utc(r.created_at),
            as_utc(r.started_at),
            as_utc(r.finished_at),
            r.pid,
            r.tenant,
            r.backend,
            r.node,
            {"cpus": r.cpus, "gpus": r.gpus, "memory_mb": r.memory_mb},
            {
                "wall_seconds": r.wall_seconds,
                "cpu_seconds": r.cpu_seconds,
                "gpu_seconds": r.gpu_seconds,
                "peak_memory_mb": r.peak_memory_mb,
            },
        )

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["progress"] = round(self.progress, 4)
        for k in ("created_at", "started_at", "finished_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def create(
    spec: FitSpec,
    *,
    tenant: str = DEFAULT_TENANT,
    created_by: str | None = None,
    queue: bool = False,
) -> JobView:
    """Validate and record a fit job (state queued); nothing runs yet. Without `queue` the
    caller runs it (`run(id)`: `odlar fit` without --detach, benches); with it, the
    scheduler starts it when quotas and capacity allow."""
    foreground = not queue
    task = get_task(spec.task)
    method = spec.method or task.default_method
    if method not in task.methods:
        raise UsageError(
            f"task '{task.name}' has no method '{method}' (choose from: {', '.join(task.methods)})"
        )
    backend = "local" if foreground else (spec.backend or scheduler.default_backend())
    res = spec.resources or task.resources(method)
    spec = spec.model_copy(update={"method": method, "backend": backend, "resources": res})
    for ref in filter(None, (spec.data, spec.eval)):
        resolve_source(ref, tenant=tenant)  # a missing file fails now, not in the job
    if not foreground:  # a job that could never start is refused now (409), not queued
        scheduler.check_fits(res, tenant, backend)
    with session_scope() as s:
        if foreground:  # held against the quota from now: refused when the quota is full
            scheduler.admit_foreground(s, tenant, res)
        rec = JobRecord(
            kind="fit",
            task=task.name,
            spec=spec.model_dump(),
            tenant=tenant,
            created_by=created_by,
            host=socket.gethostname(),
            backend=backend,
            cpus=res.cpus,
            gpus=res.gpus,
            memory_mb=res.memory_mb,
            dispatched_at=utcnow() if foreground else None,
        )
        s.add(rec)
        s.flush()
        job = JobView.of(rec)
    from odlar.core import audit

    audit.record(
        tenant=tenant, actor=created_by or "odlar", action="job_submit", target=task.name,
        output={"job": job.id, "spec": spec.model_dump(mode="json")},
    )  # fmt: skip
    return job


def submit(
    spec: FitSpec, *, tenant: str = DEFAULT_TENANT, created_by: str | None = None
) -> JobView:
    """Record a job and start it when its tenant's quota and the backend allow: at once if
    they do, else it waits `queued` with a message saying what for."""
    job = create(spec, tenant=tenant, created_by=created_by, queue=True)
    scheduler.dispatch()
    return get(job.id, tenant=tenant)


def get(job_id: str, *, tenant: str = DEFAULT_TENANT) -> JobView:
    with session_scope() as s:
        rec = s.get(JobRecord, job_id)
        if rec is None or rec.tenant != tenant:
            raise NotFound(f"no job '{job_id}'")
        return JobView.of(rec)


def list_jobs(*, tenant: str = DEFAULT_TENANT, limit: int = 50) -> list[JobView]:
    recover()
    with session_scope() as s:
        rows = s.scalars(
            select(JobRecord)
            .where(JobRecord.tenant == tenant)
            .order_by(JobRecord.created_at.desc())
            .limit(limit)
        )
        return [JobView.of(r) for r in rows]


def counts(*, tenant: str = DEFAULT_TENANT) -> dict[str, int]:
    """How many of the tenant's jobs are in each state (for the console's home page)."""
    recover()
    with session_scope() as s:
        rows = s.execute(
            select(JobRecord.state, func.count())
            .where(JobRecord.tenant == tenant)
            .group_by(JobRecord.state)
        ).all()
    return {state: int(n) for state, n in rows}


def log_path(job_id: str) -> Path:
    return get_settings().jobs_dir / f"{job_id}.log"


def logs(job_id: str, *, tenant: str = DEFAULT_TENANT) -> str:
    """A job's output: its log file (local) or the Ray job's logs (ray)."""
    job = get(job_id, tenant=tenant)
    with session_scope() as s:
        external = s.get(JobRecord, job_id).external_id
    if job.backend == "ray" and external:
        from odlar.core.compute.ray_jobs import RayJobs

        return RayJobs().logs(external)
    path = log_path(job_id)
    return path.read_text(errors="replace") if path.exists() else ""


def _alive(pid: int) -> bool:
    child = scheduler._children.get(pid)
    if child is not None:
        return child.poll() is None  # also reaps our own finished children
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie has exited: it only waits to be reaped
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def recover(grace_seconds: float = 30.0) -> list[str]:
    """Mark started jobs whose process is gone as interrupted (local jobs of this host) or
    as Ray reports them (Ray jobs), then start what may start; returns the ended ids."""
    host = socket.gethostname()
    interrupted = []
    now = utcnow()
    ray_jobs: list[tuple[str, str | None, datetime]] = []
    with session_scope() as s:
        for rec in s.scalars(select(JobRecord).where(JobRecord.state.in_(ACTIVE))):
            if rec.dispatched_at is None and rec.state == "queued":
                continue  # waiting in the queue: nothing was started
            since = as_utc(rec.dispatched_at or rec.created_at)
            if rec.backend == "ray":
                ray_jobs.append((rec.id, rec.external_id, since))
                continue
            if rec.backend != "local" or rec.host != host:
                continue
            if rec.pid is None:
                if (now - since).total_seconds() < grace_seconds:
                    continue  # just started: its process is starting
                gone = True
            else:
                gone = not _alive(rec.pid)
            if gone:
                _ended(rec, now, (
                    f"the job's process (pid {rec.pid}) ended without reporting a result: "
                    "the server or machine was restarted or the process was killed; "
                    f"run `odlar jobs retry {rec.id}` to start it again"
                ))  # fmt: skip
                interrupted.append(rec.id)
    for job_id in interrupted:
        _end_runs(job_id, "KILLED")
    if ray_jobs:
        interrupted += _reconcile_ray(ray_jobs, grace_seconds)
    if get_settings().ray_address or interrupted or _has_waiting():
        with contextlib.suppress(OdlarError):
            scheduler.dispatch()
    return interrupted


def _end_runs(job_id: str, status: str) -> None:
    """End the MLflow runs a job left open; a failure to reach MLflow is logged, never
    raised, so listing jobs keeps working."""
    from odlar.core import tracking  # MLflow is slow to import: only where it is needed

    try:
        tracking.end_job_runs(job_id, status)
    except Exception as exc:  # noqa: BLE001  (MLflow raises many kinds)
        logging.getLogger(__name__).warning(
            "job %s: could not end its MLflow runs: %s", job_id, exc
        )


def _has_waiting() -> bool:
    with session_scope() as s:
        return (
            s.scalar(
                select(JobRecord.id)
                .where(JobRecord.state == "queued", JobRecord.dispatched_at.is_(None))
                .limit(1)
            )
            is not None
        )


def _ended(rec: JobRecord, now: datetime, error: str, state: str = "interrupted") -> None:
    rec.state, rec.finished_at, rec.error = state, now, error
    if rec.started_at is not None and rec.wall_seconds is None:
        rec.wall_seconds = (now - as_utc(rec.started_at)).total_seconds()
        rec.gpu_seconds = rec.wall_seconds * rec.gpus


def _reconcile_ray(
    active: list[tuple[str, str | None, datetime]], grace_seconds: float
) -> list[str]:
    """Ray jobs that ended without their process reporting (a node died, Ray stopped them)
    end in the store with Ray's reason; while the cluster is unreachable nothing changes."""
    from odlar.core.compute.ray_jobs import RayJobs

    try:
        cluster = RayJobs()
        states = {job_id: cluster.state(ext) for job_id, ext, _ in active if ext}
    except OdlarError:
        return []  # unreachable or not configured: keep the jobs as they are
    ended = []
    now = utcnow()
    with session_scope() as s:
        for job_id, _ext, since in active:
            rec = s.get(JobRecord, job_id)
            if rec.state not in ACTIVE:
                continue
            st = states.get(job_id)
            if st is None:  # claimed, not yet submitted
                if (now - since).total_seconds() > grace_seconds:
                    _ended(rec, now, "the job was never submitted to Ray; run `odlar jobs "
                           f"retry {job_id}`")  # fmt: skip
                    ended.append(job_id)
                continue
            if st.node:
                rec.node = st.node
            if not st.over:
                continue
            # the process reports its own outcome; a moment's grace for its last commit
            s.refresh(rec)
            if rec.state not in ACTIVE:
                continue
            state = "failed" if st.status == "FAILED" else "interrupted"
            if st.status == "MISSING":
                why = "Ray has no record of it (the cluster was restarted?)"
            else:
                why = f"Ray reports {st.status}: {st.message or 'no reason given'}"
            _ended(rec, now, f"the Ray job ended without reporting a result: {why}; run "
                   f"`odlar jobs retry {job_id}` to start it again", state)  # fmt: skip
            ended.append(job_id)
    return ended


def cancel(job_id: str, *, tenant: str = DEFAULT_TENANT) -> JobView:
    with session_scope() as s:
        rec = s.get(JobRecord, job_id)
        if rec is None or rec.tenant != tenant:
            raise NotFound(f"no job '{job_id}'")
        if rec.state not in ACTIVE:
            raise Conflict(f"job '{job_id}' is already {rec.state}")
        _ended(rec, utcnow(), "cancelled by a user", "cancelled")
        pid, backend, external = rec.pid, rec.backend, rec.external_id
    if backend == "ray":
        if external:
            from odlar.core.compute.ray_jobs import RayJobs

            RayJobs().stop(external)
    elif not (pid and _alive(pid)):
        _end_runs(job_id, "KILLED")  # no process left to end its own run
    elif pid != os.getpid():
        try:  # a background job leads its own process group; a CLI foreground job does not
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(OdlarError):
        scheduler.dispatch()  # its slot is free
    return get(job_id, tenant=tenant)


def retry(job_id: str, *, tenant: str = DEFAULT_TENANT, created_by: str | None = None) -> JobView:
    old = get(job_id, tenant=tenant)
    if old.state in ACTIVE:
        raise Conflict(f"job '{job_id}' is still {old.state}")
    return submit(FitSpec.model_validate(old.spec), tenant=tenant, created_by=created_by)


class Terminated(BaseException):
    """The job's process got SIGTERM (a cancel, or the machine shutting down): unwinds the
    job like an interrupt, so its MLflow run ends as KILLED rather than staying RUNNING."""


def _terminate(signum: int, frame: Any) -> None:
    raise Terminated(f"the job's process was stopped by signal {signum}")


class _Reporter:
    """Writes progress to the store at most every `interval` seconds."""

    def __init__(self, job_id: str, echo: Progress | None, interval: float = 0.5) -> None:
        self.job_id, self.echo, self.interval, self.last = job_id, echo, interval, 0.0

    def __call__(self, fraction: float, message: str) -> None:
        if self.echo:
            self.echo(fraction, message)
        now = time.monotonic()
        if now - self.last < self.interval and fraction < 1.0:
            return
        self.last = now
        with session_scope() as s:
            rec = s.get(JobRecord, self.job_id)
            if rec.state == "running":
                rec.progress = max(0.0, min(1.0, float(fraction)))
                rec.message = message
                rec.heartbeat_at = utcnow()


def run(job_id: str, *, echo: Progress | None = None) -> JobView:
    """Execute a recorded job in this process and store its outcome."""
    with session_scope() as s:
        rec = s.get(JobRecord, job_id)
        if rec is None:
            raise NotFound(f"no job '{job_id}'")
        if rec.state != "queued":
            raise Conflict(f"job '{job_id}' is {rec.state}, not queued")
        rec.state, rec.started_at, rec.pid = "running", utcnow(), os.getpid()
        rec.host, rec.heartbeat_at = socket.gethostname(), utcnow()
        rec.message = "started"
        if rec.backend != "ray":
            rec.node = rec.host
        if rec.dispatched_at is None:
            rec.dispatched_at = rec.started_at
        spec, tenant, created_by = FitSpec.model_validate(rec.spec), rec.tenant, rec.created_by
        backend, external_id = rec.backend, rec.external_id
    looking = None
    if backend == "ray":  # Ray's node id is asked of Ray beside the fit, not before it
        looking = threading.Thread(target=_record_ray_node, args=(job_id, external_id),
                                   name="ray-node", daemon=True)  # fmt: skip
        looking.start()
    meter = _Meter()
    try:
        result = _fit(job_id, spec, tenant, _Reporter(job_id, echo), created_by)
    except BaseException as exc:
        if looking is not None:
            looking.join(10)
        message = str(exc) if isinstance(exc, OdlarError) else f"{type(exc).__name__}: {exc}"
        state = "interrupted" if isinstance(exc, Terminated) else "failed"
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C on a foreground `odlar fit`
            state, message = "cancelled", "cancelled by the user (Ctrl-C)"
        elif not isinstance(exc, OdlarError | Terminated):
            traceback.print_exc()  # to the job's log file, for the developer
        with session_scope() as s:
            rec = s.get(JobRecord, job_id)
            meter.record(rec)
            if rec.state == "running":
                rec.state, rec.error, rec.finished_at = state, message, utcnow()
        if "odlar.core.tracking" in sys.modules:  # a run may be open only if MLflow was used
            _end_runs(job_id, "FAILED" if isinstance(exc, Exception) else "KILLED")
        _next()
        raise
    if looking is not None:  # a short job waits for it: its row names its node
        looking.join(10)
    with session_scope() as s:
        rec = s.get(JobRecord, job_id)
        meter.record(rec)
        if rec.state == "running":
            rec.state, rec.result, rec.progress = "succeeded", result, 1.0
            rec.message, rec.finished_at = "done", utcnow()
    _next()
    return get(job_id, tenant=tenant)


def _next() -> None:
    """A job that ends starts the next queued ones (its slot is free)."""
    try:
        scheduler.dispatch()
    except Exception:  # the job's own outcome is recorded; the server's pass retries
        traceback.print_exc()


def _record_ray_node(job_id: str, external_id: str | None) -> None:
    """The Ray node this job runs on, as Ray reports it (the server's reconciliation may
    record it first). Importing Ray's job client takes about a CPU second: it runs beside
    the fit, so it never delays the job's start."""
    from odlar.core.compute.ray_jobs import SUBMISSION_PREFIX, RayJobs

    try:
        node = RayJobs().state(external_id or SUBMISSION_PREFIX + job_id).node
        with session_scope() as s:
            rec = s.get(JobRecord, job_id)
            if rec.node is None:
                rec.node = node or rec.host
    except Exception:  # noqa: BLE001  (the job goes on; the server's pass records the node)
        traceback.print_exc()


class _Meter:
    """Wall time, CPU seconds (this process and its waited-for children, e.g. a fan-out
    pool) and peak resident memory of a job, read from the kernel's resource usage."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.cpu0 = self._cpu()

    @staticmethod
    def _cpu() -> float:
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
            resource.RUSAGE_CHILDREN
        )
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    def record(self, rec: JobRecord) -> None:
        wall = time.monotonic() - self.t0
        rec.wall_seconds = round(wall, 3)
        rec.cpu_seconds = round(self._cpu() - self.cpu0, 3)
        rec.gpu_seconds = round(wall * rec.gpus, 3)  # GPU time held, as a cluster bills it
        peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # fmt: skip
        rec.peak_memory_mb = round(peak_kb / 1024, 1)


def _fit(
    job_id: str, spec: FitSpec, tenant: str, progress: Progress, created_by: str | None
) -> dict[str, Any]:
    from odlar.core import tracking  # MLflow is slow to import: only where it is needed

    task = get_task(spec.task)
    progress(0.0, "loading data")
    with tenant_scope(tenant):
        data = task.load(resolve_source(spec.data, tenant=tenant))
    progress(0.02, f"loaded {data.rows} rows")
    model = task.fit(data, method=spec.method, params=spec.params, progress=progress)
    metrics = {f"val_{k}": v for k, v in model.metrics.items()}
    if spec.eval:
        progress(0.97, "evaluating")
        with tenant_scope(tenant):
            test = task.load(resolve_source(spec.eval, tenant=tenant))
        report = task.evaluate(model, test)
        metrics.update({f"test_{k}": v for k, v in report.metrics.items()})
    progress(0.98, "registering model version")
    mv = tracking.log_model_version(
        task.name,
        model,
        method=spec.method,
        params=model.params,
        metrics=metrics,
        data=data,
        tenant=tenant,
        job_id=job_id,
        created_by=created_by,
    )
    progress(1.0, f"model version {mv.version} registered")
    return {
        "model": {"task": mv.task, "version": mv.version, "run_id": mv.run_id},
        "metrics": metrics,
    }


if __name__ == "__main__":
    from odlar.core.compute import startup

    # when this process and its parents started: `odlar bench compute` reads it
    print(startup.line(time.time()), flush=True)
    signal.signal(signal.SIGTERM, _terminate)
    from odlar.core.threads import limit_threads

    limit_threads(get_settings().job_threads)
    try:
        run(sys.argv[1])
    except OdlarError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Terminated as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        sys.exit(128 + signal.SIGTERM)

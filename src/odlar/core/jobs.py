"""Jobs: one interface, state in the store, so a restart never loses or strands a job.

The local backend runs each job in its own process (`python -P -m odlar.core.jobs ID`) in a
new session, so a job keeps going if the server that started it dies; on the next start
`recover()` marks any job whose process is gone as interrupted, never "running" forever,
and ends the MLflow run it left open, so MLflow and odlar agree.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select

from odlar.core.config import get_settings
from odlar.core.datasets import resolve_source
from odlar.core.errors import Conflict, NotFound, OdlarError, UsageError
from odlar.core.privacy import tenant_scope
from odlar.core.store import DEFAULT_TENANT, JobRecord, as_utc, session_scope, utcnow
from odlar.core.tasks import Progress, get_task
from odlar.core.threads import thread_env

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
        )

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["progress"] = round(self.progress, 4)
        for k in ("created_at", "started_at", "finished_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def create(
    spec: FitSpec, *, tenant: str = DEFAULT_TENANT, created_by: str | None = None
) -> JobView:
    """Validate and record a fit job (state queued); nothing runs yet."""
    task = get_task(spec.task)
    method = spec.method or task.default_method
    if method not in task.methods:
        raise UsageError(
            f"task '{task.name}' has no method '{method}' (choose from: {', '.join(task.methods)})"
        )
    spec = spec.model_copy(update={"method": method})
    for ref in filter(None, (spec.data, spec.eval)):
        resolve_source(ref, tenant=tenant)  # a missing file fails now, not in the job
    with session_scope() as s:
        rec = JobRecord(
            kind="fit",
            task=task.name,
            spec=spec.model_dump(),
            tenant=tenant,
            created_by=created_by,
            host=socket.gethostname(),
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
    """Record a job and start it in its own process (local backend)."""
    job = create(spec, tenant=tenant, created_by=created_by)
    with (get_settings().jobs_dir / f"{job.id}.log").open("ab") as log:
        proc = subprocess.Popen(
            # -P: the server's working directory is not on the job's import path (a file
            # named like a module there would run in every job); PYTHONPATH still applies
            [sys.executable, "-P", "-m", "odlar.core.jobs", job.id],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives the server; cancel signals the whole group
            # its own bounded thread pools: a job must not take every core from the server
            env=os.environ | thread_env(get_settings().job_threads),
        )
    _children[proc.pid] = proc
    # reaped the moment it exits: a long-running server would otherwise keep a zombie per job
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    with session_scope() as s:
        rec = s.get(JobRecord, job.id)
        if rec.pid is None:  # the child may already have recorded itself
            rec.pid = proc.pid
    return get(job.id, tenant=tenant)


_children: dict[int, subprocess.Popen[bytes]] = {}


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


def log_path(job_id: str) -> Path:
    return get_settings().jobs_dir / f"{job_id}.log"


def _alive(pid: int) -> bool:
    child = _children.get(pid)
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
    """Mark jobs of this host whose process is gone as interrupted; returns their ids."""
    host = socket.gethostname()
    interrupted = []
    now = utcnow()
    with session_scope() as s:
        for rec in s.scalars(select(JobRecord).where(JobRecord.state.in_(ACTIVE))):
            if rec.backend != "local" or rec.host != host:
                continue
            created = as_utc(rec.created_at)
            if rec.pid is None:
                if (now - created).total_seconds() < grace_seconds:
                    continue  # just submitted: its process is starting
                gone = True
            else:
                gone = not _alive(rec.pid)
            if gone:
                rec.state = "interrupted"
                rec.finished_at = now
                rec.error = (
                    f"the job's process (pid {rec.pid}) ended without reporting a result: "
                    "the server or machine was restarted or the process was killed; "
                    f"run `odlar jobs retry {rec.id}` to start it again"
                )
                interrupted.append(rec.id)
    for job_id in interrupted:
        _end_runs(job_id, "KILLED")
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


def cancel(job_id: str, *, tenant: str = DEFAULT_TENANT) -> JobView:
    with session_scope() as s:
        rec = s.get(JobRecord, job_id)
        if rec is None or rec.tenant != tenant:
            raise NotFound(f"no job '{job_id}'")
        if rec.state not in ACTIVE:
            raise Conflict(f"job '{job_id}' is already {rec.state}")
        rec.state, rec.finished_at, rec.error = "cancelled", utcnow(), "cancelled by a user"
        pid = rec.pid
    if not (pid and _alive(pid)):
        _end_runs(job_id, "KILLED")  # no process left to end its own run
    elif pid != os.getpid():
        try:  # a background job leads its own process group; a CLI foreground job does not
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGTERM)
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
        spec, tenant, created_by = FitSpec.model_validate(rec.spec), rec.tenant, rec.created_by
    try:
        result = _fit(job_id, spec, tenant, _Reporter(job_id, echo), created_by)
    except BaseException as exc:
        message = str(exc) if isinstance(exc, OdlarError) else f"{type(exc).__name__}: {exc}"
        state = "interrupted" if isinstance(exc, Terminated) else "failed"
        if isinstance(exc, KeyboardInterrupt):  # Ctrl-C on a foreground `odlar fit`
            state, message = "cancelled", "cancelled by the user (Ctrl-C)"
        elif not isinstance(exc, OdlarError | Terminated):
            traceback.print_exc()  # to the job's log file, for the developer
        with session_scope() as s:
            rec = s.get(JobRecord, job_id)
            if rec.state == "running":
                rec.state, rec.error, rec.finished_at = state, message, utcnow()
        if "odlar.core.tracking" in sys.modules:  # a run may be open only if MLflow was used
            _end_runs(job_id, "FAILED" if isinstance(exc, Exception) else "KILLED")
        raise
    with session_scope() as s:
        rec = s.get(JobRecord, job_id)
        if rec.state == "running":
            rec.state, rec.result, rec.progress = "succeeded", result, 1.0
            rec.message, rec.finished_at = "done", utcnow()
    return get(job_id, tenant=tenant)


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

"""The queue: which queued jobs start now, fairly between tenants, within quotas and capacity.

A job is recorded `queued`; a scheduling pass (`dispatch`) claims the jobs that fit and
starts them on their backend. A job that does not fit stays `queued` with a message saying
what it waits for. Passes run when a job is submitted, when one ends (its own process runs
a pass), when a quota changes, and every few seconds in the server.

Fairness: each round looks at every tenant's oldest waiting job and starts the one of the
tenant holding the fewest running jobs (ties: the oldest job), so one tenant's burst of
fifty jobs cannot hold back another tenant's single job.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from odlar.core.compute.resources import Resources
from odlar.core.config import get_settings
from odlar.core.errors import Conflict, OdlarError
from odlar.core.quotas import Quota, all_quotas
from odlar.core.quotas import get as get_quota
from odlar.core.store import JobRecord, SchedulerLock, as_utc, session_scope, utcnow


@dataclass(frozen=True)
class Pending:
    id: str
    tenant: str
    backend: str
    cpus: float
    gpus: float
    created_at: datetime


@dataclass(frozen=True)
class Held:
    tenant: str
    backend: str
    cpus: float
    gpus: float


def plan(
    queued: list[Pending],
    held: list[Held],
    quotas: dict[str, Quota],
    capacity: dict[str, tuple[float, float] | None],
) -> tuple[list[str], dict[str, str]]:
    """Which queued jobs start (in order) and, for the rest, what each waits for.

    `capacity` per backend is (cpus, gpus) free to odlar's jobs, or None for no limit;
    a backend missing from it cannot start anything (e.g. its cluster is unreachable)."""
    jobs: dict[str, int] = defaultdict(int)
    cpus: dict[str, float] = defaultdict(float)
    gpus: dict[str, float] = defaultdict(float)
    used: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for h in held:
        jobs[h.tenant] += 1
        cpus[h.tenant] += h.cpus
        gpus[h.tenant] += h.gpus
        used[h.backend][0] += h.cpus
        used[h.backend][1] += h.gpus
    waiting_by_tenant: dict[str, list[Pending]] = defaultdict(list)
    for p in sorted(queued, key=lambda p: p.created_at):
        waiting_by_tenant[p.tenant].append(p)

    def blocker(p: Pending) -> str | None:
        q = quotas.get(p.tenant) or Quota(p.tenant)
        if q.max_jobs is not None and jobs[p.tenant] + 1 > q.max_jobs:
            return (f"tenant '{p.tenant}' quota: {q.max_jobs} concurrent jobs "
                    f"({jobs[p.tenant]} running)")  # fmt: skip
        if q.max_cpus is not None and cpus[p.tenant] + p.cpus > q.max_cpus + 1e-9:
            return (f"tenant '{p.tenant}' quota: {q.max_cpus:g} CPUs ({cpus[p.tenant]:g} in use, "
                    f"this job asks {p.cpus:g})")  # fmt: skip
        if q.max_gpus is not None and gpus[p.tenant] + p.gpus > q.max_gpus + 1e-9:
            return (f"tenant '{p.tenant}' quota: {q.max_gpus:g} GPUs ({gpus[p.tenant]:g} in use, "
                    f"this job asks {p.gpus:g})")  # fmt: skip
        if p.backend not in capacity:
            return f"the {p.backend} backend is unreachable"
        cap = capacity[p.backend]
        if cap is not None:
            free_cpus, free_gpus = cap[0] - used[p.backend][0], cap[1] - used[p.backend][1]
            if p.cpus > free_cpus + 1e-9 or p.gpus > free_gpus + 1e-9:
                return (f"free capacity on {p.backend}: {max(free_cpus, 0):g} CPUs, "
                        f"{max(free_gpus, 0):g} GPUs (this job asks {p.cpus:g} CPUs, "
                        f"{p.gpus:g} GPUs)")  # fmt: skip
        return None

    start: list[str] = []
    reasons: dict[str, str] = {}
    while True:
        heads = [ws[0] for ws in waiting_by_tenant.values() if ws]
        heads.sort(key=lambda p: (jobs[p.tenant], p.created_at))
        chosen = None
        for p in heads:
            why = blocker(p)
            if why is None:
                chosen = p
                break
            reasons[p.id] = why
        if chosen is None:
            break
        start.append(chosen.id)
        reasons.pop(chosen.id, None)
        waiting_by_tenant[chosen.tenant].pop(0)
        jobs[chosen.tenant] += 1
        cpus[chosen.tenant] += chosen.cpus
        gpus[chosen.tenant] += chosen.gpus
        used[chosen.backend][0] += chosen.cpus
        used[chosen.backend][1] += chosen.gpus
    for ws in waiting_by_tenant.values():
        for i, p in enumerate(ws):
            if p.id not in reasons:
                plural = "s" if i != 1 else ""
                reasons[p.id] = f"behind {i} earlier job{plural} of tenant '{p.tenant}'"
    return start, reasons


def capacity(backend: str) -> dict[str, Any]:
    from odlar.core.compute.ray_jobs import RayJobs, local_capacity

    return RayJobs().capacity() if backend == "ray" else local_capacity()


def default_backend() -> str:
    return "ray" if get_settings().ray_address else "local"


def check_fits(resources: Resources, tenant: str, backend: str) -> None:
    """Refuse at submission a job that could never start: it asks more than the tenant's
    quota allows, or more than the largest node of the backend has."""
    q = get_quota(tenant)
    for name, asked, limit in (("CPUs", resources.cpus, q.max_cpus),
                               ("GPUs", resources.gpus, q.max_gpus)):  # fmt: skip
        if limit is not None and asked > limit + 1e-9:
            raise Conflict(
                f"the job asks {asked:g} {name} but tenant '{tenant}' may hold at most "
                f"{limit:g}: it could never start"
            )
    if q.max_jobs == 0:
        raise Conflict(f"tenant '{tenant}' may run no jobs (quota: 0 concurrent jobs)")
    cap = capacity(backend)  # Unavailable (503) when the cluster cannot be reached
    largest = cap["largest_node"]
    if resources.gpus > largest["gpus"] + 1e-9:
        raise Conflict(
            f"the job asks {resources.gpus:g} GPUs but no {backend} node has more than "
            f"{largest['gpus']:g}: it could never start"
        )
    cpu_bounded = backend == "ray" or cap.get("limited")
    if cpu_bounded and resources.cpus > largest["cpus"] + 1e-9:
        raise Conflict(
            f"the job asks {resources.cpus:g} CPUs but no {backend} node has more than "
            f"{largest['cpus']:g}: it could never start"
        )


def admit_foreground(s: Any, tenant: str, resources: Resources) -> None:
    """A job run in the caller's process (`odlar fit` without --detach, benches) holds its
    tenant's quota like any other: in session `s`, under the scheduler's lock, refuse it
    (409) when the tenant's jobs, CPUs or GPUs are full now. It cannot wait in the queue,
    since nobody else would start it; the message says how to queue it instead."""
    check_fits(resources, tenant, "local")
    s.execute(update(SchedulerLock).where(SchedulerLock.id == 1).values(at=utcnow()))
    rows = s.scalars(select(JobRecord).where(JobRecord.state.in_(("queued", "running"))))
    held = [Held(r.tenant, r.backend, r.cpus, r.gpus)
            for r in rows if r.state == "running" or r.dispatched_at is not None]  # fmt: skip
    me = Pending("foreground", tenant, "local", resources.cpus, resources.gpus, utcnow())
    _, reasons = plan([me], held, all_quotas(), {"local": None})
    if "foreground" in reasons:
        raise Conflict(
            f"cannot start now: {reasons['foreground']}; queue it instead with --detach "
            "(it starts when the quota allows)"
        )


def dispatch() -> list[str]:
    """One scheduling pass: start the queued jobs that fit; returns their ids."""
    with session_scope() as s:
        waiting = select(JobRecord.backend).where(
            JobRecord.state == "queued", JobRecord.dispatched_at.is_(None)
        )
        backends = set(s.scalars(waiting.distinct()))
    if not backends:
        return []
    # the clusters are asked before the lock is taken: no network call while holding it
    caps: dict[str, tuple[float, float] | None] = {}
    for backend in backends:
        try:
            cap = capacity(backend)
        except OdlarError:
            continue  # unreachable: its jobs wait
        limited = backend == "ray" or cap.get("limited")
        caps[backend] = (cap["cpus"], cap["gpus"]) if limited else None
    with session_scope() as s:
        # the first statement writes: passes in other processes wait here for this one
        s.execute(update(SchedulerLock).where(SchedulerLock.id == 1).values(at=utcnow()))
        rows = list(s.scalars(select(JobRecord).where(JobRecord.state.in_(("queued", "running")))))
        queued = [
            Pending(r.id, r.tenant, r.backend, r.cpus, r.gpus, as_utc(r.created_at))
            for r in rows
            # a backend first seen after its capacity was read waits for the next pass
            if r.state == "queued" and r.dispatched_at is None and r.backend in backends
        ]
        if not queued:
            return []
        held = [
            Held(r.tenant, r.backend, r.cpus, r.gpus)
            for r in rows
            if r.state == "running" or r.dispatched_at is not None
        ]
        start, reasons = plan(queued, held, all_quotas(), caps)
        by_id = {r.id: r for r in rows}
        now = utcnow()
        for job_id in start:
            by_id[job_id].dispatched_at, by_id[job_id].message = now, "starting"
        for job_id, why in reasons.items():
            by_id[job_id].message = f"waiting: {why}"
        claimed = [(job_id, by_id[job_id].backend, _resources(by_id[job_id])) for job_id in start]
    for job_id, backend, res in claimed:
        _start(job_id, backend, res)
    return [job_id for job_id, _, _ in claimed]


def _resources(r: JobRecord) -> Resources:
    return Resources(cpus=r.cpus, gpus=r.gpus, memory_mb=r.memory_mb)


def _start(job_id: str, backend: str, res: Resources) -> None:
    try:
        if backend == "ray":
            from odlar.core.compute.ray_jobs import RayJobs

            external = RayJobs().submit(job_id, res)
            with session_scope() as s:
                rec = s.get(JobRecord, job_id)
                rec.external_id = external
        else:
            _start_local(job_id)
    except OdlarError as exc:  # e.g. the cluster went away: the job waits for the next pass
        with session_scope() as s:
            rec = s.get(JobRecord, job_id)
            if rec.state == "queued":
                rec.dispatched_at, rec.message = None, f"waiting: {exc}"


_children: dict[int, subprocess.Popen[bytes]] = {}


def _start_local(job_id: str) -> None:
    import os

    from odlar.core.threads import thread_env

    with (get_settings().jobs_dir / f"{job_id}.log").open("ab") as log:
        proc = subprocess.Popen(
            # -P: never import from the working directory (a file there named like a module)
            [sys.executable, "-P", "-m", "odlar.core.jobs", job_id],
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
        rec = s.get(JobRecord, job_id)
        if rec.pid is None:  # the child may already have recorded itself
            rec.pid = proc.pid


def overview(tenant: str | None = None) -> dict[str, Any]:
    """The cluster's capacity and, per tenant, the jobs running and waiting (tenant None:
    every tenant), for `GET /api/v1/compute` and the Compute page."""
    backend = default_backend()
    try:
        cap: dict[str, Any] = capacity(backend)
    except OdlarError as exc:
        cap = {"backend": backend, "error": str(exc), "nodes": [], "cpus": 0.0, "gpus": 0.0}
    per: dict[str, dict[str, Any]] = {}
    waiting = []
    with session_scope() as s:
        q = select(JobRecord).where(JobRecord.state.in_(("queued", "running")))
        if tenant is not None:
            q = q.where(JobRecord.tenant == tenant)
        for r in s.scalars(q.order_by(JobRecord.created_at)):
            t = per.setdefault(r.tenant, {"running": 0, "queued": 0, "cpus": 0.0, "gpus": 0.0})
            started = r.state == "running" or r.dispatched_at is not None
            t["running" if started else "queued"] += 1
            if started:
                t["cpus"] += r.cpus
                t["gpus"] += r.gpus
            else:
                waiting.append({"id": r.id, "tenant": r.tenant, "task": r.task,
                                "backend": r.backend, "cpus": r.cpus, "gpus": r.gpus,
                                "created_at": as_utc(r.created_at).isoformat(),
                                "message": r.message})  # fmt: skip
    quotas = {k: v.to_dict() for k, v in all_quotas().items() if tenant in (None, k)}
    return {"capacity": cap, "tenants": per, "queued": waiting, "quotas": quotas}

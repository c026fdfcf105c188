"""Accounting: what each tenant's jobs used, per task and over time, from the job rows.

Every job records where it ran (backend, node), its wall time, CPU seconds, GPU seconds
(time held × GPUs declared) and peak memory (`core/jobs.py`); this module only adds up.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from odlar.core.errors import UsageError
from odlar.core.store import JobRecord, as_utc, session_scope, utcnow


def parse_since(text: str | None) -> datetime | None:
    """'7d', '12h', '30m' before now, or an ISO date/time; None for all time."""
    if not text:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if text[-1:] in units and text[:-1].isdigit():
        return utcnow() - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(
            f"--since '{text}': give a duration (7d, 12h, 30m) or an ISO date (2026-12-01)"
        ) from None
    return as_utc(moment)


def _rows(tenant: str | None, since: datetime | None, until: datetime | None) -> list[JobRecord]:
    q = select(JobRecord)
    if tenant is not None:
        q = q.where(JobRecord.tenant == tenant)
    if since is not None:
        q = q.where(JobRecord.created_at >= since)
    if until is not None:
        q = q.where(JobRecord.created_at < until)
    with session_scope() as s:
        return list(s.scalars(q.order_by(JobRecord.created_at)))


def report(
    *, tenant: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Per tenant and task: jobs by state, wall, CPU and GPU seconds, the largest peak
    memory; tenant None: every tenant."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for r in _rows(tenant, since, until):
        g = groups.setdefault((r.tenant, r.task), {
            "tenant": r.tenant, "task": r.task, "jobs": 0, "states": defaultdict(int),
            "backends": defaultdict(int), "wall_seconds": 0.0, "cpu_seconds": 0.0,
            "gpu_seconds": 0.0, "peak_memory_mb": None,
        })  # fmt: skip
        g["jobs"] += 1
        g["states"][r.state] += 1
        g["backends"][r.backend] += 1
        for key in ("wall_seconds", "cpu_seconds", "gpu_seconds"):
            g[key] += getattr(r, key) or 0.0
        if r.peak_memory_mb is not None:
            g["peak_memory_mb"] = max(g["peak_memory_mb"] or 0.0, r.peak_memory_mb)
    rows = []
    for g in groups.values():
        g["states"], g["backends"] = dict(g["states"]), dict(g["backends"])
        for key in ("wall_seconds", "cpu_seconds", "gpu_seconds"):
            g[key] = round(g[key], 3)
        rows.append(g)
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for g in rows:
        t = totals[g["tenant"]]
        t["jobs"] += g["jobs"]
        for key in ("wall_seconds", "cpu_seconds", "gpu_seconds"):
            t[key] = round(t[key] + g[key], 3)
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "rows": sorted(rows, key=lambda g: (g["tenant"], g["task"])),
        "tenants": {k: dict(v) for k, v in sorted(totals.items())},
    }


def series(
    *, tenant: str | None = None, since: datetime | None = None, bucket_hours: int = 24
) -> dict[str, list[Any]]:
    """CPU seconds per tenant per time bucket (by the jobs' start), for the usage chart."""
    width = timedelta(hours=bucket_hours)
    out: dict[str, dict[datetime, float]] = defaultdict(lambda: defaultdict(float))
    for r in _rows(tenant, since, None):
        if r.started_at is None or r.cpu_seconds is None:
            continue
        start = as_utc(r.started_at)
        epoch = datetime(2000, 1, 1, tzinfo=start.tzinfo)
        bucket = epoch + width * ((start - epoch) // width)
        out[r.tenant][bucket] += r.cpu_seconds
    return {
        t: [(b.isoformat(), round(v, 3)) for b, v in sorted(buckets.items())]
        for t, buckets in sorted(out.items())
    }

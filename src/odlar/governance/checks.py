"""Automatic checks before approval: the task's minimum metrics, the training data's
integrity and quality, and robustness to noisy and missing inputs. Each run is recorded in
the event log, where the model's documentation reads it back."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from odlar.core import audit
from odlar.core.errors import OdlarError
from odlar.core.store import utcnow
from odlar.core.tasks import get_task


def _check(name: str, passed: bool, detail: str, value: Any = None, limit: Any = None) -> dict:
    return {"name": name, "passed": bool(passed), "detail": detail, "value": value, "limit": limit}


def _metric_checks(task: Any, metrics: dict[str, float]) -> list[dict[str, Any]]:
    out = []
    for metric, (op, bound) in task.acceptance.items():
        value = metrics.get(metric)
        if value is None:
            out.append(_check(f"metric {metric}", False, "not recorded for this version"))
            continue
        ok = value >= bound if op == ">=" else value <= bound
        out.append(
            _check(f"metric {metric}", ok, f"{value:.4g} {op} {bound:g} required", value, bound)
        )
    if not task.acceptance:
        out.append(_check("metrics", False, "the task declares no minimum metrics"))
    return out


def run(mv: Any, *, actor: str = "odlar", seed: int = 0) -> dict[str, Any]:
    """Run every check on one model version; returns the report (also logged)."""
    from odlar.core import tracking

    start = time.perf_counter()
    task = get_task(mv.task)
    checks = _metric_checks(task, mv.metrics)
    source, recorded = mv.data.get("source"), mv.data.get("sha256")
    data = None
    try:
        if not source or not Path(source).exists():
            raise FileNotFoundError(source)
        data = task.load(source)
    except (OdlarError, OSError) as exc:
        checks.append(
            _check("data integrity", False, f"training data {source} cannot be read again: {exc}")
        )
    if data is not None:
        same = data.sha256 == recorded
        checks.append(
            _check(
                "data integrity",
                same,
                "training data unchanged since training (SHA-256 matches)"
                if same
                else f"training data at {source} changed since training",
                data.sha256[:16],
                (recorded or "")[:16],
            )
        )
        checks.append(
            _check(
                "data quality: rows",
                data.rows >= task.min_rows,
                f"{data.rows} rows, at least {task.min_rows} required",
                data.rows,
                task.min_rows,
            )
        )
        _, model = tracking.load_version(mv.task, mv.version, tenant=mv.tenant)
        results = task.robustness(model, data, seed=seed)
        if not results:
            checks.append(_check("robustness", False, "the task declares no robustness check"))
        checks += [
            _check(f"robustness: {r.name}", r.passed, r.detail, r.value, r.limit) for r in results
        ]
    report = {
        "task": mv.task,
        "version": mv.version,
        "passed": all(c["passed"] for c in checks),
        "checks": checks,
        "at": utcnow().isoformat(),
        "seconds": round(time.perf_counter() - start, 2),
    }
    audit.record(
        tenant=mv.tenant, actor=actor, action="model_check", target=mv.task,
        model_version=f"{mv.task}/{mv.version}", output=report,
    )  # fmt: skip
    return json.loads(json.dumps(report, default=float))

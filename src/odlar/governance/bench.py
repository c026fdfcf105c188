"""`odlar bench governance`: the targets of issue 6, measured on this machine.

- verify: `audit.verify` over a chain of one million records (20 000 with --quick), written
  in bulk with the same hash function as `audit.record`;
- overhead: the predict route of energy.rul with authentication, authorisation, the
  approval gate and event logging, beside the same prediction served by a bare route
  without them, alternating requests in one process; the difference of 99th percentiles.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from odlar.core.bench import register_platform, scratch_store, server_process
from odlar.core.tasks import Anchor, BenchResult, Progress

PROTOCOL = (
    "issue 6 targets: `odlar audit verify` over 1,000,000 records; authentication, "
    "authorisation and event logging together add under 2 ms at p99 to the predict route, "
    "measured side by side with them switched off (two servers, alternating requests)"
)
ANCHORS = [
    Anchor(
        "issue 6 target",
        {"verify_seconds": 30.0, "overhead_ms_p99": 2.0},
        "issue 6 (targets; no published figure)",
    )
]


def _bulk_chain(n: int, tenant: str = "default", batch: int = 50_000) -> None:
    from sqlalchemy import insert

    from odlar.core.audit import FIELDS, GENESIS, canonical, chain_hash, digest
    from odlar.core.store import AuditEvent, AuditHead, session_scope, utcnow

    prev, at = GENESIS, utcnow().isoformat(timespec="microseconds")
    out = canonical({"rul": 101.5, "lower": 90.0, "upper": 118.0})
    rows: list[dict[str, Any]] = []
    for seq in range(1, n + 1):
        row = (seq, at, "bench", "predict", "energy.rul", "energy.rul/1", digest(seq), out, prev)
        prev = chain_hash(tenant, row)
        rows.append({"tenant": tenant, **dict(zip(FIELDS, (*row, prev), strict=True))})
        if len(rows) == batch or seq == n:
            with session_scope() as s:
                s.execute(insert(AuditEvent), rows)
            rows = []
    with session_scope() as s:
        s.add(AuditHead(tenant=tenant, seq=n, hash=prev, anchor_seq=0, anchor_hash=GENESIS))


def verify_speed(n: int, progress: Progress) -> dict[str, Any]:
    from odlar.core import audit

    with scratch_store():
        start = time.perf_counter()
        _bulk_chain(n)
        written = time.perf_counter() - start
        progress(0.4, f"{n} records written in {written:.0f} s; verifying")
        result = audit.verify()
    assert result.ok and result.records == n, result.to_dict()
    return {
        "method": "odlar audit verify",
        "metrics": {"records": float(n), "verify_seconds": round(result.seconds, 2)},
        "details": {"bulk_write_seconds": round(written, 1)},
    }


def predict_overhead(requests: int, progress: Progress) -> dict[str, Any]:
    import httpx

    from odlar.core import jobs
    from odlar.core.config import get_settings
    from odlar.core.tasks import get_task
    from odlar.governance import accounts, approval

    data = get_settings().data_dir / "energy" / "cmapss"
    with scratch_store():
        spec = jobs.FitSpec(
            task="energy.rul",
            data=str(data / "train_FD001.txt"),
            method="gbm",
            params={"folds": 2, "max_iter": 30, "cuts_per_unit": 2},
        )
        job = jobs.run(jobs.create(spec, created_by="bench").id)
        version = int(job.result["model"]["version"])
        approval.approve(
            "default", "energy.rul", version, actor="bench", reason="bench", override=True
        )
        progress(0.6, "model trained and approved; timing requests")
        token = accounts.ensure_admin()
        task = get_task("energy.rul")
        request = task.request_from(task.load(data / "test_FD001.txt"))
        body = {"level": 0.9, "units": [request.units[0].model_dump(mode="json")]}
        body["units"][0]["readings"] = body["units"][0]["readings"][-60:]  # one unit, 60 cycles

        timings: dict[str, list[float]] = {"governed": [], "bare": []}
        governed = ("odlar", "serve")
        plain = ("uvicorn", "odlar.governance.bench:bare_app", "--factory", "--log-level", "error")
        with (
            server_process(*governed) as gov_url,
            server_process(*plain) as bare_url,
            httpx.Client() as http,
        ):
            headers = {"Authorization": f"Bearer {token}"}
            calls = {
                "governed": lambda: http.post(
                    f"{gov_url}/api/v1/tasks/energy.rul/predict", json=body, headers=headers
                ),
                "bare": lambda: http.post(f"{bare_url}/predict", json=body),
            }
            for name, call in calls.items():  # warm both paths
                for _ in range(50):
                    assert call().status_code == 200, name
            for _ in range(requests):
                for name, call in calls.items():
                    start = time.perf_counter()
                    r = call()
                    timings[name].append(1000 * (time.perf_counter() - start))
                    assert r.status_code == 200, r.text
    p = {k: {q: float(np.percentile(v, q)) for q in (50, 99)} for k, v in timings.items()}
    return {
        "method": "predict energy.rul, governed vs bare",
        "metrics": {
            "overhead_ms_p99": round(p["governed"][99] - p["bare"][99], 3),
            "overhead_ms_p50": round(p["governed"][50] - p["bare"][50], 3),
            "governed_ms_p99": round(p["governed"][99], 3),
            "bare_ms_p99": round(p["bare"][99], 3),
        },
        "details": {"requests_each": requests, "readings_per_request": 60},
    }


def bare_app() -> Any:
    """The predict route of energy.rul with no governance at all: no token, no role, no
    approval gate, no event log. Only for this bench (uvicorn --factory)."""
    from fastapi import FastAPI

    from odlar.core import tracking
    from odlar.core.tasks import get_task

    app = FastAPI()
    task = get_task("energy.rul")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/predict", response_model=task.Response)
    def predict(payload: dict[str, Any]) -> Any:
        request = task.Request.model_validate(payload)
        mv, model = tracking.load_version("energy.rul", 1, tenant="default")
        return task.predict(model, request).model_copy(update={"model_version": mv.version})

    return app


@register_platform("governance")
def run_bench(*, quick: bool, progress: Progress) -> BenchResult:
    n = 20_000 if quick else 1_000_000
    results = [verify_speed(n, progress)]
    results.append(predict_overhead(100 if quick else 2000, progress))
    progress(1.0, "done")
    notes = [
        "verify_seconds: wall time of audit.verify alone (reading and re-hashing every "
        "record), SQLite store under a temporary ODLAR_HOME",
        "overhead: `odlar serve` and a bare uvicorn app, each its own process on loopback "
        "(one request at a time, keep-alive, alternating); the bare route does the same "
        "validation, model lookup and prediction without token, role, approval or event log",
    ]
    if quick:
        notes.append("--quick: 20,000 records and 100 requests; figures not comparable")
    return BenchResult(
        task="governance", dataset="platform", protocol=PROTOCOL, results=results,
        anchors=ANCHORS, notes=notes,
    )  # fmt: skip

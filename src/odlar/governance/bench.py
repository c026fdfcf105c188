"""`odlar bench governance`: the targets of issue 6, measured on this machine.

- verify: `audit.verify` over a chain of one million records (20 000 with --quick), written
  in bulk with the same hash function as `audit.record`;
- overhead: the predict route of energy.rul with authentication, authorisation, the
  approval gate and event logging, beside the same prediction served by a bare route
  without them, alternating requests in one process; the difference of 99th percentiles;
- contention: predict latency of `odlar serve` alone and while a fit job it started runs on
  the same machine, with the bounded thread defaults (ODLAR_SERVE_THREADS=1,
  ODLAR_JOB_THREADS=2) and with one thread per core for both (issue 13, finding 3).

- limits: what the request-size middleware (server/limits.py: head 431, body 413) adds to
  one request, timed in-process around a trivial ASGI app with a browser's 12 headers.

`--param parts=contention` (or verify, overhead, limits; comma separated) runs only those.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from odlar.core.bench import scratch_store, server_process
from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.errors import UsageError
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


def _served_model() -> tuple[str, dict[str, Any]]:
    """In the current (scratch) store: a quick energy.rul model, approved; the admin token
    and a predict body of one unit with 60 cycles."""
    from odlar.core import jobs
    from odlar.core.tasks import get_task
    from odlar.governance import accounts, approval

    data = _cmapss()
    spec = jobs.FitSpec(
        task="energy.rul",
        data=str(data / "train_FD001.txt"),
        method="gbm",
        params={"folds": 2, "max_iter": 30, "cuts_per_unit": 2},
    )
    job = jobs.run(jobs.create(spec, created_by="bench").id)
    version = int(job.result["model"]["version"])
    approval.approve("default", "energy.rul", version, actor="bench", reason="bench", override=True)
    token = accounts.ensure_admin()
    task = get_task("energy.rul")
    request = task.request_from(task.load(data / "test_FD001.txt"))
    body = {"level": 0.9, "units": [request.units[0].model_dump(mode="json")]}
    body["units"][0]["readings"] = body["units"][0]["readings"][-60:]  # one unit, 60 cycles
    return token, body


def _cmapss() -> Any:
    from odlar.core.config import get_settings

    return get_settings().data_dir / "energy" / "cmapss"


def predict_overhead(requests: int, progress: Progress) -> dict[str, Any]:
    import httpx

    with scratch_store():
        token, body = _served_model()
        progress(0.6, "model trained and approved; timing requests")

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


CONTENTION_FIT = {"folds": 5, "max_iter": 300, "cuts_per_unit": 8}  # a fit of tens of seconds


def predict_under_fit(requests: int, seconds: float, progress: Progress) -> dict[str, Any]:
    """Sequential predicts against `odlar serve`: `requests` alone, then as many as fit in
    `seconds` (at most `requests`) while fit jobs submitted to the same server run."""
    import os

    import httpx

    cores = os.cpu_count() or 1
    configs = {
        "bounded": {},  # the defaults
        "per_core": {"ODLAR_SERVE_THREADS": str(cores), "ODLAR_JOB_THREADS": str(cores)},
    }
    metrics: dict[str, float] = {}
    details: dict[str, Any] = {"cores": cores, "fit": CONTENTION_FIT}
    with scratch_store():
        token, body = _served_model()
        headers = {"Authorization": f"Bearer {token}"}
        fit = {
            "task": "energy.rul", "data": str(_cmapss() / "train_FD001.txt"), "method": "gbm",
            "params": CONTENTION_FIT,
        }  # fmt: skip
        for k, (name, extra) in enumerate(configs.items()):
            progress(0.6 + 0.2 * k, f"{name}: predicts alone, then during a fit job")
            env = {v: x for v, x in os.environ.items() if v not in _THREAD_VARS} | extra
            serving = server_process("odlar", "serve", env=env)
            with serving as url, httpx.Client(timeout=300) as http:

                def predict() -> float:
                    start = time.perf_counter()
                    r = http.post(f"{url}/api/v1/tasks/energy.rul/predict", json=body,
                                  headers=headers)  # fmt: skip
                    assert r.status_code == 200, r.text
                    return 1000 * (time.perf_counter() - start)

                for _ in range(20):  # warm
                    predict()
                alone = [predict() for _ in range(requests)]
                during: list[float] = []
                deadline = time.monotonic() + seconds
                jobs_run = 0
                while len(during) < requests and time.monotonic() < deadline:
                    r = http.post(f"{url}/api/v1/jobs", json=fit, headers=headers)
                    assert r.status_code == 202, r.text
                    job_id, jobs_run = r.json()["id"], jobs_run + 1

                    def state(job_id: str = job_id) -> str:
                        job = http.get(f"{url}/api/v1/jobs/{job_id}", headers=headers)
                        return job.json()["state"]

                    while state() == "queued":  # one job at a time: wait for it to start
                        time.sleep(0.2)
                    time.sleep(2)  # the job process imports its libraries first
                    while len(during) < requests and time.monotonic() < deadline:
                        if state() != "running":
                            break
                        during.extend(predict() for _ in range(5))
                    while state() in ("queued", "running"):  # cancelled past the deadline
                        http.post(f"{url}/api/v1/jobs/{job_id}/cancel", headers=headers)
                        time.sleep(0.5)
            for label, values in (("alone", alone), ("during_fit", during)):
                for q in (50, 99):
                    metrics[f"{name}_{label}_ms_p{q}"] = round(float(np.percentile(values, q)), 2)
            details[name] = {"alone": len(alone), "during_fit": len(during), "fit_jobs": jobs_run}
    return {"method": "predict energy.rul while a fit job runs", "metrics": metrics,
            "details": details}  # fmt: skip


_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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


def limits_overhead(calls: int) -> dict[str, Any]:
    import asyncio

    from odlar.server.limits import RequestLimits

    headers = [(f"x-header-{i}".encode(), b"v" * 40) for i in range(10)]
    headers += [(b"authorization", b"Bearer " + b"t" * 43), (b"content-length", b"600")]
    scope = {"type": "http", "headers": headers, "raw_path": b"/api/v1/tasks/x/predict",
             "query_string": b""}  # fmt: skip

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"x" * 600, "more_body": False}

    async def send(message: Any) -> None:
        return None

    limited = RequestLimits(app, max_head=64 * 1024, max_body=512 * 1024 * 1024)

    async def timed(target: Any) -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await target(scope, receive, send)
        return 1e6 * (time.perf_counter() - start) / calls

    async def both() -> tuple[float, float]:
        bare = min([await timed(app) for _ in range(5)])
        with_limits = min([await timed(limited) for _ in range(5)])
        return bare, with_limits

    bare, with_limits = asyncio.run(both())
    return {
        "method": "request limits middleware (431/413)",
        "metrics": {"added_us_per_request": round(with_limits - bare, 2)},
        "details": {"bare_us": round(bare, 2), "with_limits_us": round(with_limits, 2),
                    "calls": calls, "headers": len(headers)},  # fmt: skip
    }


PARTS = ("verify", "overhead", "contention", "limits")


@benchmark("governance", "platform", settings=("parts",), record=False)
def run_bench(run: BenchRun) -> BenchResult:
    quick, progress = run.quick, run.progress
    parts = str(run.params.get("parts", ",".join(PARTS))).split(",")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise UsageError(f"unknown part '{unknown[0]}' (known: {', '.join(PARTS)})")
    results = []
    if "verify" in parts:
        results.append(verify_speed(20_000 if quick else 1_000_000, progress))
    if "overhead" in parts:
        results.append(predict_overhead(100 if quick else 2000, progress))
    if "limits" in parts:
        results.append(limits_overhead(10_000 if quick else 100_000))
    if "contention" in parts:
        results.append(predict_under_fit(30 if quick else 300, 20 if quick else 120, progress))
    progress(1.0, "done")
    notes = [
        "verify_seconds: wall time of audit.verify alone (reading and re-hashing every "
        "record), SQLite store under a temporary ODLAR_HOME",
        "overhead: `odlar serve` and a bare uvicorn app, each its own process on loopback "
        "(one request at a time, keep-alive, alternating); the bare route does the same "
        "validation, model lookup and prediction without token, role, approval or event log",
        "contention: one `odlar serve` per configuration; sequential predicts (one unit, 60 "
        "cycles) alone, then while fit jobs (gbm, 5 folds, 300 iterations) submitted through "
        "its API run; bounded = the defaults (ODLAR_SERVE_THREADS=1, ODLAR_JOB_THREADS=2), "
        "per_core = both set to the number of cores (the libraries' own default)",
    ]
    if quick:
        notes.append("--quick: 20,000 records and 100 requests; figures not comparable")
    return BenchResult(
        task="governance", dataset="platform", protocol=PROTOCOL, results=results,
        anchors=ANCHORS, notes=notes,
    )  # fmt: skip

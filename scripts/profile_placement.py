"""CPU per request of the placement routes in one process: the ASGI app called directly
(no HTTP client, no socket), governed as served (token, role, approval, event log), on the
1,523 busy nodes of the latency bench. CPU time (time.process_time), not wall time: on a
shared machine it is what load inflates least. `--profile FILE` writes cProfile stats.

    PYTHONPATH=src python scripts/profile_placement.py --requests 300 [--profile out.prof]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
DATA = Path(os.environ.get("ODLAR_DATA", "../shared/data")) / "datacenter/alibaba-gpu-v2023/csv"
BASE = "/api/v1/tasks/datacenter.scheduling"


async def call(app: Any, method: str, path: str, token: str, body: Any) -> tuple[Any, float]:
    """One request through the app; its answer and the CPU ms it took."""
    raw = json.dumps(body).encode() if body is not None else b""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000),
        "headers": [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode()),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(raw)).encode())],
    }  # fmt: skip
    pending = [{"type": "http.request", "body": raw, "more_body": False}]
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.sleep(3600)  # no disconnect while the app answers
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    start = time.process_time()
    await app(scope, receive, send)
    cpu = 1000 * (time.process_time() - start)
    if status != 200:
        raise SystemExit(f"{method} {path}: {status} {b''.join(chunks)[:300]!r}")
    return json.loads(b"".join(chunks)), cpu


async def cycles(app: Any, token: str, requests: int, profile: str | None) -> dict[str, list]:
    from odlar.datacenter.latency import WARM, busy_cluster, kube_pod
    from odlar.datacenter.trace import load_pods

    pods = load_pods(DATA / "openb_pod_list_default.csv")
    nodes = busy_cluster(DATA)
    rng = np.random.default_rng(1)
    cpu: dict[str, list[float]] = {p: [] for p in ("filter", "prioritize", "bind", "unbind",
                                                     "predict", "GET /me")}  # fmt: skip
    profiler = cProfile.Profile() if profile else None
    await call(app, "PUT", f"{BASE}/cluster", token, nodes)
    for i in range(requests + WARM):
        if i == WARM and profiler:
            profiler.enable()
        keep = (lambda p, c: cpu[p].append(c)) if i >= WARM else (lambda p, c: None)
        k = int(rng.integers(pods.size))
        pod, uid = kube_pod(pods, k, f"u{i}"), f"u{i}"
        got, c = await call(app, "POST", f"{BASE}/extender/filter", token,
                            {"Pod": pod, "NodeNames": nodes["name"]})  # fmt: skip
        keep("filter", c)
        ranked, c = await call(app, "POST", f"{BASE}/extender/prioritize", token,
                               {"Pod": pod, "NodeNames": got["NodeNames"]})  # fmt: skip
        keep("prioritize", c)
        if ranked:
            best = max(ranked, key=lambda h: h["Score"])["Host"]
            binding = {"PodName": pods.names[k], "PodUID": uid, "Node": best}
            bound, c = await call(app, "POST", f"{BASE}/extender/bind", token, binding)
            keep("bind", c)
            _, c = await call(app, "PATCH", f"{BASE}/cluster", token,
                              {"version": bound["Version"], "unbind": [uid]})  # fmt: skip
            keep("unbind", c)
        pending = {"cpu_milli": int(pods.cpu[k]), "memory_mib": int(pods.memory[k]),
                   "num_gpu": int(pods.num_gpu[k]), "gpu_milli": int(pods.gpu_milli[k]),
                   "gpu_spec": pods.spec[k]}  # fmt: skip
        _, c = await call(app, "POST", f"{BASE}/predict", token, {"nodes": nodes, "pod": pending})
        keep("predict", c)
        _, c = await call(app, "GET", "/api/v1/me", token, None)
        keep("GET /me", c)
    if profiler and profile:
        profiler.disable()
        profiler.dump_stats(profile)
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--profile", help="write cProfile stats of the timed requests here")
    args = parser.parse_args()
    from odlar.core import jobs
    from odlar.core.bench import scratch_store
    from odlar.governance import accounts, approval
    from odlar.server.app import create_app

    with scratch_store():
        token = accounts.ensure_admin()
        spec = jobs.FitSpec(task="datacenter.scheduling",
                            data=str(DATA / "openb_pod_list_default.csv"), method="fgd",
                            params={"cluster_fraction": 0.05, "seeds": "42"})  # fmt: skip
        job = jobs.run(jobs.create(spec, created_by="profile").id)
        version = int(job.result["model"]["version"])
        approval.approve("default", "datacenter.scheduling", version, actor="profile",
                         reason="profile", override=True)  # fmt: skip
        app = create_app()

        async def run() -> dict[str, list]:
            async with app.router.lifespan_context(app):
                return await cycles(app, token, args.requests, args.profile)

        cpu = asyncio.run(run())
    print(f"CPU ms per request ({args.requests} each; load average {os.getloadavg()[0]:.1f})")
    for path, values in cpu.items():
        if values:
            p50, p90, p99 = np.percentile(values, [50, 90, 99])
            print(f"  {path:<11} p50 {p50:6.2f}  p90 {p90:6.2f}  p99 {p99:6.2f}")


if __name__ == "__main__":
    main()

"""Shared compute without a cluster: the fair queue, quotas, accounting, fan-out, refusals,
an unreachable Ray cluster, and entrypoints that never carry a user's string."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from odlar.core import jobs, quotas, usage
from odlar.core.compute import fanout, ray_jobs
from odlar.core.compute.resources import Resources
from odlar.core.compute.scheduler import Held, Pending, plan
from odlar.core.errors import Conflict, OdlarError, Unavailable, UsageError
from odlar.core.quotas import Quota
from odlar.core.tasks import get_task

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def _pending(i: int, tenant: str, cpus: float = 1.0, gpus: float = 0.0) -> Pending:
    return Pending(f"{tenant}{i}", tenant, "ray", cpus, gpus, T0 + timedelta(seconds=i))


def test_queue_is_fair_between_tenants() -> None:
    """Tenant a's burst of five came first; b's single job still starts second, not sixth."""
    queued = [_pending(i, "a") for i in range(5)] + [_pending(9, "b")]
    start, reasons = plan(queued, [], {}, {"ray": (2.0, 0.0)})
    assert start == ["a0", "b9"]
    assert reasons["a1"].startswith("free capacity on ray: 0 CPUs")
    assert reasons["a2"] == "behind 1 earlier job of tenant 'a'"
    # with a running, b's next job goes before a's older ones
    held = [Held("a", "ray", 1.0, 0.0)]
    start, _ = plan([_pending(1, "a"), _pending(5, "b")], held, {}, {"ray": (2.0, 0.0)})
    assert start == ["b5"]


def test_queue_respects_quotas_and_unreachable_backends() -> None:
    q = {"a": Quota("a", max_jobs=1), "b": Quota("b", max_gpus=1.0)}
    held = [Held("a", "ray", 1.0, 0.0)]
    queued = [_pending(1, "a"), _pending(2, "b", gpus=1.0), _pending(3, "b", gpus=1.0)]
    start, reasons = plan(queued, held, q, {"ray": (8.0, 4.0)})
    assert start == ["b2"]
    assert reasons["a1"] == "tenant 'a' quota: 1 concurrent jobs (1 running)"
    assert reasons["b3"].startswith("tenant 'b' quota: 1 GPUs (1 in use")
    start, reasons = plan([_pending(1, "c")], [], {}, {})
    assert start == [] and reasons["c1"] == "the ray backend is unreachable"


def _spec(cmapss: Path, **kw) -> jobs.FitSpec:
    kw.setdefault("params", get_task("energy.rul").quick_params["gbm"])
    return jobs.FitSpec(task="energy.rul", data=str(cmapss / "train_FD001.txt"), method="gbm",
                        **kw)  # fmt: skip


def test_local_job_waits_for_its_quota_and_starts_when_one_ends(
    home: Path, cmapss: Path
) -> None:
    quotas.set_quota("default", max_jobs=1, max_cpus=None, max_gpus=None, actor="test")
    first = jobs.create(_spec(cmapss))  # run here, in the foreground: it holds the slot
    second = jobs.submit(_spec(cmapss))
    assert second.state == "queued" and second.pid is None
    assert second.message == "waiting: tenant 'default' quota: 1 concurrent jobs (1 running)"
    # a foreground fit cannot wait (nobody would start it): refused, nothing recorded
    with pytest.raises(Conflict, match=r"cannot start now: tenant 'default' quota: 1 concurrent"
                       r" jobs \(1 running\); queue it instead with --detach"):  # fmt: skip
        jobs.create(_spec(cmapss))
    assert len(jobs.list_jobs()) == 2
    done = jobs.run(first.id)  # its end starts the next job
    assert done.state == "succeeded"
    used = done.usage
    assert used["wall_seconds"] > 0 and used["cpu_seconds"] > 0 and used["peak_memory_mb"] > 50
    assert used["gpu_seconds"] == 0 and done.node == socket.gethostname()
    started = jobs.get(second.id)
    assert started.message != second.message and (started.pid or started.state == "running")
    jobs.cancel(second.id)
    report = usage.report(tenant="default")
    (row,) = report["rows"]
    assert row["task"] == "energy.rul" and row["jobs"] == 2
    assert row["states"] == {"succeeded": 1, "cancelled": 1}
    assert row["cpu_seconds"] >= used["cpu_seconds"]


def test_a_job_that_can_never_start_is_refused(home: Path, cmapss: Path) -> None:
    with pytest.raises(Conflict, match="asks 2 GPUs but no local node has more than 0"):
        jobs.submit(_spec(cmapss, resources=Resources(gpus=2)))
    quotas.set_quota("default", max_jobs=None, max_cpus=1, max_gpus=None, actor="test")
    with pytest.raises(Conflict, match="asks 4 CPUs but tenant 'default' may hold at most 1"):
        jobs.submit(_spec(cmapss, resources=Resources(cpus=4)))
    assert jobs.list_jobs() == [], "nothing half-recorded"


def test_task_declares_resources_per_method(home: Path, cmapss: Path) -> None:
    job = jobs.create(jobs.FitSpec(task="energy.rul", data=str(cmapss / "train_FD001.txt"),
                                   method="sequence"))  # fmt: skip
    assert job.resources == {"cpus": 2.0, "gpus": 0.0, "memory_mb": None}
    assert jobs.create(_spec(cmapss)).resources["cpus"] == 1.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_ray_cluster_fails_submission_with_one_line(
    home: Path, cmapss: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from odlar.core import config

    monkeypatch.setenv("ODLAR_RAY_ADDRESS", f"http://127.0.0.1:{_free_port()}")
    config.reset_settings()
    with pytest.raises(Unavailable) as err:
        jobs.submit(_spec(cmapss))
    assert "is unreachable" in str(err.value) and "\n" not in str(err.value)
    assert jobs.list_jobs() == []
    local = jobs.submit(_spec(cmapss, backend="local"))  # local jobs still work
    assert local.backend == "local" and local.message == "starting"
    jobs.cancel(local.id)
    env = {**os.environ, "PYTHONPATH": "src"}
    out = subprocess.run(
        [sys.executable, "-m", "odlar", "fit", "energy.rul", "--data",
         str(cmapss / "train_FD001.txt"), "--method", "gbm", "--detach"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 69, out.stderr
    assert "unreachable" in out.stderr and "Traceback" not in out.stderr


class FakeRay:
    """The Jobs API as odlar calls it; records what it was asked to run."""

    def __init__(self) -> None:
        self.submitted: list[dict] = []

    def submit_job(self, **kw):  # noqa: ANN201
        self.submitted.append(kw)
        return kw["submission_id"]


SHELL = "x; touch /tmp/odlar-pwned-$(id -u) `id` $(id) | & > < \n ' \""


def test_entrypoints_never_carry_a_users_string(
    home: Path, cmapss: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from odlar.core import config

    monkeypatch.setenv("ODLAR_RAY_ADDRESS", "http://127.0.0.1:9")
    config.reset_settings()
    fake = FakeRay()
    monkeypatch.setattr(ray_jobs.RayJobs, "client", property(lambda self: fake))
    monkeypatch.setattr(ray_jobs.RayJobs, "capacity", lambda self: {
        "backend": "ray", "nodes": [], "cpus": 4.0, "gpus": 0.0,
        "largest_node": {"cpus": 4.0, "gpus": 0.0}})  # fmt: skip
    bad_ids = ("../x", "abc; id", "$(id)", "`id`", "0123456789ab && id", "g" * 12, "0123456789ab\n")
    for bad in bad_ids:
        with pytest.raises(UsageError):
            ray_jobs.entrypoint(bad)
    # every field of a spec that reaches a job: metacharacters stay in the store
    for field in ("params", "method", "task", "data", "eval"):
        kw = {"params": {SHELL: SHELL, "seed": SHELL}} if field == "params" else {}
        spec = _spec(cmapss, **kw)
        if field == "method":
            with pytest.raises(UsageError):  # an unknown method is refused first
                jobs.submit(spec.model_copy(update={"method": SHELL}))
            continue
        if field in ("task", "data", "eval"):
            with pytest.raises(OdlarError):  # no such task or file, whatever its name
                jobs.submit(spec.model_copy(update={field: SHELL}))
            continue
        job = jobs.submit(spec)
        assert job.backend == "ray"
    (sub,) = fake.submitted
    job_id = sub["submission_id"].removeprefix("odlar-")
    assert sub["entrypoint"] == f"exec python -P -m odlar.core.jobs {job_id}"
    assert SHELL not in str(sub["runtime_env"]) and "ODLAR_TOKEN" not in sub["runtime_env"]
    assert sub["entrypoint_num_cpus"] == 1.0 and sub["entrypoint_num_gpus"] == 0.0
    assert not list(Path("/tmp").glob("odlar-pwned-*"))
    monkeypatch.setenv("ODLAR_RAY_PYTHON", "python; id")
    config.reset_settings()
    with pytest.raises(UsageError, match="ODLAR_RAY_PYTHON"):
        ray_jobs.entrypoint(job_id)


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def test_fan_out_keeps_order_and_gives_fresh_processes() -> None:
    seen: list[int] = []
    pids = fanout.map_items(_pid_after, [0.2, 0.0, 0.1], fresh_process=True, workers=2,
                            on_result=seen.append)  # fmt: skip
    assert seen == pids and len(set(pids)) == 3 and os.getpid() not in pids
    with pytest.raises(UsageError, match="unknown compute backend"):
        fanout.map_items(_pid_after, [0.0], backend="slurm")  # type: ignore[arg-type]


@pytest.fixture
def client(home: Path):
    from odlar.governance.accounts import ensure_admin
    from odlar.server.app import create_app

    token = ensure_admin()
    with TestClient(create_app()) as c:
        c.headers["Authorization"] = f"Bearer {token}"
        yield c


def test_quota_usage_and_compute_routes(client: TestClient, cmapss: Path) -> None:
    from odlar.governance import accounts

    r = client.put("/api/v1/quotas/default", json={"max_jobs": 0})
    assert r.status_code == 200 and r.json()["max_jobs"] == 0
    r = client.post("/api/v1/jobs", json={"task": "energy.rul", "data":
                    "energy/cmapss/train_FD001.txt", "method": "gbm"})  # fmt: skip
    assert r.status_code == 409 and "may run no jobs" in r.json()["detail"]
    r = client.post("/api/v1/jobs", json={"task": "energy.rul", "method": "gbm", "data":
                    "energy/cmapss/train_FD001.txt", "resources": {"gpus": 1}})  # fmt: skip
    assert r.status_code == 409
    assert client.put("/api/v1/quotas/default", json={"max_jobs": -1}).status_code == 422
    assert client.put("/api/v1/quotas/nope", json={}).status_code == 404
    over = client.get("/api/v1/compute").json()
    assert over["capacity"]["backend"] == "local" and over["quotas"]["default"]["max_jobs"] == 0
    assert client.get("/api/v1/usage", params={"since": "2026-01-01T00:00:00"}).json()["rows"] == []
    # a tenant's own admin reads its quota but may not change it; an operator sees no usage
    accounts.create_tenant("school1", "School 1", actor="test")
    accounts.create_user("ops", "admin", tenant="school1", actor="test")
    accounts.create_user("op", "operator", tenant="school1", actor="test")
    t_admin = accounts.create_token("ops", tenant="school1", actor="test")
    t_op = accounts.create_token("op", tenant="school1", actor="test")
    h = {"Authorization": f"Bearer {t_admin}"}
    assert client.put("/api/v1/quotas/school1", json={}, headers=h).status_code == 403
    assert client.get("/api/v1/quotas", headers=h).json()[0]["tenant"] == "school1"
    assert client.get("/api/v1/usage", params={"tenant": "default"}, headers=h).status_code == 403
    r = client.get("/api/v1/usage", headers={"Authorization": f"Bearer {t_op}"})
    assert r.status_code == 403
    page = client.get("/ui/compute", cookies={"odlar_session": client.headers["Authorization"]
                                              .removeprefix("Bearer ")})  # fmt: skip
    assert page.status_code == 200 and "Capacity" in page.text and "Usage since" in page.text

"""Fit jobs as Ray Jobs: submitted to an existing cluster's Jobs API (JobSubmissionClient).

Ray's Jobs API runs whatever entrypoint it is given and knows no tenants: odlar is the only
door. The entrypoint is always `exec python -P -m odlar.core.jobs ID` with an id odlar generated
(checked against a strict pattern); everything a user wrote (task, data, parameters) stays
in the store, which the job's process reads. Configuration travels as environment
variables of the job's runtime environment, never through a shell.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from dataclasses import dataclass
from typing import Any

from odlar.core.compute.resources import Resources
from odlar.core.config import get_settings
from odlar.core.errors import Unavailable, UsageError

#: odlar's own job ids (store.new_id): the only variable part of an entrypoint
JOB_ID = re.compile(r"^[0-9a-f]{12}$")
SUBMISSION_PREFIX = "odlar-"
#: settings a job's process needs; a user's token is never forwarded
FORWARDED = ("ODLAR_HOME", "ODLAR_DATA", "ODLAR_DATABASE_URL", "ODLAR_MLFLOW_URI",
             "ODLAR_PSEUDONYM_KEY", "ODLAR_REQUIRE_APPROVAL", "ODLAR_RAY_ADDRESS",
             "ODLAR_RAY_GCS", "ODLAR_RAY_PYTHON", "ODLAR_LOCAL_CPUS")  # fmt: skip
#: Ray job states -> whether the job is over
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def entrypoint(job_id: str) -> str:
    """The one command a Ray job runs; refuses anything but an odlar job id."""
    if not isinstance(job_id, str) or not JOB_ID.fullmatch(job_id):
        raise UsageError(f"not an odlar job id: {job_id!r}")
    python = get_settings().ray_python
    if not re.fullmatch(r"[A-Za-z0-9_./+-]+", python):
        raise UsageError(f"ODLAR_RAY_PYTHON: not a plain path: {python!r}")
    # exec: the shell Ray starts the entrypoint with becomes the job's process (one process
    # start fewer, and Ray's stop signal reaches the job itself); -P as for local jobs
    return f"exec {shlex.quote(python)} -P -m odlar.core.jobs {job_id}"


def job_env() -> dict[str, str]:
    """The settings of this installation, for a job's process on any node."""
    s = get_settings()
    env = {k: v for k in FORWARDED if (v := os.environ.get(k)) is not None}
    env.update(
        ODLAR_HOME=str(s.home.expanduser()),
        ODLAR_DATA=str(s.data_dir),
        ODLAR_DATABASE_URL=s.db_url,
        ODLAR_MLFLOW_URI=s.tracking_uri,
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    return env


#: one Jobs API client per (address, token) and process: making one costs an HTTP round trip
#: (Ray's version check), which every submission and state query paid
_clients: dict[tuple[str, str | None], Any] = {}


@dataclass
class RayJobState:
    status: str  # PENDING, RUNNING, STOPPED, SUCCEEDED, FAILED, or MISSING
    message: str
    node: str | None

    @property
    def over(self) -> bool:
        return self.status in TERMINAL or self.status == "MISSING"


class RayJobs:
    """The Jobs API of one Ray cluster; every failure to reach it is an Unavailable."""

    def __init__(self, address: str | None = None) -> None:
        self.address = address or get_settings().ray_address
        if not self.address:
            raise UsageError("no Ray cluster configured (set ODLAR_RAY_ADDRESS)")
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            key = (self.address, os.environ.get("RAY_AUTH_TOKEN"))
            if key not in _clients:
                try:
                    from ray.job_submission import JobSubmissionClient
                except ImportError:
                    raise Unavailable(
                        "ODLAR_RAY_ADDRESS is set but Ray is not installed (pip install "
                        "'odlar[ray]')"
                    ) from None
                _clients[key] = self._call(JobSubmissionClient, self.address)
            self._client = _clients[key]
        return self._client

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        from ray.util.state.exception import ServerUnavailable

        try:
            return fn(*args, **kw)
        except (ConnectionError, OSError, TimeoutError, ServerUnavailable) as exc:
            raise self._unreachable(exc) from None
        except RuntimeError as exc:  # the SDK wraps HTTP failures in RuntimeError
            if "404" in str(exc) or "does not exist" in str(exc):
                raise
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: BaseException) -> Unavailable:
        _clients.pop((self.address, os.environ.get("RAY_AUTH_TOKEN")), None)  # connect anew
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return Unavailable(f"Ray cluster at {self.address} is unreachable: {first}")


    def submit(self, job_id: str, resources: Resources) -> str:
        submission_id = SUBMISSION_PREFIX + job_id
        kw: dict[str, Any] = {
            "entrypoint": entrypoint(job_id),
            "submission_id": submission_id,
            "runtime_env": {"env_vars": job_env()},
            "entrypoint_num_cpus": resources.cpus,
            "entrypoint_num_gpus": resources.gpus,
            "metadata": {"odlar_job": job_id},
        }
        if resources.memory_mb:
            kw["entrypoint_memory"] = resources.memory_mb * 1024 * 1024
        return str(self._call(self.client.submit_job, **kw))

    def state(self, submission_id: str) -> RayJobState:
        try:
            info = self._call(self.client.get_job_info, submission_id)
        except RuntimeError as exc:
            return RayJobState("MISSING", str(exc).splitlines()[0][:200], None)
        status = getattr(info.status, "value", str(info.status))
        return RayJobState(status, info.message or "", getattr(info, "driver_node_id", None))

    def stop(self, submission_id: str) -> None:
        with contextlib.suppress(RuntimeError):  # already gone
            self._call(self.client.stop_job, submission_id)

    def logs(self, submission_id: str) -> str:
        try:
            return str(self._call(self.client.get_job_logs, submission_id))
        except RuntimeError as exc:
            return f"(no logs from Ray: {str(exc).splitlines()[0][:200]})"

    def capacity(self) -> dict[str, Any]:
        """Alive nodes and their CPUs and GPUs (what a job's entrypoint can land on)."""
        try:
            from ray.util.state import list_nodes
        except ImportError:
            raise Unavailable("Ray is not installed (pip install 'odlar[ray]')") from None
        nodes = self._call(
            list_nodes, address=self.address, detail=True, raise_on_missing_output=False
        )
        alive = [n for n in nodes if n.state == "ALIVE"]
        rows = [
            {
                "node": n.node_id,
                "ip": n.node_ip,
                "head": bool(n.is_head_node),
                "cpus": float(n.resources_total.get("CPU", 0.0)),
                "gpus": float(n.resources_total.get("GPU", 0.0)),
                "memory_mb": round(float(n.resources_total.get("memory", 0.0)) / 2**20),
            }
            for n in alive
        ]
        return {
            "backend": "ray",
            "address": self.address,
            "nodes": rows,
            "cpus": sum(r["cpus"] for r in rows),
            "gpus": sum(r["gpus"] for r in rows),
            "largest_node": {
                "cpus": max((r["cpus"] for r in rows), default=0.0),
                "gpus": max((r["gpus"] for r in rows), default=0.0),
            },
        }


def local_capacity() -> dict[str, Any]:
    """This machine, for local jobs: its cores (or ODLAR_LOCAL_CPUS) and NVIDIA GPUs."""
    from pathlib import Path

    cores = float(os.cpu_count() or 1)
    gpus = float(len([p for p in Path("/dev").glob("nvidia[0-9]*")]))
    limit = get_settings().local_cpus
    return {
        "backend": "local",
        "nodes": [{"node": os.uname().nodename, "cpus": cores, "gpus": gpus, "head": True}],
        "cpus": limit or cores,
        "gpus": gpus,
        "largest_node": {"cpus": limit or cores, "gpus": gpus},
        "limited": limit is not None,
    }

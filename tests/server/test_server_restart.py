"""A job survives the death of the server that started it; a dead job is never left running."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import SHARED_DATA


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: Path) -> None:
        self.home, self.port = home, _free_port()
        self.env = {**os.environ, "ODLAR_HOME": str(home), "ODLAR_DATA": str(SHARED_DATA)}
        self.proc: subprocess.Popen[str] | None = None
        self.token: str | None = None
        self.cwd: Path | None = None  # the server's working directory

    def start(self) -> str | None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "odlar", "serve", "--port", str(self.port)],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        first = None
        deadline = time.time() + 120  # a loaded CI machine needs more than a minute
        while time.time() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not start")
        if self.token is None:  # the first start prints the token as its only stdout line
            first = self.proc.stdout.readline().strip()
            self.token = first
        return first

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, **kw):  # noqa: ANN201
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@pytest.fixture
def server(tmp_path: Path):
    srv = Server(tmp_path / "home")
    yield srv
    if srv.proc and srv.proc.poll() is None:
        srv.kill()


def _submit(server: Server, method: str, params: dict) -> str:
    r = server.api(
        "POST",
        "/api/v1/jobs",
        json={
            "task": "energy.rul",
            "data": "energy/cmapss/train_FD001.txt",
            "method": method,
            "params": {"folds": 2, "cuts_per_unit": 2, **params},
        },
    )
    assert r.status_code == 202, r.text
    return r.json()["id"]


def _wait(server: Server, job_id: str, states: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = server.api("GET", f"/api/v1/jobs/{job_id}").json()
        if job["state"] in states:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job stayed {job['state']}")


def test_job_survives_server_restart(server: Server) -> None:
    token = server.start()
    assert token and token.startswith("odl_")
    job_id = _submit(server, "gbm", {"max_iter": 60})
    _wait(server, job_id, ("running",))
    server.kill()  # the server dies mid-job

    assert server.start() is None, "a restart prints no new token"
    job = _wait(server, job_id, ("succeeded", "failed", "interrupted"))
    assert job["state"] == "succeeded", job
    version = job["result"]["model"]["version"]
    models = server.api("GET", "/api/v1/models").json()
    assert [m["version"] for m in models] == [version]


def test_dead_job_is_marked_interrupted_and_can_be_retried(server: Server) -> None:
    server.start()
    job_id = _submit(server, "sequence", {"epochs": 200})  # minutes: still running
    job = _wait(server, job_id, ("running",))
    server.kill()
    os.killpg(job["pid"], signal.SIGKILL)  # the machine "reboots": the job dies too
    time.sleep(0.5)

    server.start()
    job = server.api("GET", f"/api/v1/jobs/{job_id}").json()
    assert job["state"] == "interrupted" and "retry" in job["error"]
    r = server.api("POST", f"/api/v1/jobs/{job_id}/retry")
    assert r.status_code == 202
    new = r.json()
    assert new["id"] != job_id and new["spec"] == job["spec"]
    r = server.api("POST", f"/api/v1/jobs/{new['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"

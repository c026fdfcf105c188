"""A real Ray cluster on this machine: a head and worker nodes, for tests and
`odlar bench compute`.

Everything stays on loopback: the dashboard (Jobs API) binds 127.0.0.1 and every node
advertises its own 127.0.0.x address (Ray replaces 127.0.0.1 itself with the machine's
routable address, so the head is 127.0.0.2 and worker i is 127.0.0.(3+i)). HOME is a
temporary folder holding `ray_bootstrap_config.yaml` with `provider: {type: local}`, so
the dashboard never probes a cloud-metadata address; Ray's files go under the cluster's
own temporary folder; usage statistics are off; token authentication is on with a fresh
random token. Each node is one `ray start --block` process: stopping it (by its pid) stops
the node; `kill_node` kills the node's whole process tree at once, as a machine failure.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from odlar.core.errors import Unavailable

HEAD_IP = "127.0.0.2"
#: fast failure detection: a dead node is noticed in seconds, not the default half minute
SYSTEM_CONFIG = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3,
                 "health_check_initial_delay_ms": 1000}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Node:
    ip: str
    proc: subprocess.Popen[bytes]
    node_id: str | None = None


class LocalCluster:
    def __init__(self) -> None:
        # short: Ray's Unix socket paths must stay under 108 characters
        self.root = Path(tempfile.mkdtemp(prefix="odlray-", dir="/tmp"))
        home = self.root / "home"
        home.mkdir()
        (home / "ray_bootstrap_config.yaml").write_text("provider:\n  type: local\n")
        self.token = secrets.token_hex(16)
        bindir = str(Path(sys.executable).parent)
        # the nodes' workers run elsewhere: a relative PYTHONPATH (tests: src) made absolute
        paths = [str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(":") if p]
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(paths),
            "HOME": str(home),
            "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.token,
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        self.gcs_port, self.dashboard_port = _free_port(), _free_port()
        self.head: Node | None = None
        self.workers: list[Node] = []
        self._next_ip = 3

    @property
    def address(self) -> str:
        """The Jobs API, for ODLAR_RAY_ADDRESS."""
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def gcs(self) -> str:
        return f"{HEAD_IP}:{self.gcs_port}"

    def client_env(self) -> dict[str, str]:
        """What a process using this cluster needs (odlar's settings and Ray's token)."""
        return {
            "ODLAR_RAY_ADDRESS": self.address,
            "ODLAR_RAY_GCS": self.gcs,
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": self.token,
            "RAY_USAGE_STATS_ENABLED": "0",
        }

    def _ray(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.root / f"node-{len(self.workers) + (self.head is not None)}.log").open("ab")
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "ray"), "start", "--block",
             "--disable-usage-stats", "--temp-dir", str(self.root / "t"), *args],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=self.env,
            start_new_session=True,
        )  # fmt: skip

    def start(self, timeout: float = 120) -> LocalCluster:
        proc = self._ray(
            "--head", "--num-cpus=0", "--num-gpus=0", f"--node-ip-address={HEAD_IP}",
            f"--port={self.gcs_port}", "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}", "--include-dashboard=true",
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--system-config={json.dumps(SYSTEM_CONFIG)}",
        )  # fmt: skip
        self.head = Node(HEAD_IP, proc)
        try:
            self.head.node_id = self._wait_node(HEAD_IP, proc, timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def add_worker(self, cpus: float = 1, timeout: float = 120) -> Node:
        ip = f"127.0.0.{self._next_ip}"
        self._next_ip += 1
        proc = self._ray(
            f"--address={self.gcs}", f"--num-cpus={cpus:g}", "--num-gpus=0",
            f"--node-ip-address={ip}", f"--dashboard-agent-listen-port={_free_port()}",
        )  # fmt: skip
        node = Node(ip, proc)
        self.workers.append(node)
        node.node_id = self._wait_node(ip, proc, timeout)  # on failure stop() ends it
        return node

    def _nodes(self) -> list[Any]:
        from ray.util.state import list_nodes

        with self.as_client():
            return list(list_nodes(address=self.address, detail=True,
                                   raise_on_missing_output=False))  # fmt: skip

    def _wait_node(self, ip: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise Unavailable(f"ray node {ip} exited at start (see {self.root})")
            try:
                for n in self._nodes():
                    if n.node_ip == ip and n.state == "ALIVE":
                        return str(n.node_id)
            except Exception as exc:  # the dashboard is still starting
                last = f"{type(exc).__name__}: {str(exc)[:300]}"
            time.sleep(0.5)
        raise Unavailable(f"ray node {ip} did not join within {timeout:.0f} s ({last}; see "
                          f"{self.root})")  # fmt: skip

    def wait_dead(self, node: Node, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(n.node_id != node.node_id or n.state == "DEAD" for n in self._nodes()):
                return
            time.sleep(0.5)
        raise Unavailable(f"ray node {node.ip} still alive after {timeout:.0f} s")

    def kill_node(self, node: Node) -> None:
        """A machine failure: every process of the node (raylet, workers, the jobs they
        run) killed at once, by pid."""
        for pid in [*_descendants(node.proc.pid), node.proc.pid]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        node.proc.wait(10)
        if node in self.workers:
            self.workers.remove(node)

    def stop_node(self, node: Node) -> None:
        left = _descendants(node.proc.pid)  # before they are orphaned
        if node.proc.poll() is None:
            node.proc.send_signal(signal.SIGTERM)  # `ray start --block` stops its node
            try:
                node.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill_node(node)
        time.sleep(1)
        for pid in left:  # anything the node left behind
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def stop(self) -> None:
        for node in list(self.workers):
            self.stop_node(node)
        if self.head is not None:
            self.stop_node(self.head)
        shutil.rmtree(self.root, ignore_errors=True)

    @contextmanager
    def as_client(self) -> Iterator[None]:
        """Ray's token in this process's environment while the block runs."""
        old = {k: os.environ.get(k) for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token)
        refresh_ray_auth()
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            refresh_ray_auth()


def refresh_ray_auth() -> None:
    """Ray reads RAY_AUTH_MODE and RAY_AUTH_TOKEN once per process: make it read them
    again after they changed (a process talking to a cluster it started)."""
    if "ray._raylet" not in sys.modules:
        return  # read fresh on first import
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (from /proc), children first found, deepest last."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out

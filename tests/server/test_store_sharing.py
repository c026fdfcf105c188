"""One store shared by a server and CLI processes: every write of either side is seen by
the other and survives, even after someone tried to open the store's own database as data
through the console, the API and the CLI (which once dropped the server's SQLite locks and
let a CLI command delete the write-ahead log the server still wrote to). Nothing reads
odlar's own state as data, wherever ODLAR_DATA lies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from test_server_restart import Server

from conftest import REPO
from odlar.core.errors import Forbidden, NotFound, OdlarError

PASSWORD = "store-sharing-test-password"


def _cli(srv: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "odlar", *args], env=srv.env, cwd=srv.cwd,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _ok(srv: Server, *args: str) -> str:
    out = _cli(srv, *args)
    assert out.returncode == 0, (args, out.stderr[-500:])
    return out.stdout


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def srv(tmp_path: Path):
    srv = Server(tmp_path / "home")
    srv.home.mkdir()
    srv.cwd = srv.home  # a service run from its state directory: "odlar.db" is right there
    for name in ("ODLAR_TOKEN", "ODLAR_DATABASE_URL", "ODLAR_MLFLOW_URI"):
        srv.env.pop(name, None)
    srv.env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    yield srv
    if srv.proc and srv.proc.poll() is None:
        srv.kill()


def test_server_and_cli_writes_all_survive_attempts_to_read_the_store(srv: Server) -> None:
    srv.start()
    base, home = srv.url, srv.home
    ops = {"name": "ops", "role": "admin", "password": PASSWORD}
    r = srv.api("POST", "/api/v1/users", json=ops)
    assert r.status_code == 201, r.text
    console = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    r = console.post("/ui/sign-in", data={"user": "ops", "password": PASSWORD, "next": "/ui/"})
    assert r.status_code == 303 and console.cookies.get("odlar_session")

    # try to read the store's files as data through the console, the API and the CLI
    state = ["odlar.db", "odlar.db-wal", "odlar.db-shm", "mlflow.db", str(home / "odlar.db")]
    answers = [
        (ref, r.request.url, r.status_code, r.text[-200:])
        for ref in state
        for r in (
            console.get(f"/ui/energy/rul/{ref.lstrip('/')}/units/1"),
            console.get("/ui/energy/rul", params={"dataset": ref}),
            console.post("/ui/jobs", data={"task": "energy.rul", "data": ref}),
            srv.api("POST", "/api/v1/jobs", json={"task": "energy.rul", "data": ref}),
        )
    ]
    cli_answers = [
        _cli(srv, "predict", "energy.rul", "--data", str(home / "odlar.db")),
        _cli(srv, "data", "add", "energy.rul", str(home / "odlar.db-wal")),
    ]

    # writes by the CLI are seen by the server at once
    token = _ok(srv, "tokens", "create", "ops", "--label", "cli").strip()
    assert httpx.get(f"{base}/api/v1/me", headers=_bearer(token)).status_code == 200
    listed = _ok(srv, "tokens", "list")
    token_id = next(line.split("│")[1].strip() for line in listed.splitlines() if "│ cli " in line)
    _ok(srv, "tokens", "revoke", token_id)
    assert httpx.get(f"{base}/api/v1/me", headers=_bearer(token)).status_code == 401
    # writes by the server are seen by the CLI
    r = srv.api("POST", "/api/v1/users", json={"name": "bob", "role": "viewer"})
    assert r.status_code == 201, r.text
    assert "bob" in _ok(srv, "users", "list")
    _ok(srv, "users", "disable", "ops")
    assert console.get("/ui/jobs").status_code == 303, "a disabled user's session ends"
    r = srv.api("POST", "/api/v1/users", json={"name": "carol", "role": "viewer"})
    assert r.status_code == 201, r.text

    srv.proc.terminate()
    srv.proc.wait(20)
    users = _ok(srv, "users", "list")
    assert "bob" in users and "carol" in users, users
    ops = next(line for line in users.splitlines() if "│ ops " in line)
    assert "yes" in ops.split("│")[-2], ops  # still disabled
    verify = _ok(srv, "audit", "verify")
    assert "intact" in verify, verify
    shown = _ok(srv, "audit", "show", "--limit", "200")
    for action in ("token_revoke", "user_disable"):
        assert action in shown, action

    # and each attempt to read the store was refused, with one line and no content
    for ref, url, status, text in answers:
        assert status == 404, (ref, url, status, text)
    for refused in cli_answers:
        assert refused.returncode == Forbidden.exit_code, refused.stderr
        assert "own state" in refused.stderr and "Traceback" not in refused.stderr


@pytest.mark.parametrize(
    "layout",
    ["data inside home", "home inside data", "data is home", "store outside home"],
)
def test_no_state_file_is_read_as_data(tmp_path: Path, monkeypatch, layout: str) -> None:
    from conftest import _reset_caches
    from odlar.core.datasets import resolve_source

    root = tmp_path / "srv"
    home = {"home inside data": root / "odlar", "data is home": root}.get(layout, root / "home")
    data = {"data inside home": home / "data", "data is home": home}.get(layout, root)
    monkeypatch.setenv("ODLAR_HOME", str(home))
    monkeypatch.setenv("ODLAR_DATA", str(data))
    store = home / "odlar.db"
    if layout == "store outside home":
        store = root / "store" / "platform.db"
        monkeypatch.setenv("ODLAR_DATABASE_URL", f"sqlite:///{store}")
    _reset_caches()
    try:
        from odlar.core.store import get_engine

        get_engine()
        data.mkdir(parents=True, exist_ok=True)
        (home / "pseudonym.key").write_text("k")
        (home / "datasets" / "x").mkdir(parents=True)
        (home / "datasets" / "x" / "f.txt").write_text("an upload, by its path")
        fleet = data / "fleet.txt"
        fleet.write_text("1 1 0 0 0" + " 1" * 21 + "\n")
        state = [
            store, store.with_name(store.name + "-wal"), home / "pseudonym.key", home / "jobs",
            home / "artifacts", home, home / "datasets" / "x" / "f.txt",
        ]  # fmt: skip
        if layout == "store outside home":
            state.append(store.parent)  # a folder holding the store
        if layout != "data inside home":
            state.append(data)  # ODLAR_DATA holds the state: not as a whole
        for confined in (True, False):
            for path in state:  # the API may say "not found" outside ODLAR_DATA; never data
                with pytest.raises(OdlarError) as refused:
                    resolve_source(str(path), confined=confined)
                named = (Forbidden,) if path.exists() and not confined else (Forbidden, NotFound)
                assert isinstance(refused.value, named), (layout, path, confined, refused.value)
            if layout != "data is home":
                assert resolve_source(str(fleet), confined=confined) == fleet.resolve()
        if layout == "store outside home":  # a hard link to the store is the store
            os.link(store, data / "copy.txt")
            with pytest.raises(Forbidden):
                resolve_source("copy.txt", confined=True)
    finally:
        _reset_caches()

"""Findings of the adversarial review (issue 13): the bad-token throttle, the job process's
import path, MLflow runs of killed jobs, and the keyed event log."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from conftest import REPO, SHARED_DATA
from odlar.core import jobs
from odlar.core.compute import scheduler

TRAIN = SHARED_DATA / "education" / "assist2009" / "assist2009_pid_test2.csv"
QUICK = {"iters": 5, "max_students": 150}


def _spec() -> jobs.FitSpec:
    return jobs.FitSpec(task="education.tracing", data=str(TRAIN), method="bkt", params=QUICK)


def _wait_job(job_id: str, timeout: float = 120) -> jobs.JobView:
    deadline = time.time() + timeout
    while time.time() < deadline:
        jobs.recover()
        job = jobs.get(job_id)
        if job.state in jobs.FINISHED:
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {job.state}")


# --- finding 7: a job never imports from the server's working directory -----------------


def test_job_ignores_modules_in_the_working_directory(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    marker = tmp_path / "executed"
    # `concurrent` is imported by every job (via concurrent.futures)
    (cwd / "concurrent.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n")
    monkeypatch.chdir(cwd)
    # the user's PYTHONPATH (absolute here, as cwd moved) must keep working
    monkeypatch.setenv("PYTHONPATH", str(REPO / "src"))
    job = jobs.submit(_spec())
    done = _wait_job(job.id)
    assert not marker.exists(), "the job ran a module from the server's working directory"
    assert done.state == "succeeded", (done.error, jobs.log_path(job.id).read_text())


# --- finding 8: a job killed during registration leaves no MLflow run RUNNING ------------


def _runs_of(job_id: str) -> list:
    from odlar.core import tracking

    client = tracking._configure()
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return []
    return client.search_runs(experiments, filter_string=f"tags.`odlar.job_id` = '{job_id}'")


def _wait_for_open_run(job_id: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(r.info.status == "RUNNING" for r in _runs_of(job_id)):
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never opened an MLflow run")


@pytest.mark.parametrize("how", ["killed", "cancelled"])
def test_killed_job_ends_its_mlflow_run(home: Path, monkeypatch, how: str) -> None:
    monkeypatch.setenv("PYTHONPATH", str(REPO / "src"))
    job = jobs.submit(_spec())
    _wait_for_open_run(job.id)  # the job is registering its model version now
    if how == "killed":
        os.killpg(job.pid, signal.SIGKILL)  # nothing in the job can react
        scheduler._children[job.pid].wait(60)
        assert jobs.recover() == [job.id]
        assert jobs.get(job.id).state == "interrupted"
    else:
        assert jobs.cancel(job.id).state == "cancelled"
        scheduler._children[job.pid].wait(60)
    runs = _runs_of(job.id)
    assert [r.info.status for r in runs] == ["KILLED"], [r.info.status for r in runs]


# --- finding 6: the bad-token throttle never locks out valid tokens, XFF only from proxies --


@contextmanager
def _served(monkeypatch: pytest.MonkeyPatch, proxies: str = "") -> Iterator[str]:
    """The app under uvicorn with `odlar serve`'s options, in a thread, on loopback."""
    import uvicorn

    from odlar.cli import server_options
    from odlar.core import config
    from odlar.server.app import create_app

    monkeypatch.setenv("ODLAR_TRUSTED_PROXIES", proxies)
    config.reset_settings()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), **server_options("127.0.0.1", port)))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 60  # start-up migrates the store and warms MLflow
        while not server.started and thread.is_alive() and time.time() < deadline:
            time.sleep(0.05)
        assert server.started, "the server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _get(url: str, token: str, xff: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if xff:
        headers["X-Forwarded-For"] = xff
    return httpx.get(f"{url}/api/v1/me", headers=headers, timeout=10)


def test_bad_tokens_never_lock_out_valid_ones(home: Path, monkeypatch) -> None:
    from odlar.core import audit
    from odlar.governance import accounts

    admin = accounts.ensure_admin()
    accounts.create_tenant("other", actor="test")
    accounts.create_user("ops", "viewer", tenant="other", actor="test")
    other = accounts.create_token("ops", tenant="other", actor="test")
    with _served(monkeypatch) as url:
        # forged X-Forwarded-For from loopback is not believed: one address, one budget
        codes = [_get(url, f"odl_bad{i}", xff=f"10.0.0.{i}").status_code for i in range(25)]
        assert codes == [401] * 20 + [429] * 5
        refused = _get(url, "odl_bad", xff="10.9.9.9")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        # while the address is refused, valid tokens of every tenant still authenticate
        assert _get(url, admin).status_code == 200
        assert _get(url, admin, xff="10.0.0.1").status_code == 200
        assert _get(url, other).json()["tenant"] == "other"
    failed = audit.events("default", action="sign_in_failed")
    assert len(failed) == 20  # the refused flood did not flood the event log
    assert {json.loads(e["output"])["client"] for e in failed} == {"127.0.0.1"}


def test_forwarded_for_is_believed_from_configured_proxies(home: Path, monkeypatch) -> None:
    from odlar.core import audit
    from odlar.governance import accounts

    accounts.ensure_admin()
    with _served(monkeypatch, proxies="127.0.0.1") as url:
        assert [_get(url, "odl_bad", xff="10.0.0.1").status_code for _ in range(21)][-2:] == [
            401,
            429,
        ]
        # another client behind the same proxy has its own budget
        assert _get(url, "odl_other", xff="10.0.0.2").status_code == 401
    failed = audit.events("default", action="sign_in_failed")
    clients = {json.loads(e["output"])["client"] for e in failed}
    assert clients == {"10.0.0.1", "10.0.0.2"}


def test_token_prefix_is_throttled_across_addresses() -> None:
    from odlar.server.auth import _FailureWindow

    window = _FailureWindow(3)
    for i in range(3):
        window.add(f"10.0.0.{i}", "odl_abcdXYZ")
    assert window.blocked_for("10.0.0.9", "odl_abcdQQQ") > 0  # same prefix, new address
    assert window.blocked_for("10.0.0.9", "odl_zzzzQQQ") == 0


def test_bad_trusted_proxies_setting_is_a_clear_error() -> None:
    from odlar.core.errors import UsageError
    from odlar.server.auth import trusted_proxies

    assert trusted_proxies(" 10.0.0.1, 192.168.0.0/16 ") == ["10.0.0.1", "192.168.0.0/16"]
    with pytest.raises(UsageError, match="'proxy.example' is not an IP address"):
        trusted_proxies("proxy.example")


# --- finding 13: the event log is keyed, so re-hashing after an edit needs the key -------


def _rehash_without_key(from_seq: int, edit: str | None = None) -> None:
    """What an attacker with write access to the database but not the key can do: change
    a record and recompute every hash from there on with plain SHA-256."""
    from sqlalchemy import text

    from odlar.core.audit import FIELDS, legacy_hash
    from odlar.core.store import get_engine

    with get_engine().begin() as conn:
        if edit:
            conn.execute(text(edit))
        rows = conn.execute(
            text(f"SELECT {', '.join(FIELDS)} FROM audit_events WHERE tenant = 'default' "
                 "ORDER BY seq")
        ).all()  # fmt: skip
        prev = None
        for r in rows:
            fields = list(r[:-1])
            if r.seq >= from_seq:
                fields[-1] = prev if prev is not None else r.prev_hash
                h = legacy_hash("default", tuple(fields))
                conn.execute(
                    text("UPDATE audit_events SET prev_hash = :p, hash = :h "
                         "WHERE tenant = 'default' AND seq = :s"),
                    {"p": fields[-1], "h": h, "s": r.seq},
                )  # fmt: skip
                prev = h
            else:
                prev = r.hash
        conn.execute(text("UPDATE audit_heads SET hash = :h WHERE tenant = 'default'"), {"h": prev})


def _chain(n: int) -> None:
    from odlar.core import audit

    for i in range(n):
        audit.record(tenant="default", actor="t", action="predict", input={"i": i}, output=i)


def test_audit_edit_rehashed_without_the_key_fails_verify(home: Path) -> None:
    from odlar.core import audit

    _chain(6)
    assert audit.verify().ok
    assert (home / "audit.key").stat().st_mode & 0o777 == 0o600
    _rehash_without_key(3, "UPDATE audit_events SET output = '99' WHERE seq = 3")
    result = audit.verify()
    assert not result.ok
    assert ("unkeyed", 3) in [(p.kind, p.seq) for p in result.problems], result.to_dict()


def test_audit_chain_from_before_the_key_stays_verifiable(home: Path) -> None:
    """An installation upgraded from unkeyed hashes: its chain still verifies, is sealed
    by a keyed record when the key is made, and edits before the seal are still found."""
    from odlar.core import audit

    _chain(4)
    _rehash_without_key(1)  # as the old version wrote them: plain SHA-256 throughout
    (home / "audit.key").unlink()
    audit._key.cache_clear()
    assert audit.verify().ok  # making the key sealed the old chain
    sealed = audit.events("default")
    assert [e["action"] for e in sealed][-1] == "audit_keyed"
    _chain(1)
    assert audit.verify().ok
    _rehash_without_key(2, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    assert not audit.verify().ok  # the seal's MAC covers the old records' hashes

"""Findings of the adversarial review (issue 13): the bad-token throttle, the job process's
import path, MLflow runs of killed jobs, and the keyed event log."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from conftest import REPO, SHARED_DATA
from odlar.core import jobs

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
        jobs._children[job.pid].wait(60)
        assert jobs.recover() == [job.id]
        assert jobs.get(job.id).state == "interrupted"
    else:
        assert jobs.cancel(job.id).state == "cancelled"
        jobs._children[job.pid].wait(60)
    runs = _runs_of(job.id)
    assert [r.info.status for r in runs] == ["KILLED"], [r.info.status for r in runs]

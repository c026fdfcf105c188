"""A background job's process is reaped as soon as it ends: `odlar serve` keeps no zombies."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from conftest import CMAPSS


def test_a_finished_job_process_is_no_zombie(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from odlar.core import jobs
    from odlar.core.compute import scheduler

    real = subprocess.Popen

    def quick(_args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        return real(["true"], **kwargs)  # a job process that ends at once

    monkeypatch.setattr(scheduler.subprocess, "Popen", quick)  # jobs start there
    job = jobs.submit(jobs.FitSpec(task="energy.rul", data=str(CMAPSS / "train_FD001.txt")))
    proc = Path(f"/proc/{job.pid}")
    deadline = time.monotonic() + 10
    while proc.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not proc.exists(), (proc / "stat").read_text()  # "Z" when left unreaped

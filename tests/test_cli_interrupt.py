"""Ctrl-C during a foreground `odlar fit`: the job is cancelled, quietly, with no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import CMAPSS


def test_ctrl_c_during_fit_cancels_the_job_quietly(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from odlar.cli import app
    from odlar.core import jobs

    def interrupted(*_args: object) -> dict:
        raise KeyboardInterrupt

    monkeypatch.setattr(jobs, "_fit", interrupted)
    data = str(CMAPSS / "train_FD001.txt")
    result = CliRunner().invoke(app, ["fit", "energy.rul", "--data", data])
    assert result.exit_code == 130
    assert "Traceback" not in result.output
    assert "cancelled" in result.output and "odlar jobs retry" in result.output
    (job,) = jobs.list_jobs()
    assert job.state == "cancelled"
    assert job.error == "cancelled by the user (Ctrl-C)"

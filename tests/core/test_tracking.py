"""Registering a model version prints nothing of MLflow's own: odlar reports the version."""

from __future__ import annotations

from pathlib import Path

import pytest

from odlar.core.tasks import Dataset


def test_logging_a_version_keeps_mlflow_quiet(home: Path, capfd: pytest.CaptureFixture) -> None:
    from odlar.core import tracking

    data = Dataset(frame=None, source="test.csv", sha256="0" * 64, rows=3)
    capfd.readouterr()
    mv = tracking.log_model_version(
        "energy.rul", {"weights": [1, 2]}, method="gbm", params={}, metrics={}, data=data
    )
    out, err = capfd.readouterr()
    assert mv.version == 1
    assert "Registered model" not in out + err and "registered model" not in out + err
    assert "Created version" not in out + err
    assert "CloudPickle" not in out + err
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    assert MLFLOW_LOGGING_STREAM.enabled  # silenced only while the version was logged

"""Figures in the command line's tables read as numbers: `val_score=2431`, not `2.43e+03`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from odlar.core.tasks import Dataset


def test_models_list_shows_large_metrics_whole(home: Path) -> None:
    from odlar.cli import app
    from odlar.core import tracking

    data = Dataset(frame=None, source="train.csv", sha256="0" * 64, rows=3)
    tracking.log_model_version(
        "energy.rul", {"w": 1}, method="gbm", params={}, data=data,
        metrics={"val_score": 2431.123, "val_rmse": 15.4321},
    )  # fmt: skip
    result = CliRunner().invoke(app, ["models", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "val_score=2431" in result.output and "val_rmse=15.4" in result.output
    assert "e+03" not in result.output

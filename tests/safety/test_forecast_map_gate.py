"""odlar safety forecast-map predicts through the serving gate, as every prediction: only an
approved version of the user's own tenant maps (it loaded the newest version of any tenant
named with --tenant, approved or not, and logged nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA
from odlar.core import audit, config, tracking
from odlar.core.tasks import get_task
from odlar.safety.cli import app

CHICAGO = SHARED_DATA / "safety" / "crime" / "CHI_Crime.zip"


def test_forecast_map_serves_only_an_approved_version(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = get_task("safety.hotspots")
    frame = task.load(CHICAGO).frame
    recent = tmp_path / "chicago-2017.csv"  # five months of real incidents: quick
    frame[frame["time"] >= "2017-07-01"][["time", "category", "latitude", "longitude"]].to_csv(
        recent, index=False
    )
    data = task.load(recent)
    model = task.fit(data, method="ha", params=task.quick_params["ha"], progress=lambda f, m: 0)
    tracking.log_model_version("safety.hotspots", model, method="ha", params={}, metrics={},
                               data=data)  # fmt: skip
    monkeypatch.setenv("ODLAR_REQUIRE_APPROVAL", "true")
    config.reset_settings()
    out = tmp_path / "map.geojson"
    refused = CliRunner().invoke(app, ["forecast-map", str(recent), "-o", str(out)])
    assert refused.exit_code == 75, refused.output
    assert "no approved model version of safety.hotspots" in refused.output
    assert not out.exists()

    monkeypatch.setenv("ODLAR_REQUIRE_APPROVAL", "false")  # (approving runs the checks: slow)
    config.reset_settings()
    done = CliRunner().invoke(app, ["forecast-map", str(recent), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert out.exists()
    logged = audit.events("default", action="predict", limit=10)
    assert [e["model_version"] for e in logged] == ["safety.hotspots/1"]

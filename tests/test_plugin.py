"""A sector installed as a separate package shows up everywhere without editing odlar:
`odlar tasks`, its own command, the API and OpenAPI, the console and its navigation; and
its task passes the public contract check. The package is examples/odlar-tiny (the worked
example of docs/extending.md), installed with pip into a temporary folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "odlar-tiny"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(EXAMPLE)],
        check=True, capture_output=True, cwd=build,
    )  # fmt: skip
    assert (target / "odlar_tiny" / "sector.py").exists()
    return target


def _run(installed: Path, home: Path, code: str) -> dict:
    """Python in a fresh process that sees the installed plug-in (entry points are read
    once per process)."""
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(installed), os.environ.get("PYTHONPATH", "")]),
        "ODLAR_HOME": str(home),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.splitlines()[-1])


def test_outside_sector_appears_everywhere(installed: Path, home: Path) -> None:
    code = r"""
import json
from typer.testing import CliRunner
from fastapi.testclient import TestClient
from odlar.cli import app as cli
from odlar.core.tasks import get_task, task_names
from odlar.governance import accounts
from odlar.server.app import create_app
from odlar.testing import check_task

runner = CliRunner()
tasks = runner.invoke(cli, ["tasks"], terminal_width=200)
hello = runner.invoke(cli, ["tiny", "hello"], terminal_width=200)
api = create_app()
with TestClient(api) as client:
    token = accounts.ensure_admin() or accounts.create_token("admin", tenant="default",
                                                             actor="test")
    auth = {"Authorization": f"Bearer {token}"}
    listed = [t["name"] for t in client.get("/api/v1/tasks", headers=auth).json()]
    greeting = client.get("/api/v1/tiny/hello", headers=auth).json()
    paths = sorted(client.get("/openapi.json").json()["paths"])
    predicted = client.post("/api/v1/tasks/tiny.level/predict", headers=auth,
                            json={"meters": ["m1"]})
    client.cookies.set("odlar_session", token)
    page = client.get("/ui/tiny")
    home = client.get("/ui/")
checks = check_task(get_task("tiny.level"))
print(json.dumps({
    "registered": task_names(), "tasks_out": tasks.output, "hello": hello.output,
    "listed": listed, "greeting": greeting, "paths": paths,
    "predict_status": predicted.status_code, "predict": predicted.json(),
    "page_status": page.status_code,
    "page": page.text, "home": home.text, "checks": checks,
}))
"""
    out = _run(installed, home, code)
    assert "tiny.level" in out["registered"]
    assert "tiny.level" in out["tasks_out"] and "Typical meter level" in out["tasks_out"]
    assert "from the tiny sector" in out["hello"]
    assert "tiny.level" in out["listed"]
    assert out["greeting"] == {"greeting": "hello admin"}
    assert {"/api/v1/tiny/hello", "/api/v1/tasks/tiny.level/predict"} <= set(out["paths"])
    # the generic predict route serves it: no model trained yet
    assert out["predict_status"] == 404 and "no trained model" in out["predict"]["detail"]
    assert out["page_status"] == 200 and 'id="greeting">hello admin<' in out["page"]
    assert 'href="/ui/tiny">Tiny</a>' in out["home"]  # its navigation entry
    assert "bench_quick" in out["checks"] and "round_trip[median]" in out["checks"]


def test_without_the_plug_in_nothing_of_it_remains(home: Path) -> None:
    from odlar.core.tasks import task_names

    assert "tiny.level" not in task_names()


def test_models_stored_before_a_module_was_renamed_still_load(tmp_path: Path) -> None:
    """Stored models are pickles naming their classes' modules; a sector's `moved` pairs let
    the old names import as the renamed modules (the same classes, no second copy)."""
    import pickle

    import joblib

    from odlar.core.sectors import install_moved_modules
    from odlar.energy.faults.fault_model import FaultModel

    old = pickle.dumps(FaultModel, protocol=0).replace(
        b"odlar.energy.faults.fault_model", b"odlar.energy.faults.model"
    )
    assert b"odlar.energy.faults.model\n" in old
    (tmp_path / "model.joblib").write_bytes(old)
    install_moved_modules()  # as the MLflow wrapper does before it loads a model
    assert joblib.load(tmp_path / "model.joblib") is FaultModel

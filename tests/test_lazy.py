"""Discovering sectors imports none of their heavy dependencies: `odlar --help`, `odlar
tasks` and `odlar audit verify` never import torch, SUMO or MLflow (the start-up time
itself is a benchmark, scripts/startup.py, not a timed test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("torch", "libsumo", "traci", "mlflow")

CODE = r"""
import json, sys
from typer.testing import CliRunner
from odlar.cli import app
seen = {}
for args in (["--help"], ["tasks"], ["audit", "verify"]):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (args, result.output)
    seen[" ".join(args)] = sorted(m for m in HEAVY if m in sys.modules)
print(json.dumps(seen))
"""


def test_light_commands_import_nothing_heavy(home: Path) -> None:
    code = f"HEAVY = {HEAVY!r}\n{CODE}"
    env = os.environ | {"ODLAR_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    seen = json.loads(out.stdout.splitlines()[-1])
    assert seen == {"--help": [], "tasks": [], "audit verify": []}


def test_education_methods_match_its_networks() -> None:
    """education.task names its methods without importing torch; they must stay the nets."""
    from odlar.core.tasks import get_task
    from odlar.education.tracing_model import NETS

    assert get_task("education.tracing").methods == tuple(NETS)

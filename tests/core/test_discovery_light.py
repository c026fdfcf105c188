"""Registering every installed task imports no scikit-learn or scipy (seconds of start-up
that `odlar models list` and `odlar education mastery` paid on every call)."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from odlar.core.tasks import task_names
assert task_names()
print(sorted(m for m in ("sklearn", "scipy", "torch") if m in sys.modules))
"""


def test_discovering_tasks_imports_no_scientific_stack() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines()[-1] == "[]"

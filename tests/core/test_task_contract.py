"""Every registered task passes the public contract check, `odlar.testing.check_task` (as
scikit-learn checks every estimator); each check is reported on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SHARED_DATA
from odlar.core.tasks import get_task, task_names
from odlar.testing import checks

TASKS = task_names()
CHECKS = [(n, c) for n in TASKS for c, _ in checks(get_task(n), data_dir=SHARED_DATA)]


def test_registry_is_not_empty() -> None:
    assert {"energy.rul", "energy.faults", "education.tracing", "mobility.signals"} <= set(TASKS)


@pytest.mark.parametrize("name", TASKS)
def test_bench_data_is_there(name: str) -> None:
    task = get_task(name)
    # "" means the benchmark's data ships in an installed package (the RESCO scenarios)
    assert task.bench_data == "" or (SHARED_DATA / task.bench_data).is_dir()


@pytest.mark.parametrize(("name", "check"), CHECKS)
def test_contract(name: str, check: str, home: Path) -> None:
    task = get_task(name)
    found = dict(checks(task, data_dir=SHARED_DATA / task.bench_data))
    found[check]()

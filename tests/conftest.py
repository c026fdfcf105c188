"""Shared fixtures: every test gets its own ODLAR_HOME; data comes from ../shared/data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("ODLAR_TEST_DATA", REPO.parent / "shared" / "data"))
CMAPSS = SHARED_DATA / "energy" / "cmapss"


def _reset_caches() -> None:
    from odlar.core import config, store, tracking

    config.reset_settings()
    store.reset_store()
    tracking._configured = None
    tracking._cache.clear()
    from odlar.server.auth import FAILURES

    FAILURES.clear()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh, isolated platform state."""
    home = tmp_path / "home"
    monkeypatch.setenv("ODLAR_HOME", str(home))
    monkeypatch.setenv("ODLAR_DATA", str(SHARED_DATA))
    monkeypatch.delenv("ODLAR_DATABASE_URL", raising=False)
    monkeypatch.delenv("ODLAR_MLFLOW_URI", raising=False)
    monkeypatch.delenv("ODLAR_TOKEN", raising=False)
    # Tests of other features serve unapproved versions; tests/governance/test_governance.py turns
    # approval back on (the default) and exercises it.
    monkeypatch.setenv("ODLAR_REQUIRE_APPROVAL", "false")
    _reset_caches()
    yield home
    _reset_caches()


@pytest.fixture(scope="session")
def cmapss() -> Path:
    if not (CMAPSS / "train_FD001.txt").exists():
        pytest.fail(f"C-MAPSS data not found at {CMAPSS} (set ODLAR_TEST_DATA)")
    return CMAPSS


@pytest.fixture(scope="session")
def quick_gbm(cmapss: Path):
    """One quickly trained gradient-boosting RUL model, shared by tests that only read it."""
    from odlar.core.tasks import get_task

    task = get_task("energy.rul")
    data = task.load(cmapss / "train_FD001.txt")
    return task.fit(data, method="gbm", params=task.quick_params["gbm"], progress=lambda f, m: None)

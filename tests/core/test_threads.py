"""Server workers and fit jobs bound their math libraries' threads (issue 13, finding 3):
with one thread per core each, a fit job on the same machine made predicts take seconds."""

from __future__ import annotations

from pathlib import Path

import pytest
from threadpoolctl import threadpool_info, threadpool_limits


def test_limit_threads_bounds_loaded_libraries_and_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sklearn.ensemble  # noqa: F401  # loads OpenMP and BLAS, as the models do

    from odlar.core.threads import ENV_VARS, limit_threads

    for name in ENV_VARS:  # limit_threads sets them: restore them after this test
        monkeypatch.delenv(name, raising=False)
    with threadpool_limits(limits=4):  # as if the libraries had started one per core
        limit_threads(1)
        pools = threadpool_info()
        assert pools and all(p["num_threads"] == 1 for p in pools), pools
    assert all(__import__("os").environ[name] == "1" for name in ENV_VARS)


def test_fit_jobs_get_their_own_thread_count(
    home: Path, cmapss: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from odlar.core import jobs
    from odlar.core.compute import scheduler

    monkeypatch.setenv("ODLAR_JOB_THREADS", "3")
    seen: dict = {}

    class Fake:
        pid = 999_999

        def __init__(self, *args, env=None, **kwargs) -> None:
            seen.update(env or {})

        def wait(self) -> int:  # the scheduler reaps each child
            return 0

    monkeypatch.setattr(scheduler.subprocess, "Popen", Fake)  # jobs start there
    jobs.submit(jobs.FitSpec(task="energy.rul", data=str(cmapss / "train_FD001.txt")))
    assert seen["OMP_NUM_THREADS"] == "3" and seen["OPENBLAS_NUM_THREADS"] == "3"

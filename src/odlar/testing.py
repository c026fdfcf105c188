"""The task contract as checks anyone can run, as scikit-learn's `check_estimator`:

    from odlar.testing import check_task
    check_task(get_task("energy.rul"))          # raises AssertionError naming the check

Each check is also available on its own (`checks(task)`), so a test suite can report them
one by one. The data come from the task's own example files (`Task.example`) under its
bench folder, ``data_dir`` or ``ODLAR_DATA/<bench_data>``.

Layer: surface helpers (it uses core only; sectors' tests import it).
"""

from __future__ import annotations

import math
import pickle
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from odlar.core.errors import DataError
from odlar.core.tasks import Dataset, Report, RiskTier, Robustness, Task

Check = Callable[[], None]


def check_task(
    task: Task,
    *,
    data_dir: Path | None = None,
    methods: tuple[str, ...] | None = None,
    bench: bool = True,
) -> list[str]:
    """Run every check of the contract on `task`; returns the names of the checks run."""
    done = []
    for name, check in checks(task, data_dir=data_dir, methods=methods, bench=bench):
        check()
        done.append(name)
    return done


def checks(
    task: Task,
    *,
    data_dir: Path | None = None,
    methods: tuple[str, ...] | None = None,
    bench: bool = True,
) -> Iterator[tuple[str, Check]]:
    """(name, check) for each promise of the contract, cheapest first."""
    folder = data_dir if data_dir is not None else _bench_dir(task)
    yield "declares_contract", lambda: check_declares_contract(task)
    yield "loader_refuses_garbage", lambda: check_loader_refuses_garbage(task)
    for method in methods or task.methods:
        yield f"round_trip[{method}]", lambda m=method: check_round_trip(task, m, folder)
    yield "robustness", lambda: check_robustness(task, folder)
    if bench:
        yield "bench_quick", lambda: check_bench_quick(task, folder)


def _bench_dir(task: Task) -> Path:
    from odlar.core.config import get_settings

    return get_settings().data_dir / task.bench_data


def check_declares_contract(task: Task) -> None:
    """Name, title, risk, methods, quick budgets and request/response schemas."""
    assert isinstance(task, Task), f"{task!r} is not a Task"
    assert task.name and "." in task.name, f"{task.name}: names are sector.capability"
    assert task.title, f"{task.name}: no title"
    assert task.risk.tier in RiskTier, f"{task.name}: unknown risk tier"
    assert len(task.risk.reason) > 20, f"{task.name}: say why it has its risk tier"
    assert task.default_method in task.methods, f"{task.name}: default method not a method"
    assert set(task.quick_params) == set(task.methods), f"{task.name}: quick_params per method"
    assert issubclass(task.Request, BaseModel) and issubclass(task.Response, BaseModel)
    for schema in (task.Request, task.Response):
        assert "model_version" in schema.model_fields, f"{schema.__name__}: no model_version"
        schema.model_json_schema()  # documented in OpenAPI: must be expressible
    assert task.primary_metric, f"{task.name}: no primary metric"


def check_loader_refuses_garbage(task: Task) -> None:
    """A file that is not the task's data is refused with a DataError naming the file."""
    with tempfile.TemporaryDirectory() as tmp:
        bad = Path(tmp) / "garbage.csv"
        bad.write_text("this,is\nnot,data\n")
        try:
            task.load(bad)
        except DataError as exc:
            assert "garbage.csv" in str(exc), f"{task.name}: the error does not name the file"
        else:
            raise AssertionError(f"{task.name}: loaded garbage without a DataError")


def check_round_trip(task: Task, method: str, data_dir: Path) -> None:
    """Fit (progress in [0, 1], seed recorded), evaluate (primary metric, anchors),
    predict (the task's Response), pickling, reproducibility, response rows."""
    train_path, eval_path = task.example(data_dir)
    train, test = task.load(train_path), task.load(eval_path)
    assert isinstance(train, Dataset) and train.rows > 0 and train.sha256
    seen: list[float] = []
    params = task.quick_params[method]
    model = task.fit(train, method=method, params=params, progress=lambda f, m: seen.append(f))
    assert seen and all(0.0 <= f <= 1.0 for f in seen), f"{task.name}: progress outside [0, 1]"
    assert model.metrics, f"{task.name}/{method}: the model records no metrics"
    assert model.params.get("seed") is not None, f"{task.name}/{method}: no seed recorded"

    report = task.evaluate(model, test)
    assert isinstance(report, Report)
    assert task.primary_metric in report.metrics, f"{task.name}: no {task.primary_metric}"
    assert report.anchors and report.protocol, f"{task.name}: no published anchors/protocol"

    request = task.request_from(test)
    assert isinstance(request, task.Request)
    response = task.predict(model, request)
    assert isinstance(response, task.Response), f"{task.name}: predict answered another type"
    clone = pickle.loads(pickle.dumps(model))
    assert task.predict(clone, request) == response, f"{task.name}/{method}: pickling changes it"
    again = task.fit(train, method=method, params=params, progress=lambda f, m: None)
    assert task.predict(again, request) == response, f"{task.name}/{method}: not reproducible"

    rows = task.response_rows(response)
    assert isinstance(rows, list) and rows, f"{task.name}: response_rows gave no rows"
    flat = (str, int, float, bool, type(None))
    for row in rows:
        assert isinstance(row, dict) and all(isinstance(v, flat) for v in row.values()), (
            f"{task.name}: response rows must be flat (CSV and terminal tables): {row}"
        )


def check_robustness(task: Task, data_dir: Path) -> None:
    """The default method's model under perturbed inputs: measured values and limits."""
    train_path, eval_path = task.example(data_dir)
    train, test = task.load(train_path), task.load(eval_path)
    method = task.default_method
    model = task.fit(train, method=method, params=task.quick_params[method])
    measured = task.robustness(model, test, seed=0)
    assert measured, f"{task.name}: declares no robustness check"
    for r in measured:
        assert isinstance(r, Robustness) and r.name and r.detail
        assert math.isfinite(r.value) and math.isfinite(r.limit), f"{task.name}: {r.name}"


def check_bench_quick(task: Task, data_dir: Path) -> None:
    """`odlar bench TASK --quick`: typed rows beside published anchors, same protocol."""
    from odlar.core import bench

    result = bench.run(task.name, data_dir=data_dir if task.bench_data else None, quick=True)
    assert result["task"] == task.name and result["protocol"], f"{task.name}: no protocol"
    assert result["results"], f"{task.name}: the quick bench measured nothing"
    for row in result["results"]:
        assert row.get("method") and isinstance(row.get("metrics"), dict), row
        numbers: list[Any] = [v for v in row["metrics"].values() if v is not None]
        assert all(isinstance(v, int | float) for v in numbers), row
    assert result["anchors"], f"{task.name}: the bench cites no published figures"

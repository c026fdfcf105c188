"""Every registered task must pass these checks (as scikit-learn checks every estimator)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import BaseModel

from conftest import SHARED_DATA
from odlar.core.errors import DataError
from odlar.core.tasks import Report, RiskTier, Task, get_task, task_names

TASKS = task_names()


def test_registry_is_not_empty() -> None:
    assert "energy.rul" in TASKS


@pytest.mark.parametrize("name", TASKS)
def test_declares_contract(name: str) -> None:
    task = get_task(name)
    assert isinstance(task, Task)
    assert task.name == name and "." in name, "names are sector.capability"
    assert task.title
    assert task.risk.tier in RiskTier and len(task.risk.reason) > 20
    assert task.default_method in task.methods
    assert set(task.quick_params) == set(task.methods)
    assert issubclass(task.Request, BaseModel) and issubclass(task.Response, BaseModel)
    assert "model_version" in task.Request.model_fields
    assert "model_version" in task.Response.model_fields
    # "" means the benchmark's data ships in an installed package (the RESCO scenarios)
    assert task.bench_data == "" or (SHARED_DATA / task.bench_data).is_dir()


@pytest.mark.parametrize("name", TASKS)
def test_load_rejects_garbage(name: str, tmp_path: Path) -> None:
    bad = tmp_path / "garbage.csv"
    bad.write_text("this,is\nnot,data\n")
    with pytest.raises(DataError) as e:
        get_task(name).load(bad)
    assert "garbage.csv" in str(e.value)


@pytest.mark.parametrize(("name", "method"), [(n, m) for n in TASKS for m in get_task(n).methods])
def test_fit_evaluate_predict_round_trip(name: str, method: str) -> None:
    task = get_task(name)
    train_path, eval_path = task.example(SHARED_DATA / task.bench_data)
    train, test = task.load(train_path), task.load(eval_path)
    seen: list[float] = []
    model = task.fit(
        train, method=method, params=task.quick_params[method], progress=lambda f, m: seen.append(f)
    )
    assert seen and all(0.0 <= f <= 1.0 for f in seen), "progress reported in [0, 1]"
    assert model.metrics and model.params["seed"] is not None

    report = task.evaluate(model, test)
    assert isinstance(report, Report)
    assert task.primary_metric in report.metrics and report.anchors and report.protocol

    request = task.request_from(test)
    response = task.predict(model, request)
    assert isinstance(response, task.Response)
    # a model survives pickling (how it is stored) with identical answers
    clone = pickle.loads(pickle.dumps(model))
    assert task.predict(clone, request) == response
    # refitting with the same params and seed reproduces the model
    again = task.fit(
        train, method=method, params=task.quick_params[method], progress=lambda f, m: None
    )
    assert task.predict(again, request) == response

"""The public `Task.fit` checks the method and the parameters, fixes and records the seed,
then calls the task's `_fit` (so no task repeats that work)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from odlar.core.errors import UsageError
from odlar.core.tasks import Dataset, Report, Risk, RiskTier, Task


class Req(BaseModel):
    model_version: int | None = None


class Resp(BaseModel):
    model_version: int | None = None


@dataclass
class Model:
    draw: float
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


class Draw(Task[Model, Req, Resp]):
    """Its model is one draw of numpy's global generator: reproducible only if fit seeds."""

    name, title = "test.draw", "Draw"
    risk = Risk(RiskTier.minimal, "a test double that decides nothing")
    methods, default_method = ("uniform",), "uniform"
    Request, Response = Req, Resp
    primary_metric, bench_data, quick_params = "x", "", {"uniform": {}}
    calls: list[dict[str, Any]] = []

    def _fit(self, data: Dataset, *, method: str, params: dict[str, Any], progress: Any):
        self.calls.append(params)
        return Model(float(np.random.random()) + random.random(), dict(params))

    def load(self, source: str | Path, **options: Any) -> Dataset: ...
    def evaluate(self, model: Model, data: Dataset) -> Report: ...
    def predict(self, model: Model, request: Req) -> Resp: ...
    def request_from(self, data: Dataset, **options: Any) -> Req: ...
    def example(self, data_dir: Path) -> tuple[Path, Path]: ...


DATA = Dataset(frame=None, source="-", sha256="-", rows=0)


def test_fit_seeds_and_records_it() -> None:
    task = Draw()
    a = task.fit(DATA, method="uniform", params={})
    b = task.fit(DATA, method="uniform", params={"seed": 0})
    c = task.fit(DATA, method="uniform", params={"seed": 7})
    assert a.draw == b.draw != c.draw  # the seed, not luck
    assert a.params["seed"] == 0 and c.params["seed"] == 7
    assert task.calls[0] == {"seed": 0}


@pytest.mark.parametrize(
    ("method", "params", "message"),
    [
        ("nope", {}, "has no method 'nope' (choose from: uniform)"),
        ("uniform", {"seed": -1}, "seed=-1"),
        ("uniform", {"seed": "x"}, "seed='x'"),
        ("uniform", {"seed": 1.5}, "seed=1.5"),
    ],
)
def test_fit_refuses_bad_method_or_seed(method: str, params: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Draw().fit(DATA, method=method, params=params)

"""tiny.level: the typical level of a meter's readings (mean or median of the training
readings), answered for any meter. Small enough to read in a minute, complete enough to
pass `odlar.testing.check_task`."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.errors import DataError
from odlar.core.tasks import (
    Anchor,
    BenchResult,
    BenchRow,
    Dataset,
    Progress,
    Report,
    Risk,
    RiskTier,
    Robustness,
    Task,
    register,
)

DATA = Path(__file__).parent / "data"


class LevelRequest(BaseModel):
    model_version: int | None = Field(default=None, ge=1)
    meters: list[str] = Field(min_length=1, max_length=10_000)


class Level(BaseModel):
    meter: str
    level: float


class LevelResponse(BaseModel):
    model_version: int | None = None
    predictions: list[Level]


@dataclass
class LevelModel:
    method: str
    level: float
    params: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)


@register
class LevelTask(Task[LevelModel, LevelRequest, LevelResponse]):
    name = "tiny.level"
    title = "Typical meter level (worked example)"
    risk = Risk(RiskTier.minimal, "an example: its answers inform no decision about anyone")
    methods = ("mean", "median")
    default_method = "mean"
    Request = LevelRequest
    Response = LevelResponse
    primary_metric = "mae"
    bench_data = ""  # the data ship inside this package
    quick_params: ClassVar[dict[str, dict[str, Any]]] = {"mean": {}, "median": {}}

    def load(self, source: str | Path, **options: Any) -> Dataset:
        path = Path(source)
        try:
            frame = pd.read_csv(path)
        except (OSError, ValueError) as exc:
            raise DataError(f"not a CSV table: {exc}", file=path.name) from None
        for column in ("meter", "value"):
            if column not in frame.columns:
                raise DataError(f"no '{column}' column", file=path.name, field=column)
        values = pd.to_numeric(frame["value"], errors="coerce")
        if values.isna().any():
            line = int(values.isna().to_numpy().argmax()) + 2
            raise DataError("not a number", file=path.name, line=line, field="value")
        frame = frame.assign(meter=frame["meter"].astype(str), value=values)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return Dataset(frame=frame, source=str(path), sha256=digest, rows=len(frame))

    def _fit(self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress):
        progress(0.0, "fitting")
        values = data.frame["value"].to_numpy()
        level = float(np.mean(values) if method == "mean" else np.median(values))
        model = LevelModel(method, level, dict(params))  # fit() put the seed in params
        model.metrics = {"val_mae": float(np.mean(np.abs(values - level)))}
        progress(1.0, "done")
        return model

    def evaluate(self, model: LevelModel, data: Dataset) -> Report:
        mae = float(np.mean(np.abs(data.frame["value"].to_numpy() - model.level)))
        return Report(metrics={"mae": mae}, anchors=ANCHORS, protocol=PROTOCOL)

    def predict(self, model: LevelModel, request: LevelRequest) -> LevelResponse:
        levels = [Level(meter=m, level=model.level) for m in request.meters]
        return LevelResponse(predictions=levels)

    def request_from(self, data: Dataset, **options: Any) -> LevelRequest:
        meters = sorted(set(data.frame["meter"]))
        return LevelRequest(meters=meters, model_version=options.get("model_version"))

    def example(self, data_dir: Path) -> tuple[Path, Path]:
        return DATA / "train.csv", DATA / "test.csv"

    def robustness(self, model: LevelModel, data: Dataset, seed: int = 0) -> list[Robustness]:
        noisy = data.frame.assign(
            value=data.frame["value"] + np.random.default_rng(seed).normal(0, 0.1, data.rows)
        )
        moved = self.fit(Dataset(noisy, data.source, data.sha256, data.rows),
                         method=model.method, params=model.params, progress=lambda f, m: None)
        return [Robustness("noise", abs(moved.level - model.level), 0.5, "N(0, 0.1) added")]



@benchmark("tiny.level", "example")
def _bench_example(run: BenchRun) -> BenchResult:
    """Each method fitted on the training readings, scored on the held-out ones."""
    task = LevelTask()
    train, test = (task.load(p) for p in task.example(run.data_dir))
    rows = []
    for method in run.chosen(task.methods):
        model = task.fit(train, method=method, params={}, progress=run.progress)
        rows.append(BenchRow(method, task.evaluate(model, test).metrics))
    return BenchResult(task.name, "example", PROTOCOL, rows, ANCHORS)


PROTOCOL = "mean absolute error of a constant level on the held-out readings"
ANCHORS = [Anchor("zero level", {"mae": 10.0}, "worked example (not a publication)")]

"""Task `energy.faults`: early warning of process faults and oil-well events, with the
variables behind each alarm and the event type when it can be diagnosed."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.datasets import sha256_file
from odlar.core.errors import DataError
from odlar.core.tasks import (
    MAX_VERSION,
    BenchResult,
    Dataset,
    Progress,
    Report,
    Risk,
    RiskTier,
    Robustness,
    Task,
    register,
)
from odlar.core.versions import VERSION_DEFAULT
from odlar.energy.faults import bench as fault_bench
from odlar.energy.faults.fault_model import DETECTORS, FaultModel, fit_faults
from odlar.energy.faults.monitor import StreamMonitor
from odlar.energy.faults.scoring import score_tables
from odlar.energy.faults.streams import Table, load_table, parse_table
from odlar.energy.faults.tep import tep_table

Reading = dict[str, float | str | None]


class FaultRequest(BaseModel):
    model_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description=VERSION_DEFAULT
    )
    readings: list[Reading] = Field(
        min_length=1,
        max_length=1_000_000,
        description="One object per sample, oldest first: every sensor the model was trained "
        "on (null = missing reading) and optionally 'timestamp'",
        examples=[[{"timestamp": "2026-11-24T10:00:00", "P-PDG": 3.2e7, "P-TPT": 1.7e7}]],
    )


class Contributor(BaseModel):
    variable: str
    share: float = Field(description="Share of the sample's statistic due to this variable")


class SampleScore(BaseModel):
    index: int
    time: str | None = None
    score: float = Field(description="Detector statistic divided by its threshold")
    alarm: bool
    contributors: list[Contributor] | None = None
    event_class: int | None = None
    event_probability: float | None = None


class AlertView(BaseModel):
    action: str
    kind: str
    key: str
    sample: int
    time: str | None = None
    score: float
    contributors: list[Contributor] = []
    event_class: int | None = None
    event_probability: float | None = None
    detail: str = ""


class FaultResponse(BaseModel):
    model_version: int | None = None
    detector: str
    threshold: float = 1.0
    samples: list[SampleScore]
    alerts: list[AlertView] = Field(description="Alerts opened, updated or cleared")
    repairs: list[dict[str, Any]] = Field(description="Changes made to the readings")


def readings_table(readings: list[Reading], variables: list[str]) -> Table:
    """Posted readings as a table for a trained model; errors name readings[i].field."""
    frame = pd.DataFrame.from_records(readings)
    try:
        return parse_table(frame, "readings", variables=variables, training=False, fill_gaps=False)
    except DataError as exc:
        row = f"[{exc.line - 2}]" if exc.line is not None else ""
        field = f".{exc.field}" if exc.field else ""
        raise DataError(exc.reason, field=f"readings{row}{field}") from None


def response_from(model: FaultModel, table: Table, result: Any) -> FaultResponse:
    times = list(np.datetime_as_string(table.time, unit="s")) if table.time is not None else None
    keep = len(result.scores)
    offset = len(table.values) - keep  # late rows dropped by the monitor come first
    samples = [
        SampleScore(
            index=result.first_sample + i,
            time=times[offset + i] if times else None,
            score=round(float(result.scores[i]), 4),
            alarm=bool(result.alarms[i]),
            contributors=result.contributors[i],
            event_class=result.event_class[i],
            event_probability=result.event_probability[i],
        )
        for i in range(keep)
    ]
    return FaultResponse(
        detector=model.method,
        samples=samples,
        alerts=[AlertView(**vars(c)) for c in result.changes],
        repairs=[r.to_dict() for r in [*table.repairs, *result.repairs]],
    )


@register
class FaultsTask(Task[FaultModel, FaultRequest, FaultResponse]):
    name: ClassVar[str] = "energy.faults"
    title: ClassVar[str] = "Early warning of process faults and oil-well events"
    risk: ClassVar[Risk] = Risk(
        RiskTier.high,
        "safety component in the supply of oil and gas: operators act on its alarms to "
        "prevent process incidents and well failures (EU AI Act Annex III point 2)",
    )
    purpose: ClassVar[str] = (
        "Watch the sensors of a process plant or an oil well and raise an early warning "
        "when their joint behaviour leaves normal operation, naming the contributing "
        "variables and the likely kind of event. It alerts operators; it does not act on "
        "the process or replace safety instrumented systems."
    )
    limitations: ClassVar[tuple[str, ...]] = (
        "Trained on normal operation only: it flags departures from normal, and the event "
        "class is a suggestion from labelled history where that exists.",
        "A change of operating point that training never saw reads as a fault until the "
        "model is retrained on the new normal.",
        "Faults that do not move the measured variables (for example TEP faults 3, 9 and "
        "15) are not detectable from these sensors.",
        "Alerts open after 3 alarming samples and clear after 10 normal ones: the delay to "
        "alert is at least 3 samples.",
    )
    acceptance: ClassVar[dict[str, tuple[str, float]]] = {"val_train_alarm_rate": ("<=", 0.10)}
    methods: ClassVar[tuple[str, ...]] = tuple(DETECTORS)
    default_method: ClassVar[str] = "pca"
    Request: ClassVar[type[BaseModel]] = FaultRequest
    Response: ClassVar[type[BaseModel]] = FaultResponse
    primary_metric: ClassVar[str] = "detection_rate"
    lower_is_better: ClassVar[bool] = False
    bench_data: ClassVar[str] = "energy/tep"
    #: the quick bench trains the TEP event classifier with 30 trees instead of 300
    quick_params: ClassVar[dict[str, dict[str, Any]]] = {
        m: {"diagnosis_trees": 30} for m in DETECTORS
    }

    def response_rows(self, response: FaultResponse) -> list[dict[str, Any]]:
        return [
            {
                "index": s.index,
                "time": s.time,
                "score": s.score,
                "alarm": s.alarm,
                "contributors": " ".join(
                    f"{c.variable}:{c.share:.2f}" for c in s.contributors or []
                ),
                "event_class": s.event_class,
                "event_probability": s.event_probability,
            }
            for s in response.samples
        ]

    def load(self, source: str | Path, **options: Any) -> Dataset:
        """A CSV/Parquet file, a Tennessee Eastman .dat file, or a folder of either (a TEP
        folder means its training files: d00.dat and d01..d21.dat)."""
        path = Path(source)
        tables = load_tables(path, split=options.get("split", "train"))
        rows = sum(len(t.values) for t in tables)
        digest = sha256_file(path) if path.is_file() else _folder_digest(tables)
        return Dataset(
            frame=tables,
            source=str(path),
            sha256=digest,
            rows=rows,
            summary={
                "files": len(tables),
                "variables": tables[0].variables,
                "labelled": any(t.labels is not None for t in tables),
                "repairs": [r.to_dict() | {"file": t.source} for t in tables for r in t.repairs],
            },
        )

    def robustness(self, model: FaultModel, data: Dataset, seed: int = 0) -> list[Robustness]:
        """Rise of the false-alarm rate on the normal training rows when every sensor gets
        Gaussian noise of 5% of its spread, and when 10% of the readings are missing at
        random (marked missing as the loader marks blank cells, so the model estimates them
        from the other sensors)."""
        rng = np.random.default_rng(seed)
        tables = [t for t in data.frame if t.labels is None or (t.labels == 0).all()][:5]
        if not tables:
            tables = data.frame[:5]

        def alarm_rate(ts: list[Table]) -> float:
            return float(np.mean(np.concatenate([model.score(t) > 1.0 for t in ts])))

        def changed(t: Table, how: str) -> Table:
            values = t.values.copy()
            spread = np.where(values.std(0) > 0, values.std(0), 1.0)
            if how == "noise":
                return dataclasses.replace(
                    t, values=values + rng.normal(0, 0.05, values.shape) * spread
                )
            holes = rng.random(values.shape) < 0.10
            carried = pd.DataFrame(values).mask(holes).ffill().bfill().to_numpy()
            return dataclasses.replace(t, values=carried, missing=holes)

        base = alarm_rate(tables)
        out = []
        for name, how in (("sensor noise 5%", "noise"), ("10% readings missing", "holes")):
            rate = alarm_rate([changed(t, how) for t in tables])
            out.append(
                Robustness(
                    name,
                    round(rate - base, 4),
                    0.05,
                    f"false-alarm rate on normal rows {base:.2%} -> {rate:.2%} "
                    "(a rise of at most 5 points allowed)",
                )  # fmt: skip
            )
        return out

    def _fit(
        self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress
    ) -> FaultModel:
        return fit_faults(data.frame, method, params, progress)

    def evaluate(self, model: FaultModel, data: Dataset) -> Report:
        tables = [t for t in data.frame if t.labels is not None]
        if not tables:
            raise DataError(
                "no labels to evaluate against (a 'label', 'class' or 'anomaly' "
                "column, or Tennessee Eastman dNN_te.dat files)",
                file=data.source,
            )
        metrics, details = score_tables(model, tables)
        return Report(
            metrics=metrics,
            anchors=fault_bench.ALL_ANCHORS,
            protocol="point-wise detection on labelled rows (label 0 normal, other labels "
            "events); anchors are the published figures of the TEP, SKAB and 3W protocols, "
            "which `odlar bench energy.faults --dataset` runs exactly",
            details=details,
        )

    def predict(self, model: FaultModel, request: FaultRequest) -> FaultResponse:
        table = readings_table(request.readings, model.variables)
        result = StreamMonitor(model).push(table.values, table.time)
        return response_from(model, table, result)

    def request_from(self, data: Dataset, **options: Any) -> FaultRequest:
        table: Table = data.frame[0]
        frame = pd.DataFrame(table.values, columns=table.variables)
        if table.time is not None:
            frame.insert(0, "timestamp", pd.Series(table.time).dt.strftime("%Y-%m-%dT%H:%M:%S"))
        return FaultRequest(
            readings=frame.to_dict(orient="records"), model_version=options.get("model_version")
        )

    def example(self, data_dir: Path) -> tuple[Path, Path]:
        return data_dir / "d00.dat", data_dir / "d01_te.dat"

def _register_fault_benches() -> None:
    for name in fault_bench.DATASETS:

        def run(r: BenchRun, name: str = name) -> BenchResult:
            return fault_bench.run(FaultsTask(), r.data_dir, name, quick=r.quick,
                                   progress=r.progress, methods=r.methods)  # fmt: skip

        benchmark("energy.faults", name, folder=f"energy/{name}")(run)


_register_fault_benches()


def load_tables(path: Path, split: str = "train") -> list[Table]:
    if not path.exists():
        raise DataError("no such file or folder", file=str(path))
    if path.is_file():
        return [tep_table(path) if path.suffix == ".dat" else load_table(path)]
    if (path / "d00.dat").exists():
        pattern = "d??_te.dat" if split == "test" else "d??.dat"
        return [tep_table(p) for p in sorted(path.glob(pattern))]
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in {".csv", ".parquet"})
    if not files:
        raise DataError("no CSV or Parquet files in the folder", file=str(path))
    return [load_table(p) for p in files]


def _folder_digest(tables: list[Table]) -> str:
    digest = hashlib.sha256()
    for t in tables:
        digest.update(f"{Path(t.source).name}:{sha256_file(Path(t.source))}\n".encode())
    return digest.hexdigest()

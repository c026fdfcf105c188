"""Task `energy.production`: per-well oil, gas and water rate forecasts with intervals, and
choke what-ifs, on daily well data (Equinor Volve by default)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, FiniteFloat

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import (
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
from odlar.energy.production.bench import ANCHORS, PROTOCOL, run_bench
from odlar.energy.production.data import MEASUREMENTS, from_records, load_production
from odlar.energy.production.features import HISTORY_DAYS, origin_frame
from odlar.energy.production.forecasters import (
    DEFAULTS,
    Forecaster,
    fit_forecaster,
    interval_metrics,
    point_metrics,
)

Rate = FiniteFloat


class WellDay(BaseModel):
    date: date
    on_stream_hours: float | None = Field(default=None, ge=0, le=25)
    oil: float | None = Field(default=None, ge=0, description="Sm3 that day")
    gas: float | None = Field(default=None, ge=0, description="Sm3 that day")
    water: float | None = Field(default=None, ge=0, description="Sm3 that day")
    choke: float | None = Field(default=None, ge=0, le=100, description="% open")
    downhole_pressure: Rate | None = None
    downhole_temperature: Rate | None = None
    dp_tubing: Rate | None = None
    annulus_pressure: Rate | None = None
    whp: Rate | None = None
    wht: Rate | None = None
    dp_choke: Rate | None = None


class WellHistory(BaseModel):
    well: str = Field(min_length=1, max_length=200)
    days: list[WellDay] = Field(
        min_length=1,
        max_length=20_000,
        description=f"Daily records, oldest first; at least {HISTORY_DAYS} days",
    )


class ProductionRequest(BaseModel):
    model_version: int | None = Field(default=None, ge=1, description=VERSION_DEFAULT)
    level: float = Field(default=0.9, gt=0.5, lt=1.0, description="Interval coverage level")
    horizons: list[int] | None = Field(
        default=None, description="Days ahead (a subset of the model's); default: all"
    )
    wells: list[WellHistory] = Field(min_length=1, max_length=200)
    choke: dict[str, float] | None = Field(
        default=None,
        description="What-if: hold these wells' chokes at this opening (%) over the horizon "
        "(gbm models only: monotone in the choke)",
    )


class RateForecast(BaseModel):
    well: str
    origin: str
    horizon_days: int
    date: str
    phase: str
    rate: float = Field(description="Sm3 per 24 on-stream hours (the rate while flowing)")
    lower: float
    upper: float
    choke: float | None = Field(description="Choke opening (%) assumed over the horizon")
    extrapolates: bool = Field(description="Choke outside what the well has been seen at")


class ProductionResponse(BaseModel):
    model_version: int | None = None
    level: float
    predictions: list[RateForecast]


@register
class ProductionTask(Task[Forecaster, ProductionRequest, ProductionResponse]):
    name: ClassVar[str] = "energy.production"
    title: ClassVar[str] = "Well-by-well production forecasts and choke what-ifs"
    risk: ClassVar[Risk] = Risk(
        RiskTier.limited,
        "advises production engineers on rates, reserves and choke settings; it controls "
        "no equipment, and every choke change stays a human decision under the operator's "
        "well-integrity procedures",
    )
    methods: ClassVar[tuple[str, ...]] = tuple(DEFAULTS)
    default_method: ClassVar[str] = "gbm"
    Request: ClassVar[type[BaseModel]] = ProductionRequest
    Response: ClassVar[type[BaseModel]] = ProductionResponse
    primary_metric: ClassVar[str] = "mae_oil_1d"
    bench_data: ClassVar[str] = "energy/volve"
    min_rows: ClassVar[int] = 60
    quick_params: ClassVar[dict[str, dict[str, Any]]] = {
        "persistence": {"end": "2016-01-01"},
        "decline": {"end": "2016-01-01"},
        "gbm": {"end": "2016-01-01", "max_iter": 10},
        "sequence": {
            "end": "2016-01-01",
            "epochs": 1,
            "epoch_fraction": 0.2,
            "hidden": 8,
            "members": 1,
        },
    }
    purpose: ClassVar[str] = (
        "Forecast each producing well's daily oil, gas and water rates 1 to 90 days ahead "
        "with prediction intervals, from its recent rates, pressures, temperatures and "
        "choke; and estimate how the rates would change if the choke were set to a given "
        "opening. It advises production engineers; it sets nothing."
    )
    limitations: ClassVar[tuple[str, ...]] = (
        "Rates are forecast for days the well flows (per 24 on-stream hours); shut-ins are "
        "operating decisions it does not predict.",
        "The choke what-if is correlational: it reflects how this field's wells responded "
        "to choke changes in the past, holding nothing else fixed; it is no reservoir "
        "simulator and cannot foresee water breakthrough, gas coning or interference.",
        "What-ifs outside the choke range a well has been seen at are flagged as "
        "extrapolation and should not be relied on.",
        "Trained and benchmarked on the Volve field (7 wells, 2008-2016); another field "
        "needs its own training data.",
    )
    acceptance: ClassVar[dict[str, tuple[str, float]]] = {"val_mape_oil_1d": ("<=", 25.0)}

    def load(self, source: str | Path, **options: Any) -> Dataset:
        return load_production(source, **options)

    def _fit(
        self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress
    ) -> Forecaster:
        if data.summary.get("frequency") == "monthly":
            raise DataError(
                "forecasts need daily data; monthly data serve decline curves and the field "
                "view (odlar energy production decline / field)",
                file=data.source,
            )
        return fit_forecaster(data.frame, method, params, progress)

    def evaluate(self, model: Forecaster, data: Dataset) -> Report:
        origins = origin_frame(data.frame)
        after = origins[(origins["date"] >= model.end) & origins["producing"]]
        if after.empty:
            raise DataError(
                f"no producing day on or after the model's training end {model.end:%Y-%m-%d} "
                "to evaluate on (fit with an earlier 'end', or evaluate on later data)",
                file=data.source,
            )
        block = origins[origins["date"] >= model.end - pd.Timedelta(days=40)]
        rows = model.predict_rows(block, level=0.9)
        rows = rows[(rows["origin"] >= model.end) & rows["truth"].notna()]
        metrics: dict[str, float] = {}
        for (phase, h), part in rows.groupby(["phase", "horizon"]):
            m = point_metrics(part["rate"].to_numpy(), part["truth"].to_numpy())
            iv = interval_metrics(part)
            key = f"{phase}_{int(h)}d"
            metrics |= {f"mae_{key}": m["mae"], f"rmse_{key}": m["rmse"], f"mape_{key}": m["mape"]}
            metrics |= {f"coverage90_{key}": iv["coverage"], f"width90_{key}": iv["width"]}
        if "mae_oil_1d" not in metrics:
            raise DataError("no 1-day oil forecast could be scored", file=data.source)
        return Report(
            metrics=metrics,
            anchors=ANCHORS,
            protocol=PROTOCOL,
            details={"origins": int(after.shape[0]), "from": f"{model.end:%Y-%m-%d}"},
        )

    def predict(self, model: Forecaster, request: ProductionRequest) -> ProductionResponse:
        horizons = request.horizons or list(model.horizons)
        unknown = sorted(set(horizons) - set(model.horizons))
        if unknown:
            raise DataError(
                f"horizon(s) {unknown} not in the model's {list(model.horizons)}", field="horizons"
            )
        frame = _frame_of(request)
        names = set(frame["well"])
        choke = request.choke or {}
        for well, opening in choke.items():
            if well not in names:
                raise DataError(f"what-if for well '{well}' not in 'wells'", field="choke")
            if not 0 <= opening <= 100:
                raise DataError(f"choke {opening:g} is not a % opening", field=f"choke.{well}")
        if choke and model.method != "gbm":
            raise UsageError(
                f"choke what-ifs need a gbm model (monotone in the choke); this one is "
                f"{model.method}"
            )
        origins = origin_frame(frame)
        # one forecast per well, from its last posted day
        origins_last = origins.groupby("well")["date"].max()
        rows = model.predict_rows(origins, choke=choke or "hold", level=request.level)
        rows = rows[rows["origin"] == rows["well"].map(origins_last)]
        rows = rows[rows["horizon"].isin(horizons)]
        ranges = _choke_ranges(model, frame)
        out = []
        for r in rows.itertuples(index=False):
            seen = ranges.get(r.well)
            extrap = bool(
                seen is not None
                and r.choke == r.choke
                and not (seen[0] - 1.0 <= r.choke <= seen[1] + 1.0)
            )
            out.append(
                RateForecast(
                    well=r.well,
                    origin=f"{r.origin:%Y-%m-%d}",
                    horizon_days=int(r.horizon),
                    date=f"{r.date:%Y-%m-%d}",
                    phase=r.phase,
                    rate=round(float(r.rate), 3),
                    lower=round(float(r.lower), 3),
                    upper=round(float(r.upper), 3),
                    choke=None if r.choke != r.choke else round(float(r.choke), 2),
                    extrapolates=extrap,
                )
            )
        return ProductionResponse(level=request.level, predictions=out)

    def request_from(self, data: Dataset, **options: Any) -> ProductionRequest:
        days = int(options.get("days", 60))
        cols = ["on_stream_hours", "oil", "gas", "water", *MEASUREMENTS]
        wells = []
        frame = data.frame
        for well, rows in frame[frame["role"] == "producer"].groupby("well"):
            rows = rows[rows["date"] > rows["date"].max() - pd.Timedelta(days=days)]
            rows = rows[rows["status"] != "missing"]
            if not (rows["status"] == "producing").any() or len(rows) < HISTORY_DAYS:
                continue
            records = []
            for r in rows[["date", *cols]].itertuples(index=False):
                rec = {"date": r.date.date()}
                for c in cols:
                    v = getattr(r, c)
                    rec[c] = None if v != v else float(v)
                records.append(WellDay.model_construct(**rec))
            wells.append(WellHistory.model_construct(well=str(well), days=records))
        if not wells:
            raise DataError(
                f"no producing well with {HISTORY_DAYS} days of history", file=data.source
            )
        return ProductionRequest(
            wells=wells, level=options.get("level", 0.9), model_version=options.get("model_version")
        )

    def example(self, data_dir: Path) -> tuple[Path, Path]:
        # one file: the model trains before its 'end' and is evaluated after it
        return data_dir / "volve_daily.csv", data_dir / "volve_daily.csv"

    def robustness(self, model: Forecaster, data: Dataset, seed: int = 0) -> list[Robustness]:
        """Mean change of the 1-day oil forecast (share of the forecast) when every pressure,
        temperature and choke reading gets Gaussian noise of 5% of its spread, and when 10%
        of those readings are missing."""
        rng = np.random.default_rng(seed)
        frame = data.frame
        cut = frame["date"].max() - pd.Timedelta(days=150)
        frame = frame[frame["date"] > cut].reset_index(drop=True)
        cols = list(MEASUREMENTS)

        def oil_1d(f: pd.DataFrame) -> np.ndarray:
            rows = model.predict_rows(origin_frame(f), level=0.9)
            rows = rows[(rows["phase"] == "oil") & (rows["horizon"] == model.horizons[0])]
            return rows.sort_values(["well", "origin"])["rate"].to_numpy()

        clean = oil_1d(frame)
        noisy = frame.copy()
        spread = frame[cols].std().fillna(0).replace(0, 1.0).to_numpy()
        noisy[cols] = frame[cols].to_numpy() + rng.normal(0, 0.05, (len(frame), len(cols))) * spread
        noisy["choke"] = noisy["choke"].clip(0, 100)
        holes = frame.copy()
        holes[cols] = holes[cols].mask(rng.random((len(frame), len(cols))) < 0.10)
        out = []
        for name, changed in (("readings noise 5%", noisy), ("10% readings missing", holes)):
            moved = float(np.mean(np.abs(oil_1d(changed) - clean) / np.maximum(clean, 1.0)))
            out.append(
                Robustness(
                    name,
                    round(moved, 4),
                    0.10,
                    f"mean change of the {model.horizons[0]}-day oil forecast {moved:.1%} "
                    "(at most 10% allowed)",
                )
            )
        return out

@benchmark("energy.production", "volve", folder="energy/volve")
def _bench_volve(run: BenchRun) -> BenchResult:
    return run_bench(ProductionTask(), run.data_dir, quick=run.quick, progress=run.progress,
                     methods=run.methods)  # fmt: skip


def _frame_of(request: ProductionRequest) -> pd.DataFrame:
    """Posted histories as a loader frame; DataError names the well and day at fault."""
    records, seen = [], set()
    for i, w in enumerate(request.wells):
        if w.well in seen:
            raise DataError(f"well '{w.well}' appears twice", field=f"wells[{i}].well")
        seen.add(w.well)
        prev = None
        for j, d in enumerate(w.days):
            if prev is not None and d.date <= prev:
                raise DataError(
                    f"{d.date} does not come after {prev}: days must be in increasing order",
                    field=f"wells[{i}].days[{j}].date",
                )
            prev = d.date
            records.append({"well": w.well, **d.model_dump()})
        span = (w.days[-1].date - w.days[0].date).days + 1
        if span < HISTORY_DAYS:
            raise DataError(
                f"well '{w.well}': {span} days of history; forecasts need {HISTORY_DAYS}",
                field=f"wells[{i}].days",
            )
    frame = from_records(records)
    for i, w in enumerate(request.wells):
        if not (frame.loc[frame["well"] == w.well, "status"] == "producing").any():
            raise DataError(
                f"well '{w.well}' has no producing day (hours > 0 and a volume) in the posted "
                "history: nothing to forecast from",
                field=f"wells[{i}].days",
            )
    return frame


def _choke_ranges(model: Forecaster, frame: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """Choke openings each well has flowed at: the model's training data, else the posted
    history."""
    out = dict(model.choke_range)
    flowing = frame[(frame["status"] == "producing") & (frame["choke"] > 0)]
    for well, rows in flowing.groupby("well"):
        out.setdefault(str(well), (float(rows["choke"].min()), float(rows["choke"].max())))
    return out

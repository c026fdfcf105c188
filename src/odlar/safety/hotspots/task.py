"""Task `safety.hotspots`: where and when incidents will happen, per cell, category and day."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from odlar.core.benchmarks import BenchRun, benchmark
from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import (
    MAX_VERSION,
    Anchor,
    BenchResult,
    Dataset,
    Progress,
    Report,
    Risk,
    RiskTier,
    Robustness,
    Task,
    only,
    register,
)
from odlar.core.versions import VERSION_DEFAULT
from odlar.safety.hotspots import audit
from odlar.safety.hotspots.forecasters import (
    DEFAULTS,
    HISTORY,
    HotspotModel,
    build,
    published_errors,
    reliability,
)
from odlar.safety.incidents import Grid, cube, load_incidents

#: The published setting (ST-HSL, Li et al. ICDE 2022; its data preparation script
#: Datasets/CHI_crime/dataProcessing_CHI.py in LZH-YS1998/STHSL).
CITIES: dict[str, dict[str, Any]] = {
    "chicago": {
        "file": "CHI_Crime.zip",
        "categories": ("THEFT", "BATTERY", "ASSAULT", "CRIMINAL DAMAGE"),
        "start": "2016-01-01",
        "train_until": "2017-10-01",
        "end": "2018-01-01",
        # the script reads the file's first line as a header, though the file has none:
        # that first record is not in the published tensors, so the bench leaves it out too
        "skip_first_record": True,
    },
    "nyc": {
        "file": "NYC_Crime.zip",
        "categories": ("BURGLARY", "GRAND LARCENY", "ROBBERY", "FELONY ASSAULT"),
        "start": "2014-01-01",
        "train_until": "2015-10-01",
        "end": "2016-01-01",
        "skip_first_record": False,
    },
}
PROTOCOL = (
    "ST-HSL (Li et al., ICDE 2022): 3 km cells (latitude step 1/37, longitude 1/28 degree "
    "from the minimum coordinates), daily counts of four categories; train to August, "
    "validate on September, test October-December of the second year; each test day "
    "forecast from the true days before it; MAE and MAPE per category over the cell-days "
    "with at least one incident (the published evaluation code's mask)"
)
ANCHORS = {
    "chicago": [
        Anchor(
            "HA, 30-day window (measured reference)",
            {"mae": 1.076},
            "BENCHMARKS.md s.7 (MAE over non-zero cells, Chicago test split)",
        )
    ],
    "nyc": [
        Anchor(
            "ST-HSL (Li et al., ICDE 2022), New York, as its paper reports",
            {
                "mae[BURGLARY]": 0.7329, "mape[BURGLARY]": 0.4788,
                "mae[GRAND LARCENY]": 1.0316, "mape[GRAND LARCENY]": 0.5040,
                "mae[ROBBERY]": 0.7912, "mape[ROBBERY]": 0.4595,
                "mae[FELONY ASSAULT]": 0.8484, "mape[FELONY ASSAULT]": 0.5029,
            },  # fmt: skip
            "the first author's comment in LZH-YS1998/STHSL issue #1 (2023-11-23) quoting "
            "the paper's New York figures (categories 0-3: burglary, larceny, robbery, "
            "assault); the paper's own table (arXiv 2204.08587) was not readable here",
        )
    ],
}
#: the published ST-HSL figures per category, where found (see ANCHORS)
STHSL = {city: a[-1].metrics for city, a in ANCHORS.items() if a and "ST-HSL" in a[-1].method}
VAL_DAYS = 30


class Incident(BaseModel):
    time: datetime
    category: str = Field(min_length=1, max_length=200)
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class HotspotRequest(BaseModel):
    model_version: int | None = Field(
        default=None, ge=1, le=MAX_VERSION, description=VERSION_DEFAULT
    )
    day: date | None = Field(
        default=None, description="Day to forecast; default: the day after the last incident"
    )
    incidents: list[Incident] = Field(
        max_length=2_000_000,
        description="Recorded incidents of the days before `day` (the model reads the last "
        "30 to 90 of them, per method); days without incidents count as zero",
    )
    top: int | None = Field(default=None, ge=1, le=100_000, description="Only the N highest cells")


class CellForecast(BaseModel):
    cell: int
    row: int
    col: int
    latitude: float = Field(description="Cell centre")
    longitude: float
    category: str
    expected: float = Field(description="Expected number of incidents that day")
    p_any: float = Field(description="Calibrated probability of at least one incident")
    upper90: int = Field(description="90% upper bound of the count (Poisson)")


class HotspotResponse(BaseModel):
    model_version: int | None = None
    day: date
    not_counted: int = Field(description="Posted incidents outside the grid or categories")
    predictions: list[CellForecast]


@register
class HotspotsTask(Task[HotspotModel, HotspotRequest, HotspotResponse]):
    name: ClassVar[str] = "safety.hotspots"
    title: ClassVar[str] = "Incident forecasting per area and day"
    risk: ClassVar[Risk] = Risk(
        RiskTier.high,
        "place-based forecasting of crime and incidents used to direct policing and "
        "emergency resources (EU AI Act Annex III points 5 and 6); feedback between patrols "
        "and recorded incidents can entrench over-policing of some areas",
    )
    methods: ClassVar[tuple[str, ...]] = tuple(DEFAULTS)
    default_method: ClassVar[str] = "gbm"
    Request: ClassVar[type[BaseModel]] = HotspotRequest
    Response: ClassVar[type[BaseModel]] = HotspotResponse
    primary_metric: ClassVar[str] = "mae"
    bench_data: ClassVar[str] = "safety/crime"
    quick_params: ClassVar[dict[str, dict[str, Any]]] = {
        "ha": {"train_until": "2017-10-01"},
        "seasonal": {"train_until": "2017-10-01"},
        "gbm": {"train_until": "2017-10-01", "max_iter": 20, "train_days": 30},
        "sepp": {"train_until": "2017-10-01", "decays": [3.0], "iterations": 10},
        "convgru": {"train_until": "2017-10-01", "hidden": 8, "epochs": 2},
    }
    purpose: ClassVar[str] = (
        "Forecast the expected number of recorded incidents, and the calibrated probability "
        "of at least one, per area (grid cell), category and day, so that public-safety and "
        "emergency-service planners can place crews and stations where incidents are likely. "
        "It advises planners about places, never about people."
    )
    limitations: ClassVar[tuple[str, ...]] = (
        "Must not be used for any forecast or risk assessment about an individual person: "
        "EU AI Act Article 5(1)(d) prohibits assessing the risk that a natural person "
        "commits a criminal offence based solely on profiling or personality traits. The "
        "model has no notion of persons; its outputs are about places.",
        "Known failure mode (runaway feedback, Ensign et al. 2018): a model trained on "
        "recorded incidents sends patrols where incidents were recorded, and patrols record "
        "more there, so the forecast confirms itself. Train on incidents reported by the "
        "public (calls for service) rather than ones discovered by patrols, and read the "
        "feedback-simulation check before approval.",
        "Recorded incidents are not all incidents: under-reporting differs between areas "
        "and categories, and the forecast inherits it.",
        "Errors differ between districts; the per-district error audit before approval "
        "compares each district's error with a 30-day historical average's there.",
        "Forecasts are for the next day from the days before it; the calibration of the "
        "probability of at least one incident is fitted on the 30 days before the "
        "forecast period and should be refreshed when patterns change.",
    )
    acceptance: ClassVar[dict[str, tuple[str, float]]] = {
        "val_mae_vs_ha": ("<=", 1.05),
        "val_calibration_error": ("<=", 0.05),
    }

    def load(self, source: str | Path, **options: Any) -> Dataset:
        frame, name, sha = load_incidents(source)
        if options.get("skip_first_record"):
            frame = frame[frame["line"] > frame["line"].min()].reset_index(drop=True)
        days = frame["time"].dt.normalize()
        return Dataset(
            frame=frame,
            source=str(source),
            sha256=sha,
            rows=len(frame),
            summary={
                "first_day": str(days.min().date()),
                "last_day": str(days.max().date()),
                "categories": frame["category"].value_counts().head(20).to_dict(),
            },
        )

    def _fit(
        self, data: Dataset, *, method: str, params: dict[str, Any], progress: Progress
    ) -> HotspotModel:
        from sklearn.isotonic import IsotonicRegression
        if method not in DEFAULTS:
            raise UsageError(f"unknown method '{method}' (known: {', '.join(DEFAULTS)})")
        params = {**DEFAULTS[method], "seed": 0, **params}
        frame = data.frame
        cats = tuple(params.get("categories") or frame["category"].value_counts().index[:4])
        missing = [c for c in cats if c not in set(frame["category"])]
        if missing:
            raise DataError(f"no incidents of category {', '.join(missing)}", file=data.source)
        params["categories"] = list(cats)
        grid = Grid.covering(frame)
        start = frame["time"].min().normalize()
        until = pd.Timestamp(
            params.get("train_until") or frame["time"].max().normalize() + pd.Timedelta(days=1)
        )
        params["train_until"] = str(until.date())
        total = (until - start).days
        h = HISTORY[method]
        if total < h + VAL_DAYS + 14:
            raise DataError(
                f"{total} days before {until.date()}; {method} needs at least "
                f"{h + VAL_DAYS + 14} (history, 14 training and {VAL_DAYS} validation days)",
                file=data.source,
            )
        days = pd.date_range(start, periods=total + 1)
        counts = cube(frame, grid, cats, start, total)
        val_from = total - VAL_DAYS
        progress(
            0.05, f"{counts.sum():.0f} incidents in {grid.rows}x{grid.cols} cells, {total} days"
        )
        forecaster = build(method, grid, params, int(params["seed"]))
        if method == "gbm":
            forecaster.fit(counts[:val_from], days, h, progress)
        elif method == "sepp":
            forecaster.fit(counts, h, val_from)
        elif method == "convgru":
            forecaster.fit(counts, days, h, val_from, progress)
        model = HotspotModel(
            method,
            params,
            grid,
            cats,
            params["train_until"],
            forecaster,
            IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0),
        )
        progress(0.8, "validating and calibrating")
        val = range(val_from, total)
        mean = model.means(counts, days, val)
        truth = counts[val_from:total]
        model.calibrator.fit((1 - np.exp(-mean)).reshape(-1), (truth > 0).reshape(-1))
        ece = _cross_fitted_calibration_error(mean, truth > 0)
        ha = audit.reference_means(counts, val)
        mae, _ = published_errors(mean, truth)
        ha_mae, _ = published_errors(ha, truth)
        model.metrics = {
            "mae": float(np.mean(mae)),
            "mae_vs_ha": float(np.mean(mae) / max(np.mean(ha_mae), 1e-9)),
            "calibration_error": ece,
        }
        progress(1.0, "fitted")
        return model

    def _cube_of(self, model: HotspotModel, data: Dataset) -> tuple[np.ndarray, pd.DatetimeIndex]:
        start = data.frame["time"].min().normalize()
        total = (data.frame["time"].max().normalize() - start).days + 1
        return cube(data.frame, model.grid, model.categories, start, total), pd.date_range(
            start, periods=total + 1
        )

    def _test_days(
        self, model: HotspotModel, data: Dataset
    ) -> tuple[np.ndarray, pd.DatetimeIndex, range]:
        counts, days = self._cube_of(model, data)
        first = max(int((pd.Timestamp(model.trained_until) - days[0]).days), model.history_days)
        if first >= counts.shape[0]:
            raise DataError(
                f"no days after the training period (from {model.trained_until}) with "
                f"{model.history_days} days of history before them to evaluate on",
                file=data.source,
            )
        return counts, days, range(first, counts.shape[0])

    def evaluate(self, model: HotspotModel, data: Dataset) -> Report:
        counts, days, test = self._test_days(model, data)
        pred = model.means(counts, days, test)
        truth = counts[test.start : test.stop]
        mae, mape = published_errors(pred, truth)
        pos = (truth > 0).sum(axis=(0, 1))
        rows, ece = reliability(model.prob_any(pred), truth > 0)
        metrics = {
            "mae": float((mae * pos).sum() / max(pos.sum(), 1)),
            "mape": float((mape * pos).sum() / max(pos.sum(), 1)),
            "brier": float(np.mean((model.prob_any(pred) - (truth > 0)) ** 2)),
            "calibration_error": ece,
            "mae_all_cells": float(np.abs(pred - truth).mean()),
        }
        for k, cat in enumerate(model.categories):
            metrics[f"mae[{cat}]"] = float(mae[k])
            metrics[f"mape[{cat}]"] = float(mape[k])
        districts = audit.district_of_cells(model)
        areas = audit.area_errors(pred, audit.reference_means(counts, test), truth, districts)
        return Report(
            metrics=metrics,
            anchors=ANCHORS["chicago"] + ANCHORS["nyc"],
            protocol=PROTOCOL,
            details={
                "days": len(test),
                "first_day": str(days[test.start].date()),
                "reliability": rows,
                "districts": areas,
            },
        )

    def robustness(self, model: HotspotModel, data: Dataset, seed: int = 0) -> list[Robustness]:
        """The per-district error audit on the validation days (worst district's error over
        a 30-day historical average's there) and the feedback simulation."""
        counts, days = self._cube_of(model, data)
        end = min(int((pd.Timestamp(model.trained_until) - days[0]).days), counts.shape[0])
        val = range(max(end - VAL_DAYS, model.history_days), end)
        pred = model.means(counts, days, val)
        areas = audit.area_errors(
            pred,
            audit.reference_means(counts, val),
            counts[val.start : val.stop],
            audit.district_of_cells(model),
        )
        worst = max(areas, key=lambda a: a["ratio"])
        loop = audit.feedback_simulation(model, counts[:end], days[: end + 1], seed=seed)
        return [
            Robustness(
                "per-district error audit",
                worst["ratio"],
                1.5,
                f"worst of {len(areas)} districts (9 km squares): district {worst['district']} "
                f"MAE {worst['mae']:.3f} vs {worst['reference_mae']:.3f} for a 30-day "
                "historical average there (ratio at most 1.5 allowed)",
            ),
            Robustness(
                "feedback simulation",
                round(loop["amplification"], 3),
                1.5,
                f"patrols in the top {loop['patrolled_cells']} cells for 60 days, half of the "
                "incidents elsewhere recorded: the model's forecast share there became "
                f"{loop['forecast_share_patrolled']:.1%} against a true "
                f"{loop['true_share_patrolled']:.1%} (amplification at most 1.5 allowed)",
            ),
        ]

    def predict(self, model: HotspotModel, request: HotspotRequest) -> HotspotResponse:
        from scipy.stats import poisson
        if not request.incidents:
            raise DataError(
                "no incidents: the forecast needs the days before it", field="incidents"
            )
        frame = pd.DataFrame(
            [
                (i.time, i.category.strip().upper(), i.latitude, i.longitude)
                for i in request.incidents
            ],
            columns=["time", "category", "latitude", "longitude"],
        )
        frame["time"] = pd.to_datetime(frame["time"], utc=False).dt.tz_localize(None)
        day = (
            pd.Timestamp(request.day)
            if request.day
            else frame["time"].max().normalize() + pd.Timedelta(days=1)
        )
        h = model.history_days
        start = day - pd.Timedelta(days=h)
        past = cube(frame, model.grid, model.categories, start, h)
        in_window = (frame["time"] >= start) & (frame["time"] < day)
        not_counted = int(in_window.sum() - past.sum())
        days = pd.date_range(start, periods=h + 1)
        mean = np.maximum(model.forecaster.mean(past, days), 0.0)
        prob = model.prob_any(mean)
        upper = poisson.ppf(0.9, np.maximum(mean, 1e-12)).astype(int)
        order = np.argsort(-mean, axis=None, kind="stable")
        if request.top:
            order = order[: request.top]
        preds = []
        for flat in order:
            cell, k = divmod(int(flat), len(model.categories))
            lat, lon = model.grid.centre(cell)
            preds.append(
                CellForecast(
                    cell=cell,
                    row=cell // model.grid.cols,
                    col=cell % model.grid.cols,
                    latitude=round(lat, 5),
                    longitude=round(lon, 5),
                    category=model.categories[k],
                    expected=round(float(mean[cell, k]), 4),
                    p_any=round(float(prob[cell, k]), 4),
                    upper90=int(upper[cell, k]),
                )
            )
        return HotspotResponse(day=day.date(), not_counted=not_counted, predictions=preds)

    def request_from(self, data: Dataset, **options: Any) -> HotspotRequest:
        frame = data.frame
        last = frame["time"].max().normalize()
        recent = frame[frame["time"] >= last - pd.Timedelta(days=max(HISTORY.values()) - 1)]
        incidents = [
            Incident.model_construct(time=t.to_pydatetime(), category=c, latitude=la, longitude=lo)
            for t, c, la, lo in zip(
                recent["time"],
                recent["category"],
                recent["latitude"],
                recent["longitude"],
                strict=True,
            )
        ]
        return HotspotRequest(
            incidents=incidents,
            top=options.get("top", 50),
            model_version=options.get("model_version"),
        )

    def example(self, data_dir: Path) -> tuple[Path, Path]:
        return data_dir / "CHI_Crime.zip", data_dir / "CHI_Crime.zip"

def _register_city_benches() -> None:
    for city in CITIES:

        def run(r: BenchRun, city: str = city) -> BenchResult:
            return run_bench(HotspotsTask(), r.data_dir, city, quick=r.quick,
                             progress=r.progress, methods=r.methods)  # fmt: skip

        benchmark("safety.hotspots", city, folder=HotspotsTask.bench_data)(run)


_register_city_benches()


def _cross_fitted_calibration_error(mean: np.ndarray, hit: np.ndarray) -> float:
    """Calibration error of the isotonic recalibration on validation days it was not
    fitted on: fitted on one half of the days, measured on the other, both ways."""
    from sklearn.isotonic import IsotonicRegression
    half = mean.shape[0] // 2
    gaps = []
    for fit_on, test_on in (
        (slice(0, half), slice(half, None)),
        (slice(half, None), slice(0, half)),
    ):
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        iso.fit((1 - np.exp(-mean[fit_on])).reshape(-1), hit[fit_on].reshape(-1))
        prob = iso.predict((1 - np.exp(-mean[test_on])).reshape(-1))
        gaps.append(reliability(prob, hit[test_on])[1])
    return float(np.mean(gaps))


def published_split(data: Dataset, city: str) -> dict[str, np.ndarray]:
    """The train, validation and test cell-day tensors of the published script, shaped
    (rows, cols, days, categories) like its trn.pkl, val.pkl and tst.pkl."""
    spec = CITIES[city]
    grid = Grid.covering(data.frame)
    start, until = pd.Timestamp(spec["start"]), pd.Timestamp(spec["train_until"])
    total = (pd.Timestamp(spec["end"]) - start).days
    counts = cube(data.frame, grid, spec["categories"], start, total)
    val_from, test_from = (until - start).days - VAL_DAYS, (until - start).days
    as_published = counts.reshape(total, grid.rows, grid.cols, -1).transpose(1, 2, 0, 3)
    return {
        "train": as_published[:, :, :val_from],
        "val": as_published[:, :, val_from:test_from],
        "test": as_published[:, :, test_from:],
    }


def run_bench(
    task: HotspotsTask,
    data_dir: Path,
    city: str,
    *,
    quick: bool,
    progress: Progress,
    methods: tuple[str, ...] | None = None,
) -> BenchResult:
    spec = CITIES[city]
    data = task.load(data_dir / spec["file"], skip_first_record=spec["skip_first_record"])
    split = published_split(data, city)
    chosen = only(list(task.methods), methods, lambda m: m)
    results = []
    for n, method in enumerate(chosen):

        def sub(frac: float, msg: str, n: int = n, method: str = method) -> None:
            progress((n + frac) / len(chosen), f"{method}: {msg}")

        params = {
            **(task.quick_params[method] if quick else {}),
            "train_until": spec["train_until"],
            "categories": list(spec["categories"]),
        }
        start = time.perf_counter()
        model = task.fit(data, method=method, params=params, progress=sub)
        fit_s = time.perf_counter() - start
        report = task.evaluate(model, data)
        results.append(
            {
                "method": f"{method} (odlar)",
                "params": {k: v for k, v in model.params.items() if k != "categories"},
                "metrics": {k: round(v, 4) for k, v in report.metrics.items()},
                "validation": {k: round(v, 4) for k, v in model.metrics.items()},
                "reliability": report.details["reliability"],
                "worst_districts": sorted(report.details["districts"], key=lambda a: -a["ratio"])[
                    :3
                ],
                "fit_seconds": round(fit_s, 2),
                "seconds": round(time.perf_counter() - start, 2),
            }
        )
    for row in results:
        row["vs_st_hsl"] = _versus(row["metrics"], STHSL.get(city), spec["categories"])
    results.append(_floor_probe(task, data, spec))
    progress(1.0, "done")
    shapes = {k: list(v.shape) for k, v in split.items()}
    totals = {k: [int(x) for x in v.sum(axis=(0, 1, 2))] for k, v in split.items()}
    notes = [
        f"tensors as the published script builds them: shapes {shapes}, totals per category "
        f"{totals} ({', '.join(spec['categories'])})",
        "ST-HSL's figures: New York's from the first author's comment in "
        "LZH-YS1998/STHSL issue #1; Chicago's not found (the paper's table, arXiv "
        "2204.08587, could not be read here: only its abstract and introduction come back)",
        "the published metric scores only the cell-days with at least one incident, so it "
        "rewards forecasting high: the probe row (the historical average floored at 1, not "
        "a forecast anyone should use) shows how far; compare models by the unmasked "
        "mae_all_cells and the Brier score too",
        "timings on a 2-core machine shared with other jobs: inflated",
    ]
    if spec["skip_first_record"]:
        notes.append("the file's first record is left out, as the published script does")
    if quick:
        notes.append("--quick: tiny training budget for the test suite; figures not comparable")
    return BenchResult(
        task=task.name,
        dataset=city,
        protocol=PROTOCOL,
        results=results,
        anchors=ANCHORS[city],
        notes=notes,
    )


def _versus(
    ours: dict[str, float], published: dict[str, float] | None, categories: tuple[str, ...]
) -> dict[str, Any] | None:
    """Our MAE minus ST-HSL's per category (negative: ahead) and how many categories are
    ahead; None where ST-HSL's figures for the city are not known."""
    if not published:
        return None
    diff = {c: round(ours[f"mae[{c}]"] - published[f"mae[{c}]"], 4) for c in categories}
    return {"mae_minus_st_hsl": diff, "categories_ahead": sum(d < 0 for d in diff.values())}


def _floor_probe(task: HotspotsTask, data: Dataset, spec: dict[str, Any]) -> dict[str, Any]:
    """The 30-day historical average floored at one incident, scored like the models: no
    forecast (it says every cell has an incident every day), only a measure of how much
    the published metric's mask (cell-days with incidents only) rewards forecasting high."""
    params = {"train_until": spec["train_until"], "categories": list(spec["categories"])}
    model = task.fit(data, method="ha", params=params, progress=lambda f, m: None)
    counts, days, test = task._test_days(model, data)
    pred = np.maximum(model.means(counts, days, test), 1.0)
    truth = counts[test.start : test.stop]
    mae, mape = published_errors(pred, truth)
    pos = (truth > 0).sum(axis=(0, 1))
    metrics = {
        "mae": float((mae * pos).sum() / max(pos.sum(), 1)),
        "mape": float((mape * pos).sum() / max(pos.sum(), 1)),
        "mae_all_cells": float(np.abs(pred - truth).mean()),
    }
    for k, cat in enumerate(model.categories):
        metrics[f"mae[{cat}]"], metrics[f"mape[{cat}]"] = float(mae[k]), float(mape[k])
    row = {
        "method": "probe: ha floored at 1 (not a forecast)",
        "metrics": {k: round(v, 4) for k, v in metrics.items()},
    }
    row["vs_st_hsl"] = _versus(row["metrics"], STHSL.get(_city_of(spec)), model.categories)
    return row


def _city_of(spec: dict[str, Any]) -> str:
    return next(c for c, s in CITIES.items() if s is spec)

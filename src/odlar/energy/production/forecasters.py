"""Per-well oil, gas and water rate forecasts 1, 7, 30 and 90 days ahead, with inductive
conformal intervals, and the walk-forward backtest that measures them.

Methods: `persistence` (the last flowing rate), `decline` (the well's Arps curve: the physics
baseline), `gbm` (gradient boosting on lagged features, monotone in the planned choke) and
`sequence` (a seed ensemble of 3 GRUs in PyTorch over the last 30 days). Every model is
trained on days before `end - calibration_days` and calibrated on the origins after that
whose targets lie before `end` (inductive conformal prediction); nothing on or after `end`
is ever seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from odlar.core.errors import DataError, UsageError
from odlar.core.tasks import Progress, no_progress
from odlar.energy.production.data import PHASES
from odlar.energy.production.decline import WellDecline, analyse_well
from odlar.energy.production.features import (
    FEATURES,
    HORIZONS,
    add_targets,
    origin_frame,
    train_mask,
)
from odlar.energy.rul.conformal import CrossConformal

DEFAULTS: dict[str, dict[str, Any]] = {
    "persistence": {},
    "decline": {"dterm_per_year": 0.06},
    "gbm": {"max_iter": 150, "learning_rate": 0.1, "max_leaf_nodes": 15, "l2": 1.0},
    "sequence": {
        "window": 30,
        "hidden": 32,
        "epochs": 10,
        "members": 3,
        "epoch_fraction": 1.0,
        "lr": 3e-3,
        "batch": 256,
    },
}
COMMON = {"seed": 0, "calibration_days": 120, "end": None, "horizons": list(HORIZONS)}
LEVELS = (0.8, 0.9)


@dataclass
class Forecaster:
    method: str
    params: dict[str, Any]
    horizons: tuple[int, ...]
    end: pd.Timestamp  # nothing on or after this day was used
    calibration_start: pd.Timestamp
    trained_until: pd.Timestamp | None  # the latest target day any model was fitted on
    estimators: dict[tuple[str, int], Any] = field(default_factory=dict)
    net: Any = None
    declines: dict[str, WellDecline | None] = field(default_factory=dict)
    conformal: dict[tuple[str, int], CrossConformal] = field(default_factory=dict)
    choke_range: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: features never measured in the training data (e.g. no downhole gauge): held at 0,
    #: in training and forecasting alike
    unmeasured: list[int] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)

    def predict_rows(
        self, origins: pd.DataFrame, *, choke: str | dict[str, float] = "hold", level: float = 0.9
    ) -> pd.DataFrame:
        """Forecasts for the given origin rows (features from `origin_frame`, any days):
        one row per origin, horizon and phase; truth where the data hold it."""
        with threadpool_limits(1):
            return self._predict_rows(origins, choke, level)

    def _predict_rows(
        self, origins: pd.DataFrame, choke: str | dict[str, float], level: float
    ) -> pd.DataFrame:
        parts = []
        for h in self.horizons:
            rows = add_targets(origins, h, choke)
            rows = rows[rows["oil_level"].notna()]
            if rows.empty:
                continue
            deltas = self._deltas(rows, h, whatif=isinstance(choke, dict))
            for phase in PHASES:
                point = rows[f"{phase}_last"].to_numpy() + deltas[phase]
                point = np.maximum(point, 0.0)
                cal = self.conformal.get((phase, h))
                if cal is not None:
                    lo, hi = cal.interval(point[None, :], level)
                else:
                    lo = hi = point
                parts.append(
                    pd.DataFrame(
                        {
                            "well": rows["well"].to_numpy(),
                            "origin": rows["date"].to_numpy(),
                            "horizon": h,
                            "date": rows["target_date"].to_numpy(),
                            "phase": phase,
                            "rate": np.expm1(point),
                            "lower": np.expm1(np.minimum(lo, point)),
                            "upper": np.expm1(np.maximum(hi, point)),
                            "truth": rows[f"{phase}_truth"].to_numpy(),
                            "choke": rows["planned_choke"].to_numpy(),
                        }
                    )
                )
        if not parts:
            return pd.DataFrame(
                columns=["well", "origin", "horizon", "date", "phase", "rate", "lower", "upper"]
            )
        return pd.concat(parts, ignore_index=True)

    def _deltas(self, rows: pd.DataFrame, h: int, whatif: bool = False) -> dict[str, np.ndarray]:
        """Predicted log rate at t+h minus the last flowing log rate, per phase."""
        if self.method == "persistence":
            return {p: np.zeros(len(rows)) for p in PHASES}
        if self.method == "decline":
            return _decline_deltas(self, rows)
        if self.method == "gbm":
            x = np.array(rows[FEATURES], dtype=float)
            x[:, self.unmeasured] = 0.0
            if whatif:
                return {p: _monotone(self.estimators[(p, h)], x) for p in PHASES}
            return {p: self.estimators[(p, h)].predict(x) for p in PHASES}
        from odlar.energy.production.sequence import predict_net

        return predict_net(self.net, rows, h, self.horizons)


CHOKE_GRID = np.linspace(0.0, 100.0, 21)


def _monotone(est: Any, x: np.ndarray) -> np.ndarray:
    """The prediction at each row's planned choke, raised to the highest prediction at any
    smaller opening of a 5 % grid: exactly non-decreasing in the choke."""
    col = FEATURES.index("planned_choke")
    out = est.predict(x)
    planned = x[:, col]
    for opening in CHOKE_GRID:
        below = planned >= opening
        if not below.any():
            continue
        grid = x[below].copy()
        grid[:, col] = opening
        out[below] = np.maximum(out[below], est.predict(grid))
    return out


def _decline_deltas(model: Forecaster, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {p: np.zeros(len(rows)) for p in PHASES}
    for well, idx in rows.groupby("well").indices.items():
        sub = rows.iloc[idx]
        for phase in PHASES:
            fit = model.declines.get(f"{well}|{phase}")
            if fit is None:  # no decline fitted: the last rate is the forecast
                continue
            # the curve's decline from the origin to the target, applied to the 7-day level
            # (rate-matched at the forecast start, as engineers run a decline forward)
            ahead = fit.forecast(pd.DatetimeIndex(sub["target_date"]))
            now = fit.forecast(pd.DatetimeIndex(sub["date"]))
            ratio = np.log(np.maximum(ahead, 1e-9) / np.maximum(now, 1e-9))
            out[phase][idx] = ratio + (sub[f"{phase}_level"] - sub[f"{phase}_last"]).to_numpy()
    return out


def fit_forecaster(
    frame: pd.DataFrame,
    method: str,
    params: dict[str, Any] | None = None,
    progress: Progress = no_progress,
    origins: pd.DataFrame | None = None,
) -> Forecaster:
    """Train on the loader's frame; `origins` (from `origin_frame`) may be passed to save
    recomputing features across walk-forward folds."""
    # one thread: these models are small, and OpenMP threads spinning on a busy 2-core
    # machine made a boosting fit 20 times slower than one thread
    with threadpool_limits(1):
        return _fit(frame, method, params, progress, origins)


def _fit(
    frame: pd.DataFrame,
    method: str,
    params: dict[str, Any] | None,
    progress: Progress,
    origins: pd.DataFrame | None,
) -> Forecaster:
    if method not in DEFAULTS:
        raise UsageError(f"unknown method '{method}' (known: {', '.join(DEFAULTS)})")
    p = {**COMMON, **DEFAULTS[method], **(params or {})}
    unknown = sorted(set(p) - set(COMMON) - set(DEFAULTS[method]))
    if unknown:
        raise UsageError(f"unknown parameter(s) for {method}: {', '.join(unknown)}")
    horizons = tuple(int(h) for h in p["horizons"])
    if not horizons or any(h < 1 or h > 365 for h in horizons):
        raise UsageError("horizons are whole days from 1 to 365")
    origins = origin_frame(frame) if origins is None else origins
    if origins.empty:
        raise DataError("no producing well in the data: nothing to forecast")
    last = origins["date"].max() + pd.Timedelta(days=1)
    if p["calibration_days"] < 30:
        raise UsageError("calibration_days must be at least 30")
    end = pd.Timestamp(p["end"]) if p["end"] else last
    cal_start = end - pd.Timedelta(days=int(p["calibration_days"]))
    p["end"] = f"{end:%Y-%m-%d}"
    model = Forecaster(method, p, horizons, end, cal_start, trained_until=None)
    seen = origins[(origins["date"] < end) & origins["producing"]]
    if seen.empty:
        raise DataError(f"no producing day before {end:%Y-%m-%d} to train on")
    for well, rows in seen.groupby("well"):
        chokes = rows["choke"].dropna()
        chokes = chokes[chokes > 0]
        if len(chokes):
            model.choke_range[str(well)] = (float(chokes.min()), float(chokes.max()))
    progress(0.05, "features")
    if method == "decline":
        train = frame[frame["date"] < cal_start]
        for well, rows in train[train["role"] == "producer"].groupby("well"):
            for phase in PHASES:
                fit = analyse_well(rows, phase=phase, boot=0, dterm_per_year=p["dterm_per_year"])
                model.declines[f"{well}|{phase}"] = fit
        model.trained_until = train["date"].max()
    elif method == "gbm":
        _fit_gbm(model, origins, p, progress)
    elif method == "sequence":
        from odlar.energy.production.sequence import fit_net

        model.net, model.trained_until = fit_net(origins, cal_start, horizons, p, progress)
    _calibrate(model, origins)
    progress(1.0, "calibrated")
    return model


def _fit_gbm(
    model: Forecaster, origins: pd.DataFrame, p: dict[str, Any], progress: Progress
) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor
    # monotone increasing in the planned choke for every phase: more opening, more drawdown,
    # more of each fluid (over the range the well has seen; see the what-if's flags)
    cst = [1 if f == "planned_choke" else 0 for f in FEATURES]
    latest = None
    steps = len(model.horizons) * len(PHASES)
    seen = origins[origins["date"] < model.calibration_start]
    model.unmeasured = [
        i for i, f in enumerate(FEATURES) if f in seen.columns and seen[f].isna().all()
    ]
    for i, h in enumerate(model.horizons):
        rows = add_targets(origins, h, "actual")
        rows = rows[train_mask(rows, model.calibration_start)]
        for j, phase in enumerate(PHASES):
            fit_rows = rows[rows[f"{phase}_target"].notna()]
            if len(fit_rows) < 30:
                raise DataError(
                    f"too few producing days before {model.calibration_start:%Y-%m-%d} to "
                    f"train the {h}-day {phase} model ({len(fit_rows)}; at least 30)"
                )
            # absolute error: measured better than squared error here (restarts and upsets
            # are heavy-tailed). It re-sets leaf values after growing a tree, which can break
            # the monotone constraint by a hair: what-ifs take the running maximum over
            # openings (see _monotone), which makes them exactly monotone
            est = HistGradientBoostingRegressor(
                loss="absolute_error",
                max_iter=int(p["max_iter"]),
                learning_rate=float(p["learning_rate"]),
                max_leaf_nodes=int(p["max_leaf_nodes"]),
                l2_regularization=float(p["l2"]),
                monotonic_cst=cst,
                early_stopping=False,
                random_state=int(p["seed"]),
            )
            x = np.array(fit_rows[FEATURES], dtype=float)
            x[:, model.unmeasured] = 0.0
            est.fit(x, fit_rows[f"{phase}_target"].to_numpy())
            model.estimators[(phase, h)] = est
            top = fit_rows["target_date"].max()
            latest = top if latest is None else max(latest, top)
            progress(0.05 + 0.8 * (i * len(PHASES) + j + 1) / steps, f"gbm {phase} {h} d")
    model.trained_until = latest


def _calibrate(model: Forecaster, origins: pd.DataFrame) -> None:
    """Inductive conformal: for horizon h, the origins whose targets fall in the calibration
    window [end - calibration_days, end) — after every training target — give residuals in
    log rate, per phase and horizon, Mondrian by the predicted log rate (terciles)."""
    longest = max(model.horizons)
    since = model.calibration_start - pd.Timedelta(days=longest + 40)  # +40: look-back
    window = origins[(origins["date"] >= since) & (origins["date"] < model.end)]
    preds = model.predict_rows(window, choke="hold")
    if preds.empty:
        model.metrics = {"calibration_points": 0.0}
        return
    preds = preds[
        (preds["date"] >= model.calibration_start)
        & (preds["date"] < model.end)
        & preds["truth"].notna()
    ]
    metrics: dict[str, float] = {}
    for (phase, h), rows in preds.groupby(["phase", "horizon"]):
        if len(rows) < 10:
            continue
        point = np.log1p(rows["rate"].to_numpy())
        truth = np.log1p(rows["truth"].to_numpy())
        edges = np.quantile(point, [1 / 3, 2 / 3]) if len(rows) >= 90 else np.array([])
        model.conformal[(str(phase), int(h))] = CrossConformal.fit(
            point, truth, np.zeros(len(rows), int), edges
        )
        m = point_metrics(rows["rate"].to_numpy(), rows["truth"].to_numpy())
        metrics[f"mae_{phase}_{int(h)}d"] = m["mae"]
        metrics[f"mape_{phase}_{int(h)}d"] = m["mape"]
    model.metrics = metrics or {"calibration_points": 0.0}


def point_metrics(rate: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    err = rate - truth
    big = truth >= 1.0  # MAPE only where the truth is at least 1 Sm3/day
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "mape": float(np.mean(np.abs(err[big]) / truth[big]) * 100) if big.any() else float("nan"),
        "n": int(len(truth)),
    }


def interval_metrics(rows: pd.DataFrame) -> dict[str, float]:
    inside = (rows["truth"] >= rows["lower"]) & (rows["truth"] <= rows["upper"])
    return {
        "coverage": float(inside.mean()),
        "width": float((rows["upper"] - rows["lower"]).mean()),
    }


def folds(
    start: pd.Timestamp, stop: pd.Timestamp, step: int
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Expanding-window folds: each [a, b) is forecast by a model that saw only days < a."""
    out, a = [], start
    while a < stop:
        b = min(a + pd.Timedelta(days=step), stop)
        out.append((a, b))
        a = b
    return out


def walk_forward(
    frame: pd.DataFrame,
    method: str,
    params: dict[str, Any],
    *,
    start: str | pd.Timestamp,
    stop: str | pd.Timestamp,
    step: int,
    wells: list[str] | None = None,
    level: float = 0.9,
    plans: tuple[str, ...] = ("hold",),
    progress: Progress = no_progress,
) -> tuple[pd.DataFrame, list[Forecaster]]:
    """Forecasts for every producing origin in [start, stop), refitting every `step` days on
    all data before the fold (expanding window); scored rows need the truth. `plans`: the
    choke assumed over each horizon, "hold" (the last opening: no plan known) and/or
    "actual" (the opening that was then set: the operator's plan known in advance)."""
    origins = origin_frame(frame)
    chunks, models = [], []
    plan = folds(pd.Timestamp(start), pd.Timestamp(stop), step)
    for k, (a, b) in enumerate(plan):

        def sub(f: float, m: str, k: int = k) -> None:
            progress((k + f) / len(plan), f"fold {k + 1}/{len(plan)}: {m}")

        model = fit_forecaster(frame, method, {**params, "end": a}, sub, origins=origins)
        models.append(model)
        test = origins[(origins["date"] >= a) & (origins["date"] < b) & origins["producing"]]
        if wells is not None:
            test = test[test["well"].isin(wells)]
        if test.empty:
            continue
        # features look back only (built once); the block read starts 40 days early for
        # the sequence model's look-back and ends after the longest horizon for the truth
        block = origins[
            origins["well"].isin(test["well"].unique())
            & (origins["date"] >= a - pd.Timedelta(days=40))
            & (origins["date"] < b + pd.Timedelta(days=max(model.horizons) + 1))
        ]
        for controls in plans:
            rows = model.predict_rows(block, choke=controls, level=level)
            rows = rows[(rows["origin"] >= a) & (rows["origin"] < b)]
            rows = rows[rows["truth"].notna()].copy()
            rows["fold"] = k
            rows["controls"] = controls
            chunks.append(rows)
    preds = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()
    return preds, models

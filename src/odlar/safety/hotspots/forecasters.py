"""Forecasters of tomorrow's incident counts per cell and category from the days before.

Each forecaster maps a history cube (days, cells, categories), most recent day last, to
expected counts for the next day. The predictive distribution is Poisson around that
mean; the probability of at least one incident is then recalibrated on the validation
days by isotonic regression, so a forecast "30%" happens about 30% of the time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from odlar.core.errors import UsageError
from odlar.core.tasks import Progress
from odlar.safety.hotspots import neural
from odlar.safety.incidents import Grid

if TYPE_CHECKING:  # scikit-learn loads only when a model is fitted
    from sklearn.isotonic import IsotonicRegression

DEFAULTS: dict[str, dict[str, Any]] = {
    "ha": {"window": 30},
    "seasonal": {"weeks": 4},
    "gbm": {"max_iter": 300, "learning_rate": 0.05, "max_leaf_nodes": 31, "train_days": 0},
    "sepp": {"decays": [1.0, 3.0, 7.0, 30.0], "iterations": 60},
    "convgru": {
        "hidden": 32, "lr": 0.005, "batch": 16, "epochs": 40, "patience": 6, "threads": 1,
    },  # fmt: skip
}
#: days of history each method reads before the day it forecasts
HISTORY = {"ha": 30, "seasonal": 28, "gbm": 90, "sepp": 90, "convgru": neural.LONG}


class HistoricalAverage:
    """Mean of the last `window` days (the published HA baseline)."""

    def __init__(self, window: int) -> None:
        self.window = window

    def mean(self, past: np.ndarray, days: pd.DatetimeIndex) -> np.ndarray:
        return past[-self.window :].mean(axis=0)


class SeasonalNaive:
    """Mean of the same weekday over the last `weeks` weeks."""

    def __init__(self, weeks: int) -> None:
        self.weeks = weeks

    def mean(self, past: np.ndarray, days: pd.DatetimeIndex) -> np.ndarray:
        return past[-7 * self.weeks :][::-1][6::7][: self.weeks].mean(axis=0)


def _window_means(cs: np.ndarray, t: int, w: int) -> np.ndarray:
    """Mean over days [t - w, t) from a cumulative sum with a leading zero day."""
    return (cs[t] - cs[max(t - w, 0)]) / w


class CountBoosting:
    """Gradient boosting with a Poisson loss on lagged counts of the cell, its eight
    neighbours and the cell's other categories, with weekday and category."""

    LAGS = 7

    def __init__(self, grid: Grid, params: dict[str, Any], seed: int) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor
        self.adjacency = grid.neighbours()
        self.degree = self.adjacency.sum(axis=1, keepdims=True)
        self.params, self.seed = params, seed
        self.model: HistGradientBoostingRegressor | None = None

    def _features(self, cube: np.ndarray, targets: list[int], days: pd.DatetimeIndex) -> np.ndarray:
        _, cells, cats = cube.shape
        nb = np.einsum("ij,tjk->tik", self.adjacency, cube) / self.degree[None]
        zero = np.zeros((1, cells, cats))
        cs, ncs = np.concatenate([zero, cube.cumsum(0)]), np.concatenate([zero, nb.cumsum(0)])
        allcat = cube.sum(axis=2, keepdims=True)
        acs = np.concatenate([np.zeros((1, cells, 1)), allcat.cumsum(0)])
        rows = []
        for t in targets:
            cols = [cube[t - lag] for lag in range(1, self.LAGS + 1)]
            cols += [_window_means(cs, t, w) for w in (7, 30, 90)]
            cols += [nb[t - 1], _window_means(ncs, t, 7), _window_means(ncs, t, 30)]
            cols += [np.repeat(_window_means(acs, t, 30), cats, axis=1)]
            cols += [np.full((cells, cats), days[t].dayofweek, dtype=float)]
            cols += [np.tile(np.arange(cats, dtype=float), (cells, 1))]
            rows.append(np.stack(cols, axis=-1).reshape(cells * cats, -1))
        return np.concatenate(rows)

    def fit(self, cube: np.ndarray, days: pd.DatetimeIndex, first: int, progress: Progress) -> None:
        from sklearn.ensemble import HistGradientBoostingRegressor
        targets = list(range(max(first, 90), cube.shape[0]))
        if self.params.get("train_days"):
            targets = targets[-int(self.params["train_days"]) :]
        x = self._features(cube, targets, days)
        y = np.concatenate([cube[t].reshape(-1) for t in targets])
        progress(0.3, f"boosting on {len(y)} cell-days")
        self.model = HistGradientBoostingRegressor(
            loss="poisson",
            max_iter=int(self.params["max_iter"]),
            learning_rate=float(self.params["learning_rate"]),
            max_leaf_nodes=int(self.params["max_leaf_nodes"]),
            categorical_features=[x.shape[1] - 1],
            early_stopping=False,
            random_state=self.seed,
        ).fit(x, y)

    def mean_many(self, cube: np.ndarray, days: pd.DatetimeIndex, targets: range) -> np.ndarray:
        """Forecasts of several days at once, each from the true days before it."""
        assert self.model is not None
        _, cells, cats = cube.shape
        x = self._features(cube, list(targets), days)
        return self.model.predict(x).reshape(len(targets), cells, cats)

    def mean(self, past: np.ndarray, days: pd.DatetimeIndex) -> np.ndarray:
        assert self.model is not None
        _, cells, cats = past.shape
        # `days` holds the history's days and the forecast day last
        x = self._features(np.concatenate([past, past[:1] * 0]), [past.shape[0]], days)
        return self.model.predict(x).reshape(cells, cats)


class SelfExciting:
    """Discrete-time self-exciting point process after Mohler et al. (2011): a constant
    background rate per cell and category plus excitation from recent incidents in the
    same cell and its neighbours, decaying exponentially; fitted by EM for each decay
    time and the decay chosen by validation likelihood."""

    def __init__(self, grid: Grid, params: dict[str, Any]) -> None:
        self.adjacency = grid.neighbours()
        self.params = params
        self.decay = 1.0
        self.mu: np.ndarray | None = None
        self.a = self.b = 0.0

    def _traces(self, cube: np.ndarray, decay: float) -> tuple[np.ndarray, np.ndarray]:
        """Exponentially weighted past counts (own cell, neighbours) before each day."""
        rho = math.exp(-1.0 / decay)
        own = np.zeros_like(cube)
        for t in range(1, cube.shape[0]):
            own[t] = rho * own[t - 1] + (1 - rho) * cube[t - 1]
        return own, np.einsum("ij,tjk->tik", self.adjacency, own)

    def _em(self, y: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[np.ndarray, float, float]:
        mu = np.maximum(y.mean(axis=0), 1e-3) * 0.5
        a = b = 0.1
        for _ in range(int(self.params["iterations"])):
            lam = mu[None] + a * s1 + b * s2
            w = y / lam
            mu = np.maximum((w * mu[None]).mean(axis=0), 1e-6)
            a = float((w * a * s1).sum() / max(s1.sum(), 1e-12))
            b = float((w * b * s2).sum() / max(s2.sum(), 1e-12))
        return mu, a, b

    def fit(self, cube: np.ndarray, first: int, val_from: int) -> None:
        best = -np.inf
        for decay in self.params["decays"]:
            own, nb = self._traces(cube, float(decay))
            tr = slice(first, val_from)
            mu, a, b = self._em(cube[tr], own[tr], nb[tr])
            lam = mu[None] + a * own[val_from:] + b * nb[val_from:]
            ll = float((cube[val_from:] * np.log(lam) - lam).sum())
            if ll > best:
                best, self.decay, self.mu, self.a, self.b = ll, float(decay), mu, a, b
        # refit on every day before the forecast period with the chosen decay
        own, nb = self._traces(cube, self.decay)
        self.mu, self.a, self.b = self._em(cube[first:], own[first:], nb[first:])

    def mean(self, past: np.ndarray, days: pd.DatetimeIndex) -> np.ndarray:
        assert self.mu is not None
        own, nb = self._traces(np.concatenate([past, past[:1] * 0]), self.decay)
        return self.mu + self.a * own[-1] + self.b * nb[-1]


@dataclass
class HotspotModel:
    """A fitted forecaster with its grid, categories and calibration (picklable)."""

    method: str
    params: dict[str, Any]
    grid: Grid
    categories: tuple[str, ...]
    trained_until: str  # first day not used for training (ISO date)
    forecaster: Any
    calibrator: IsotonicRegression
    metrics: dict[str, float] = field(default_factory=dict)
    reliability: list[dict[str, float]] = field(default_factory=list)

    @property
    def history_days(self) -> int:
        return HISTORY[self.method]

    def means(self, cube: np.ndarray, days: pd.DatetimeIndex, targets: range) -> np.ndarray:
        """Expected counts for each target day from the true days before it."""
        h = self.history_days
        if hasattr(self.forecaster, "mean_many"):  # one batched call: same numbers, faster
            return np.maximum(self.forecaster.mean_many(cube[: targets.stop], days, targets), 0.0)
        out = np.empty((len(targets), *cube.shape[1:]))
        for i, t in enumerate(targets):
            out[i] = np.maximum(self.forecaster.mean(cube[t - h : t], days[t - h : t + 1]), 0.0)
        return out

    def prob_any(self, mean: np.ndarray) -> np.ndarray:
        """Calibrated probability of at least one incident."""
        raw = 1.0 - np.exp(-mean)
        return self.calibrator.predict(raw.reshape(-1)).reshape(raw.shape)


def build(method: str, grid: Grid, params: dict[str, Any], seed: int) -> Any:
    if method == "ha":
        return HistoricalAverage(int(params["window"]))
    if method == "seasonal":
        return SeasonalNaive(int(params["weeks"]))
    if method == "gbm":
        return CountBoosting(grid, params, seed)
    if method == "sepp":
        return SelfExciting(grid, params)
    if method == "convgru":
        return neural.ConvGruForecaster(grid, params, seed)
    raise UsageError(f"unknown method '{method}' (known: {', '.join(DEFAULTS)})")


def published_errors(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MAE and MAPE per category over cell-days with at least one incident, as the ST-HSL
    evaluation code computes them (utils.cal_metrics_r with mask = label > 0)."""
    pos = truth > 0
    err = np.abs(pred - truth)
    n = pos.sum(axis=(0, 1)).clip(min=1)
    mae = (err * pos).sum(axis=(0, 1)) / n
    mape = (err / np.where(pos, truth, 1.0) * pos).sum(axis=(0, 1)) / n
    return mae, mape


def reliability(prob: np.ndarray, hit: np.ndarray, bins: int = 10) -> tuple[list[dict], float]:
    """Reliability diagram (mean forecast vs observed frequency per probability bin) and
    the expected calibration error (bin-weighted mean gap)."""
    p, h = prob.reshape(-1), hit.reshape(-1).astype(float)
    which = np.minimum((p * bins).astype(int), bins - 1)
    rows, gap = [], 0.0
    for b in range(bins):
        m = which == b
        if not m.any():
            continue
        fp, fo = float(p[m].mean()), float(h[m].mean())
        rows.append(
            {
                "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                "forecast": round(fp, 4),
                "observed": round(fo, 4),
                "cell_days": int(m.sum()),
            }
        )
        gap += m.sum() * abs(fp - fo)
    return rows, float(gap / len(p))

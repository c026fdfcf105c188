"""Window-statistic fault detectors for equipment (SKAB) and oil wells (3W).

All are trained per stream on a stretch of normal operation and score causally: the score of
row i uses rows i - history .. i only. Scores are divided by a threshold taken from the
training rows (a quantile of the in-sample statistic times a fixed safety margin), so a row
alarms when its score exceeds 1.

`WindowMahalanobis` compares the trailing-window mean (optionally also the trailing-window
standard deviation) of each standardized sensor with its training distribution through a
Ledoit-Wolf shrunk Mahalanobis distance: averaging before squaring makes a sustained level shift
grow with the window while white noise shrinks. It suits short training stretches (SKAB trains
on 400 s per stream); sensors that only drift slowly within such a stretch cannot be bounded by
it: leave them out with the model's `exclude` parameter.

`RobustZDetector` and `IsolationForestDetector` score the window features of Vargas et al.
(2019) (median, mean, std, variance, max and min of each variable over a trailing window).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pandas as pd

from odlar.energy.faults.detectors import Detector, trailing_mean

if TYPE_CHECKING:  # scikit-learn is imported where a detector is fitted
    from sklearn.ensemble import IsolationForest

_EPS = 1e-9
FEATURES: tuple[str, ...] = ("median", "mean", "std", "var", "max", "min")


def _threshold(statistic: np.ndarray, false_alarm_rate: float, margin: float) -> float:
    if not 0.0 <= false_alarm_rate < 1.0:
        raise ValueError("false_alarm_rate must be in [0, 1)")
    limit = float(np.quantile(statistic, 1.0 - false_alarm_rate)) * margin
    return max(limit, _EPS)


class WindowMahalanobis(Detector):
    """Ledoit-Wolf Mahalanobis distance of trailing-window means of standardized sensors."""

    name: ClassVar[str] = "window_mahalanobis"
    statistic: ClassVar[str] = "Mahalanobis distance of window mean and std / threshold"

    def __init__(
        self,
        window: int = 5,
        margin: float = 1.5,
        window_std: bool = True,
    ) -> None:
        if window < 1:
            raise ValueError("window must be >= 1")
        self.window = window
        self.margin = margin
        self.window_std = window_std
        self.history = window - 1

    def _features(self, x: np.ndarray) -> np.ndarray:
        z = (x - self.mean_) / self.std_
        means = trailing_mean(z, self.window)
        if not self.window_std:
            return means
        var = trailing_mean(z**2, self.window) - means**2
        return np.hstack([means, np.sqrt(np.maximum(var, 0.0))])

    def fit(self, normal: np.ndarray, false_alarm_rate: float) -> WindowMahalanobis:
        if len(normal) <= self.window + 2:
            raise ValueError("need more normal rows than the window")
        self.width_ = normal.shape[1]
        selected = normal
        self.mean_ = selected.mean(axis=0)
        self.std_ = selected.std(axis=0) + _EPS
        feats = self._features(normal)[self.history :]  # full windows only
        self.center_ = feats.mean(axis=0)
        from sklearn.covariance import LedoitWolf  # slow to import: only when fitted

        self.precision_ = np.linalg.inv(LedoitWolf().fit(feats).covariance_)
        self.threshold_ = _threshold(self._distance(feats), false_alarm_rate, self.margin)
        return self

    def _distance(self, feats: np.ndarray) -> np.ndarray:
        d = feats - self.center_
        return np.einsum("ij,jk,ik->i", d, self.precision_, d)

    def score(self, x: np.ndarray) -> np.ndarray:
        return self._distance(self._features(x)) / self.threshold_

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Reconstruction-based contributions (Alcala and Qin 2009), (P d)_j^2 / P_jj, summed
        over a sensor's features and rescaled so that each row sums to that row's score."""
        feats = self._features(x)
        d = feats - self.center_
        rbc = (d @ self.precision_) ** 2 / np.diag(self.precision_)
        k = len(self.mean_)
        if self.window_std:
            rbc = rbc[:, :k] + rbc[:, k:]
        total = rbc.sum(axis=1, keepdims=True)
        shares = np.divide(rbc, total, out=np.zeros_like(rbc), where=total > 0)
        shares *= self.score(x)[:, None]
        return shares


def summary_features(x: np.ndarray, window: int) -> np.ndarray:
    """(samples, variables * 6) trailing-window median, mean, std, var, max, min.

    Causal: row i summarises rows max(0, i-window+1)..i (the first rows use what exists).
    Feature order is feature-major: all medians, then all means, ...
    """
    frame = pd.DataFrame(x)
    roll = frame.rolling(window, min_periods=1)
    std = roll.std(ddof=0).fillna(0.0)
    parts = [roll.median(), roll.mean(), std, std**2, roll.max(), roll.min()]
    return np.hstack([p.to_numpy(dtype=float) for p in parts])


class _WindowDetector(Detector):
    """Shared plumbing: NaN filling, window features, robust scaling, threshold calibration."""

    name: ClassVar[str] = "window"
    statistic: ClassVar[str] = "window-feature score / threshold"

    def __init__(self, window: int = 60, smooth: int = 1, margin: float = 1.0) -> None:
        self.window = window
        self.smooth = smooth
        self.margin = margin
        self.history = window + smooth - 2
        self.fill_: np.ndarray = np.zeros(0)
        self.center_: np.ndarray = np.zeros(0)
        self.scale_: np.ndarray = np.zeros(0)
        self.threshold_ = 1.0
        self.n_vars_ = 0

    def _scaled_features(self, x: np.ndarray) -> np.ndarray:
        feats = summary_features(x, self.window)
        return (feats - self.center_) / self.scale_

    def _fit_scaling(self, normal: np.ndarray) -> np.ndarray:
        normal = np.asarray(normal, dtype=float)
        self.n_vars_ = normal.shape[1]
        self.fill_ = np.nanmedian(normal, axis=0)
        self.fill_ = np.where(np.isfinite(self.fill_), self.fill_, 0.0)
        feats = summary_features(normal, self.window)
        self.center_ = np.median(feats, axis=0)
        mad = 1.4826 * np.median(np.abs(feats - self.center_), axis=0)
        std = feats.std(axis=0)
        # Floor the scale at 0.1 % of the variable's level (squared for the variance): a
        # feature that never moves in training must not turn sensor noise into huge scores.
        level = np.maximum(1e-3 * np.abs(self.fill_), 1e-9)
        floor = np.concatenate([level if f != "var" else level**2 for f in FEATURES])
        self.scale_ = np.maximum(np.maximum(mad, std), floor)
        return (feats - self.center_) / self.scale_

    def _raw_score(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _calibrate(self, train_scores: np.ndarray, false_alarm_rate: float) -> None:
        q = float(np.quantile(train_scores, 1.0 - false_alarm_rate))
        self.threshold_ = max(q, 1e-12) * self.margin

    def fit(self, normal: np.ndarray, false_alarm_rate: float) -> _WindowDetector:
        z = self._fit_scaling(normal)
        self._calibrate(trailing_mean(self._raw_score(z), self.smooth), false_alarm_rate)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        raw = self._raw_score(self._scaled_features(x))
        return trailing_mean(raw, self.smooth) / self.threshold_

    def contributions(self, x: np.ndarray) -> np.ndarray:
        z2 = self._scaled_features(x) ** 2
        per_var = z2.reshape(len(z2), len(FEATURES), self.n_vars_).sum(axis=1)
        total = per_var.sum(axis=1, keepdims=True)
        return np.divide(per_var, total, out=np.zeros_like(per_var), where=total > 0)


class IsolationForestDetector(_WindowDetector):
    """Vargas et al. (2019) baseline: Isolation Forest on z-scored window features.

    `false_alarm_rate=0` reproduces their `contamination=0` (threshold at the most anomalous
    training window); a positive rate puts the threshold at that training quantile.
    """

    name: ClassVar[str] = "isolation_forest"
    statistic: ClassVar[str] = "Isolation Forest anomaly score above the normal median / threshold"

    def __init__(
        self, window: int = 60, smooth: int = 1, margin: float = 1.0, seed: int = 1
    ) -> None:
        super().__init__(window, smooth, margin)
        self.seed = seed
        self.forest_: IsolationForest | None = None

    def _fit_scaling(self, normal: np.ndarray) -> np.ndarray:
        # Vargas z-score the features with mean/std (not median/MAD).
        normal = np.asarray(normal, dtype=float)
        self.n_vars_ = normal.shape[1]
        self.fill_ = np.nanmedian(normal, axis=0)
        self.fill_ = np.where(np.isfinite(self.fill_), self.fill_, 0.0)
        feats = summary_features(normal, self.window)
        self.center_ = feats.mean(axis=0)
        std = feats.std(axis=0)
        self.scale_ = np.where(std > 0, std, 1.0)
        return (feats - self.center_) / self.scale_

    def fit(self, normal: np.ndarray, false_alarm_rate: float) -> IsolationForestDetector:
        z = self._fit_scaling(normal)
        from sklearn.ensemble import IsolationForest  # slow to import: only when fitted

        self.forest_ = IsolationForest(n_estimators=100, random_state=self.seed, n_jobs=1)
        self.forest_.fit(z)
        self._calibrate(trailing_mean(self._raw_score(z), self.smooth), false_alarm_rate)
        return self

    def _raw_score(self, z: np.ndarray) -> np.ndarray:
        assert self.forest_ is not None, "fit first"
        return -self.forest_.score_samples(z)

    def _calibrate(self, train_scores: np.ndarray, false_alarm_rate: float) -> None:
        # IF scores are ~0.3..0.8; calibrate on the excess over the typical normal score so
        # that dividing by the threshold is meaningful.
        self.offset_ = float(np.median(train_scores))
        q = float(np.quantile(train_scores, 1.0 - false_alarm_rate))
        self.threshold_ = max(q - self.offset_, 1e-12) * self.margin

    def score(self, x: np.ndarray) -> np.ndarray:
        raw = trailing_mean(self._raw_score(self._scaled_features(x)), self.smooth)
        return np.maximum(raw - self.offset_, 0.0) / self.threshold_


class RobustZDetector(_WindowDetector):
    """Largest robust z-score over all window features (median/MAD of the training windows),
    smoothed by a trailing mean; threshold = training quantile times a fixed margin."""

    name: ClassVar[str] = "robust_z"
    statistic: ClassVar[str] = "largest robust z-score of window features / threshold"

    def _raw_score(self, z: np.ndarray) -> np.ndarray:
        return np.abs(z).max(axis=1)

"""Dynamic subspace detectors with moving-window statistics: CVA and dynamic PCA.

Both are trained on normal operation only and score causally (row i uses rows i-history..i):

* `CvaDetector`: canonical variate analysis (Larimore; Russell, Chiang and Braatz 2000).
  The past vector p_t = [z_t, z_{t-1}, .., z_{t-p+1}] of standardised samples is whitened
  and rotated onto its canonical correlations with the future [z_{t+1}, .., z_{t+f}]; the
  first k canonical variates are the state (T2_s = |J p_t|^2) and the rest the residual
  (T2_r = |L p_t|^2). Only the past is needed to score, so the detector is causal.
* `DpcaMwDetector`: dynamic PCA (each sample with `lags` predecessors) with Hotelling's T2 and
  SPE.

Both statistics are smoothed by a causal trailing mean over `window` rows (moving-window
statistics) and combined as max(stat_1 / scale_1, stat_2 / scale_2). Scales and the alarm
threshold are quantiles of out-of-fold scores: the normal data are cut into contiguous blocks,
the model is fitted without a block and scores it (with the rows before it as history), so the
threshold is set on data the model has not seen, which in-sample limits understate.
"""

from __future__ import annotations

from abc import abstractmethod
from itertools import pairwise
from typing import ClassVar

import numpy as np

from odlar.energy.faults.detectors import Detector, trailing_mean
from odlar.energy.faults.evaluation import lagged
from odlar.energy.faults.pca_detector import causal_lagged


def _inverse_sqrt(cov: np.ndarray, ridge: float) -> np.ndarray:
    """Symmetric inverse square root with a ridge relative to the mean variance."""
    size = len(cov)
    values, vectors = np.linalg.eigh(cov + ridge * np.trace(cov) / size * np.eye(size))
    return (vectors / np.sqrt(np.maximum(values, 1e-12))) @ vectors.T


class _Model:
    """A fitted normal model: two raw statistics per row and their contributions."""

    def __init__(self, normal: np.ndarray) -> None:
        self.mean = normal.mean(axis=0)
        self.std = normal.std(axis=0, ddof=1)
        self.std[self.std == 0] = 1.0

    def standardise(self, x: np.ndarray) -> np.ndarray:
        return (x - self.mean) / self.std

    @abstractmethod
    def statistics(self, x: np.ndarray) -> np.ndarray:
        """(samples, 2) raw statistics, causal."""

    @abstractmethod
    def contributions(self, x: np.ndarray) -> np.ndarray:
        """(samples, 2, lagged variables) non-negative contributions to each statistic."""


class _CvaModel(_Model):
    def __init__(self, normal: np.ndarray, past: int, future: int, states: int, ridge: float):
        super().__init__(normal)
        z = self.standardise(normal)
        n = len(z)
        self.past = past
        rows = n - past + 1 - future  # t = past-1 .. n-1-future
        if rows < z.shape[1] * past:
            raise ValueError("too few normal samples for these past/future horizons")
        past_vectors = lagged(z, past - 1)[:rows]
        future_vectors = np.hstack([z[past + j : past + j + rows] for j in range(future)])
        pp = np.cov(past_vectors, rowvar=False)
        ff = np.cov(future_vectors, rowvar=False)
        fp = (future_vectors - future_vectors.mean(0)).T @ (past_vectors - past_vectors.mean(0))
        fp /= rows - 1
        root_p = _inverse_sqrt(pp, ridge)
        _, _, vt = np.linalg.svd(_inverse_sqrt(ff, ridge) @ fp @ root_p)
        k = min(states, len(vt) - 1)
        self.state = vt[:k] @ root_p  # (k, m * past)
        self.residual = vt[k:] @ root_p
        self.gram = (self.state.T @ self.state, self.residual.T @ self.residual)

    def statistics(self, x: np.ndarray) -> np.ndarray:
        p = causal_lagged(self.standardise(x), self.past - 1)
        return np.column_stack(
            [((p @ self.state.T) ** 2).sum(axis=1), ((p @ self.residual.T) ** 2).sum(axis=1)]
        )

    def contributions(self, x: np.ndarray) -> np.ndarray:
        # complete decomposition p_i (G p)_i of the quadratic form p' G p, negatives clipped
        p = causal_lagged(self.standardise(x), self.past - 1)
        return np.stack([np.clip(p * (p @ g), 0, None) for g in self.gram], axis=1)


class _DpcaModel(_Model):
    def __init__(self, normal: np.ndarray, lags: int, variance: float, components: int | None):
        super().__init__(normal)
        z = lagged(self.standardise(normal), lags)
        values, vectors = np.linalg.eigh(np.cov(z, rowvar=False))
        order = np.argsort(values)[::-1]
        values, vectors = values[order], vectors[:, order]
        k = components or int(np.searchsorted(np.cumsum(values) / values.sum(), variance) + 1)
        k = min(k, z.shape[1] - 1)
        self.lags = lags
        self.loadings, self.eigenvalues = vectors[:, :k], values[:k]
        half = self.loadings / np.sqrt(self.eigenvalues)
        self.t2_matrix = half @ half.T

    def statistics(self, x: np.ndarray) -> np.ndarray:
        z = causal_lagged(self.standardise(x), self.lags)
        scores = z @ self.loadings
        residual = z - scores @ self.loadings.T
        return np.column_stack(
            [(scores**2 / self.eigenvalues).sum(axis=1), (residual**2).sum(axis=1)]
        )

    def contributions(self, x: np.ndarray) -> np.ndarray:
        z = causal_lagged(self.standardise(x), self.lags)
        residual = z - (z @ self.loadings) @ self.loadings.T
        return np.stack([np.clip(z * (z @ self.t2_matrix), 0, None), residual**2], axis=1)


class _SmoothedTwoStatistic(Detector):
    """Two raw statistics, trailing-mean smoothed, scaled and combined by max; threshold from
    out-of-fold normal scores."""

    lags: int
    window: int
    folds: int
    margin: float

    def __init__(self) -> None:
        self.model: _Model | None = None
        self.scale = np.ones(2)
        self.threshold = 1.0

    @abstractmethod
    def _fit_model(self, normal: np.ndarray) -> _Model: ...

    def _smoothed(self, model: _Model, x: np.ndarray) -> np.ndarray:
        return trailing_mean(model.statistics(x), self.window)

    def out_of_fold(self, normal: np.ndarray) -> np.ndarray:
        """(samples, 2) smoothed statistics of each normal block from a model fitted on the
        other blocks; rows before the block serve as history, the first block's warm-up rows
        are dropped."""
        edges = np.linspace(0, len(normal), self.folds + 1).astype(int)
        out = []
        for start, stop in pairwise(edges):
            model = self._fit_model(np.vstack([normal[:start], normal[stop:]]))
            block = self._smoothed(model, normal[:stop])[start:]
            out.append(block[self.history :] if start == 0 else block)
        return np.vstack(out)

    def fit(self, normal: np.ndarray, false_alarm_rate: float) -> _SmoothedTwoStatistic:
        if not 0 < false_alarm_rate < 1:
            raise ValueError("false_alarm_rate must be between 0 and 1")
        normal = np.asarray(normal, float)
        oof = self.out_of_fold(normal)
        level = 1 - false_alarm_rate
        self.scale = np.quantile(oof, level, axis=0)
        self.threshold = float(np.quantile((oof / self.scale).max(axis=1), level)) * self.margin
        self.model = self._fit_model(normal)
        self.variables = normal.shape[1]
        return self

    def _normalised(self, x: np.ndarray) -> np.ndarray:
        assert self.model is not None, "fit first"
        return self._smoothed(self.model, np.asarray(x, float)) / self.scale / self.threshold

    def score(self, x: np.ndarray) -> np.ndarray:
        return self._normalised(x).max(axis=1)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Shares of the variables in the dominant smoothed statistic of each row; lagged
        copies of a variable are summed back onto it."""
        assert self.model is not None, "fit first"
        x = np.asarray(x, float)
        dominant = self._normalised(x).argmax(axis=1)
        parts = trailing_mean(self.model.contributions(x), self.window)  # (n, 2, m * lags)
        chosen = parts[np.arange(len(x)), dominant]
        per_var = chosen.reshape(len(x), self.lags + 1, self.variables).sum(axis=1)
        return per_var / np.maximum(per_var.sum(axis=1, keepdims=True), 1e-12)


class CvaDetector(_SmoothedTwoStatistic):
    """Canonical variate analysis with moving-window T2_s (states) and T2_r (residual)."""

    name: ClassVar[str] = "cva"
    statistic: ClassVar[str] = "moving-window T2 of CVA states and residuals / threshold"

    def __init__(
        self,
        past: int = 3,
        future: int = 3,
        states: int = 30,
        window: int = 10,
        ridge: float = 0.0017,
        folds: int = 5,
        margin: float = 1.0,
    ) -> None:
        super().__init__()
        self.past, self.future, self.states, self.ridge = past, future, states, ridge
        self.window, self.folds, self.margin = window, folds, margin
        self.lags = past - 1
        self.history = self.lags + window - 1

    def _fit_model(self, normal: np.ndarray) -> _Model:
        return _CvaModel(normal, self.past, self.future, self.states, self.ridge)


class DpcaMwDetector(_SmoothedTwoStatistic):
    """Dynamic PCA with moving-window T2 and SPE."""

    name: ClassVar[str] = "dpca_mw"
    statistic: ClassVar[str] = "moving-window T2 and SPE of dynamic PCA / threshold"

    def __init__(
        self,
        lags: int = 2,
        variance: float = 0.95,
        components: int | None = None,
        window: int = 10,
        folds: int = 5,
        margin: float = 1.0,
    ) -> None:
        super().__init__()
        self.lags, self.variance, self.components = lags, variance, components
        self.window, self.folds, self.margin = window, folds, margin
        self.history = lags + window - 1

    def _fit_model(self, normal: np.ndarray) -> _Model:
        return _DpcaModel(normal, self.lags, self.variance, self.components)

"""Moving-window variance detector: a change in how much each variable moves.

Level and correlation statistics (PCA, CVA) see a variable that leaves its normal range or
its normal relations with the others. They are slow to see one that stops moving: a valve
stuck at its steady-state position (TEP fault 21) stays inside its normal range, and the
broken control loop shows in the other variables only much later. The log of each
standardised variable's variance over a trailing window, compared with its normal spread,
sees it as soon as the window is full.

The score of a row is max_j |(log v_j - c_j) / s_j| over the variables j, where v_j is the
variance over the last `window` rows and c_j, s_j the mean and standard deviation of log v_j
on normal data. Rows with fewer than `window` rows behind them score 0 (nothing to judge).
The threshold is a quantile of out-of-fold scores on contiguous blocks of the normal data,
as for the subspace detectors.
"""

from __future__ import annotations

from itertools import pairwise
from typing import ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from odlar.energy.faults.detectors import Detector

#: Floor of a window variance, in units of the variable's normal variance: a frozen reading
#: scores as a variance this small rather than log(0).
VARIANCE_FLOOR = 1e-6


class _LogVariance:
    """Per-variable log window variance of standardised data, centred and scaled on normal."""

    def __init__(self, normal: np.ndarray, window: int) -> None:
        self.window = window
        self.mean = normal.mean(axis=0)
        std = normal.std(axis=0, ddof=1)
        self.std = np.where(std > 0, std, 1.0)
        logs = self.log_variance(normal)[window - 1 :]
        self.centre = logs.mean(axis=0)
        spread = logs.std(axis=0, ddof=1)
        # a variable that never moved in normal operation cannot tell anything: weight 0
        self.weight = np.where(spread > 0, 1.0 / np.where(spread > 0, spread, 1.0), 0.0)

    def log_variance(self, x: np.ndarray) -> np.ndarray:
        """(samples, variables); the first window - 1 rows are NaN."""
        z = (x - self.mean) / self.std
        out = np.full(z.shape, np.nan)
        if len(z) >= self.window:
            variance = sliding_window_view(z, self.window, axis=0).var(axis=-1)
            out[self.window - 1 :] = np.log(np.maximum(variance, VARIANCE_FLOOR))
        return out

    def deviations(self, x: np.ndarray) -> np.ndarray:
        """(samples, variables) |standardised log variance|, 0 where the window is not full."""
        return np.nan_to_num(np.abs(self.log_variance(x) - self.centre) * self.weight)


class LogVarianceDetector(Detector):
    name: ClassVar[str] = "log_variance"
    statistic: ClassVar[str] = "largest standardised log window variance / threshold"

    def __init__(self, window: int = 10, folds: int = 5) -> None:
        if window < 2:
            raise ValueError("window must be at least 2 samples")
        self.window, self.folds = window, folds
        self.history = window - 1
        self.model: _LogVariance | None = None
        self.threshold = 1.0

    def out_of_fold(self, normal: np.ndarray) -> np.ndarray:
        """Scores of each normal block from a model fitted on the other blocks (rows before
        the block serve as history; the first block's unfilled windows are dropped)."""
        edges = np.linspace(0, len(normal), self.folds + 1).astype(int)
        out = []
        for start, stop in pairwise(edges):
            model = _LogVariance(np.vstack([normal[:start], normal[stop:]]), self.window)
            block = model.deviations(normal[:stop]).max(axis=1)[start:]
            out.append(block[self.history :] if start == 0 else block)
        return np.concatenate(out)

    def fit(self, normal: np.ndarray, false_alarm_rate: float) -> LogVarianceDetector:
        if not 0 < false_alarm_rate < 1:
            raise ValueError("false_alarm_rate must be between 0 and 1")
        normal = np.asarray(normal, float)
        if len(normal) < self.folds * self.window * 2:
            raise ValueError("too few normal samples for this window")
        limit = np.quantile(self.out_of_fold(normal), 1 - false_alarm_rate)
        self.threshold = max(float(limit), 1e-9)
        self.model = _LogVariance(normal, self.window)
        return self

    def score(self, x: np.ndarray) -> np.ndarray:
        assert self.model is not None, "fit first"
        return self.model.deviations(np.asarray(x, float)).max(axis=1) / self.threshold

    def contributions(self, x: np.ndarray) -> np.ndarray:
        assert self.model is not None, "fit first"
        dev = self.model.deviations(np.asarray(x, float))
        return dev / np.maximum(dev.sum(axis=1, keepdims=True), 1e-12)

"""Fault detectors trained on normal operation only, behind one interface.

Every detector scores each sample causally: the score of row i depends on rows i-history..i
only, so a live monitor that keeps the last `history` rows gives the same scores as a batch
run over the whole stream. Scores are normalised so that the alarm threshold is 1.0; the
threshold is calibrated from normal data at a stated false-alarm rate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

#: Scores are divided by the calibrated threshold: a sample alarms when its score exceeds 1.
THRESHOLD = 1.0


class Detector(ABC):
    name: ClassVar[str]
    #: What the score measures, as shown on alerts.
    statistic: ClassVar[str]
    #: How many previous rows scoring one row needs (lags, trailing windows).
    history: int = 0

    @abstractmethod
    def fit(self, normal: np.ndarray, false_alarm_rate: float) -> Detector:
        """Learn normal behaviour from (samples, variables) of finite floats and calibrate the
        threshold so that about `false_alarm_rate` of normal samples alarm."""

    @abstractmethod
    def score(self, x: np.ndarray) -> np.ndarray:
        """(samples,) causal anomaly scores, already divided by the threshold."""

    @abstractmethod
    def contributions(self, x: np.ndarray) -> np.ndarray:
        """(samples, variables) non-negative share of each variable in each sample's score."""


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Causal moving average along axis 0; the first rows average what exists so far."""
    if window <= 1:
        return values
    csum = np.cumsum(values, axis=0)
    out = csum.copy()
    out[window:] = csum[window:] - csum[:-window]
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    return out / counts.reshape((-1,) + (1,) * (values.ndim - 1))

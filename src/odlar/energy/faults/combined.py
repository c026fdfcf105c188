"""Detectors combined by max, each at its share of the false-alarm budget.

A smoothed statistic is sensitive to small shifts but late to alarm; an unsmoothed one is
early on large shifts; a variance statistic sees a variable that stops moving. Each part is
calibrated on normal data at `false_alarm_rate * share` and the combined score is the largest
part's score, so the combined false-alarm rate on normal data is at most the budget (union
bound) and a fault alarms as soon as the fastest part sees it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from odlar.energy.faults.detectors import Detector
from odlar.energy.faults.subspace import CvaDetector
from odlar.energy.faults.variance import LogVarianceDetector


class CombinedDetector(Detector):
    name: ClassVar[str] = "combined"
    statistic: ClassVar[str] = "largest of the parts' scores, each at its share of the budget"

    def __init__(self, parts: list[tuple[Detector, float]]) -> None:
        if not parts or abs(sum(s for _, s in parts) - 1) > 1e-9:
            raise ValueError("the parts' shares of the false-alarm budget must add up to 1")
        self.parts = parts
        self.history = max(d.history for d, _ in parts)

    def fit(self, normal: np.ndarray, false_alarm_rate: float) -> CombinedDetector:
        for detector, share in self.parts:
            detector.fit(normal, false_alarm_rate * share)
        return self

    def part_scores(self, x: np.ndarray) -> np.ndarray:
        """(samples, parts) each part's normalised score."""
        return np.column_stack([d.score(x) for d, _ in self.parts])

    def score(self, x: np.ndarray) -> np.ndarray:
        return self.part_scores(x).max(axis=1)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """The contributions of the part with the largest score on each row."""
        leading = self.part_scores(x).argmax(axis=1)
        out = np.zeros((len(x), np.asarray(x).shape[1]))
        for k, (detector, _) in enumerate(self.parts):
            rows = leading == k
            if rows.any():
                out[rows] = detector.contributions(x)[rows]
        return out


class EarlyCvaDetector(CombinedDetector):
    """CVA unsmoothed (early on large shifts), CVA over a moving window (small shifts) and
    the moving-window log variance (a variable that stops moving), a third of the budget
    each."""

    name: ClassVar[str] = "cva_early"
    statistic: ClassVar[str] = (
        "largest of CVA T2, moving-window CVA T2 and window log variance / thresholds"
    )

    def __init__(
        self,
        past: int = 3,
        future: int = 3,
        states: int = 30,
        window: int = 10,
        variance_window: int = 10,
        ridge: float = 0.0017,
        folds: int = 5,
    ) -> None:
        cva = {"past": past, "future": future, "states": states, "ridge": ridge, "folds": folds}
        super().__init__(
            [
                (CvaDetector(window=1, **cva), 1 / 3),
                (CvaDetector(window=window, **cva), 1 / 3),
                (LogVarianceDetector(variance_window, folds), 1 / 3),
            ]
        )

"""Cross-conformal (CV+) prediction intervals, Mondrian by predicted RUL.

Each ensemble member is trained on K-1 folds of units; its held-out units, cut at random
cycles, give residuals (true - member's prediction). For a new unit in a bin of predicted
RUL, the interval is the pair of conformal quantiles of {prediction of member k(i) + residual
i} over the calibration points i of that bin (CV+, Barber et al. 2021), so a unit near
failure gets a narrow band and a young unit a wide one. Any level is available at
prediction time from the stored residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class CrossConformal:
    edges: np.ndarray  # inner bin edges on the predicted RUL
    residuals: np.ndarray  # true - held-out member's prediction, per calibration point
    member: np.ndarray  # index of the member that predicted each calibration point
    bins: np.ndarray  # bin of each calibration point

    @classmethod
    def fit(
        cls, predicted: np.ndarray, truth: np.ndarray, member: np.ndarray, edges: np.ndarray
    ) -> CrossConformal:
        predicted = np.asarray(predicted, float)
        edges = np.unique(np.asarray(edges, float))
        return cls(
            edges=edges,
            residuals=np.asarray(truth, float) - predicted,
            member=np.asarray(member, int),
            bins=np.searchsorted(edges, predicted, side="right"),
        )

    def interval(self, member_preds: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """member_preds: (members, units). Equal-tailed CV+ interval at `level`; lower >= 0."""
        member_preds = np.atleast_2d(np.asarray(member_preds, float))
        alpha = 1.0 - level
        point = member_preds.mean(axis=0)
        which = np.searchsorted(self.edges, point, side="right")
        lower, upper = np.empty_like(point), np.empty_like(point)
        for b in np.unique(which):
            cal = self.bins == b
            if cal.sum() < 2:  # an empty bin falls back to all calibration points
                cal = np.ones_like(cal)
            cols = np.flatnonzero(which == b)
            # (calibration points, units): member k(i)'s prediction plus residual i
            values = member_preds[self.member[cal]][:, cols] + self.residuals[cal][:, None]
            values.sort(axis=0)
            n = values.shape[0]
            k_lo = max(int(np.floor(alpha / 2 * (n + 1))) - 1, 0)
            k_hi = min(int(np.ceil((1 - alpha / 2) * (n + 1))) - 1, n - 1)
            lower[cols], upper[cols] = values[k_lo], values[k_hi]
        return np.maximum(lower, 0.0), upper

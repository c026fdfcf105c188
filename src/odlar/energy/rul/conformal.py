"""Split-conformal prediction intervals, Mondrian by predicted RUL.

Residuals (true - predicted) of held-out units are kept per bin of the predicted RUL, so a
unit near failure gets a narrow band and a young unit a wide one; any level is available
at prediction time from the stored residuals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ConformalBands:
    edges: np.ndarray  # inner bin edges on the predicted RUL
    residuals: list[np.ndarray]  # sorted (true - predicted) per bin

    @classmethod
    def fit(
        cls, predicted: np.ndarray, truth: np.ndarray, bins: int = 4, min_per_bin: int = 50
    ) -> ConformalBands:
        predicted, truth = np.asarray(predicted, float), np.asarray(truth, float)
        bins = max(1, min(bins, len(predicted) // max(min_per_bin, 1)))
        edges = (
            np.quantile(predicted, np.linspace(0, 1, bins + 1)[1:-1]) if bins > 1 else np.array([])
        )
        edges = np.unique(edges)
        which = np.searchsorted(edges, predicted, side="right")
        residuals = [
            np.sort(truth[which == b] - predicted[which == b]) for b in range(len(edges) + 1)
        ]
        return cls(edges=edges, residuals=residuals)

    def interval(self, predicted: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
        """Equal-tailed interval at `level`, with the finite-sample correction; lower >= 0."""
        predicted = np.asarray(predicted, float)
        alpha = 1.0 - level
        which = np.searchsorted(self.edges, predicted, side="right")
        lower, upper = np.empty_like(predicted), np.empty_like(predicted)
        for b, res in enumerate(self.residuals):
            mask = which == b
            if not mask.any():
                continue
            lo, hi = _quantiles(res, alpha)
            lower[mask], upper[mask] = predicted[mask] + lo, predicted[mask] + hi
        return np.maximum(lower, 0.0), upper


def _quantiles(sorted_res: np.ndarray, alpha: float) -> tuple[float, float]:
    n = len(sorted_res)
    k_hi = int(np.ceil((n + 1) * (1 - alpha / 2))) - 1
    k_lo = int(np.floor((n + 1) * (alpha / 2))) - 1
    hi = sorted_res[min(k_hi, n - 1)]
    lo = sorted_res[max(k_lo, 0)]
    return float(lo), float(hi)

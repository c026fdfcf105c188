"""PCA with T2 and SPE behind the Detector interface: the published baseline.

With `lags` > 0 it is dynamic PCA (each sample with its predecessors); with the default
`lags=0` and limits at confidence 1 - false_alarm_rate it is exactly the Yin et al. (2012)
protocol. The score is max(T2 / T2 limit, SPE / SPE limit), so it alarms above 1 exactly
when either statistic exceeds its limit.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from odlar.energy.faults.detectors import Detector
from odlar.energy.faults.evaluation import lagged
from odlar.energy.faults.pca import PcaMonitor


def causal_lagged(x: np.ndarray, lags: int) -> np.ndarray:
    """`lagged` with the first row repeated in front, so every input row gets an output row."""
    if lags == 0:
        return x
    return lagged(np.vstack([np.repeat(x[:1], lags, axis=0), x]), lags)


class PcaDetector(Detector):
    name: ClassVar[str] = "pca"
    statistic: ClassVar[str] = "max(T2 / T2 limit, SPE / SPE limit)"

    def __init__(self, components: int = 9, lags: int = 0) -> None:
        self.components, self.lags = components, lags
        self.history = lags
        self.monitor: PcaMonitor | None = None

    def fit(self, normal: np.ndarray, false_alarm_rate: float) -> PcaDetector:
        x = lagged(normal, self.lags)
        k = min(self.components, x.shape[1] - 1)
        self.monitor = PcaMonitor.fit(x, k, confidence=1 - false_alarm_rate)
        self.variables = normal.shape[1]
        return self

    def _statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        assert self.monitor is not None, "fit first"
        t2, spe = self.monitor.statistics(causal_lagged(x, self.lags))
        return t2 / self.monitor.t2_limit, spe / self.monitor.spe_limit

    def score(self, x: np.ndarray) -> np.ndarray:
        t2, spe = self._statistics(x)
        return np.maximum(t2, spe)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Contribution plot of the statistic that dominates each sample; lagged copies of a
        variable are summed back onto it."""
        assert self.monitor is not None, "fit first"
        t2, spe = self._statistics(x)
        t2_c, spe_c = self.monitor.contributions(causal_lagged(x, self.lags))
        chosen = np.where((t2 >= spe)[:, None], np.clip(t2_c, 0, None), spe_c)
        per_var = chosen.reshape(len(x), self.lags + 1, self.variables).sum(axis=1)
        return per_var / np.maximum(per_var.sum(axis=1, keepdims=True), 1e-12)

"""PCA process monitoring with Hotelling's T2 and SPE (Q) statistics.

Limits as in the classic protocol (Yin et al. 2012): T2 from the F distribution, SPE from
Jackson and Mudholkar (1979); a sample alarms if either statistic exceeds its limit.
Trained on normal operation only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class PcaMonitor:
    mean: np.ndarray
    std: np.ndarray
    loadings: np.ndarray  # (variables, k) retained principal directions
    eigenvalues: np.ndarray  # variances of the retained components
    t2_limit: float
    spe_limit: float

    @classmethod
    def fit(cls, normal: np.ndarray, components: int, confidence: float = 0.99) -> PcaMonitor:
        from scipy import stats  # slow to import: only when fitted, not when registered

        n, m = normal.shape
        if not 0 < components < m:
            raise ValueError(f"components must be between 1 and {m - 1}")
        mean, std = normal.mean(axis=0), normal.std(axis=0, ddof=1)
        z = (normal - mean) / std
        eigenvalues, vectors = np.linalg.eigh(np.cov(z, rowvar=False))
        order = np.argsort(eigenvalues)[::-1]
        eigenvalues, vectors = eigenvalues[order], vectors[:, order]
        k = components
        t2_limit = k * (n - 1) * (n + 1) / (n * (n - k)) * stats.f.ppf(confidence, k, n - k)
        rest = eigenvalues[k:]
        theta1, theta2, theta3 = rest.sum(), (rest**2).sum(), (rest**3).sum()
        h0 = 1 - 2 * theta1 * theta3 / (3 * theta2**2)
        c = stats.norm.ppf(confidence)
        spe_limit = theta1 * (
            c * np.sqrt(2 * theta2 * h0**2) / theta1 + 1 + theta2 * h0 * (h0 - 1) / theta1**2
        ) ** (1 / h0)
        return cls(mean, std, vectors[:, :k], eigenvalues[:k], float(t2_limit), float(spe_limit))

    def statistics(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """T2 and SPE of each sample (rows of x)."""
        z = (x - self.mean) / self.std
        scores = z @ self.loadings
        t2 = np.sum(scores**2 / self.eigenvalues, axis=1)
        residual = z - scores @ self.loadings.T
        return t2, np.sum(residual**2, axis=1)

    def alarms(self, x: np.ndarray) -> np.ndarray:
        t2, spe = self.statistics(x)
        return (t2 > self.t2_limit) | (spe > self.spe_limit)

    def contributions(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-variable contributions (samples, variables) to SPE (squared residuals) and to
        T2 (complete decomposition, Alcala and Qin 2009); each row sums to its statistic."""
        z = (x - self.mean) / self.std
        residual = z - (z @ self.loadings) @ self.loadings.T
        half = self.loadings / np.sqrt(self.eigenvalues)  # D^(1/2) = P diag(1/sqrt(l)) P^T
        t2_contrib = (z @ half @ half.T) * z
        return t2_contrib, residual**2

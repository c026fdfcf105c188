"""Which sensors a detector trained on a short normal stretch can bound: a label-free rule.

A detector trained on a few hundred normal rows learns each sensor's range from them. A
sensor that spends that stretch drifting (a temperature warming up) has not shown its normal
range yet: whatever it does next leaves the learnt range, fault or not, and its alarms drown
the others'. Such a sensor is recognised on the training rows alone: most of its variance is
slow, i.e. survives a moving average. The rule drops a sensor when the variance of its
`SLOW_WINDOW`-sample moving average exceeds `share` of its variance; white noise keeps about
1 / SLOW_WINDOW of its variance through the average, a steady drift nearly all of it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

#: Samples in the moving average that separates slow from fast variation.
SLOW_WINDOW = 20


def slow_shares(normal: np.ndarray, window: int = SLOW_WINDOW) -> np.ndarray:
    """(variables,) share of each column's variance left after a `window`-sample moving
    average; 0 for a constant column (nothing to drift)."""
    normal = np.asarray(normal, float)
    if len(normal) < 2 * window:
        raise ValueError(f"need at least {2 * window} rows to tell drift from noise")
    smooth = sliding_window_view(normal, window, axis=0).mean(axis=-1)
    total = normal.var(axis=0)
    return np.where(total > 0, smooth.var(axis=0) / np.where(total > 0, total, 1.0), 0.0)


def drifting(normal: np.ndarray, share: float, window: int = SLOW_WINDOW) -> np.ndarray:
    """(variables,) bool: the columns whose slow share of variance exceeds `share`."""
    return slow_shares(normal, window) > share

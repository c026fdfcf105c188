"""Detection metrics of the fault-detection protocols: detection rate, false-alarm rate and
detection delay, all on per-sample alarms."""

from __future__ import annotations

import numpy as np


def detection_rate(alarms: np.ndarray, faulty: np.ndarray) -> float:
    """Share of faulty samples that alarm."""
    faulty = np.asarray(faulty, bool)
    return float(np.asarray(alarms, bool)[faulty].mean()) if faulty.any() else float("nan")


def false_alarm_rate(alarms: np.ndarray, faulty: np.ndarray) -> float:
    """Share of normal samples that alarm."""
    normal = ~np.asarray(faulty, bool)
    return float(np.asarray(alarms, bool)[normal].mean()) if normal.any() else float("nan")


def detection_delay(alarms: np.ndarray, fault_start: int, consecutive: int = 1) -> int | None:
    """Samples from the fault's start to the first run of `consecutive` alarms (None: never).

    Requiring a run of alarms ignores isolated false alarms, as operators do."""
    after = np.asarray(alarms, bool)[fault_start:].astype(int)
    if consecutive > 1:
        runs = np.convolve(after, np.ones(consecutive, int), mode="valid")
        hits = np.flatnonzero(runs == consecutive)
    else:
        hits = np.flatnonzero(after)
    return int(hits[0]) if hits.size else None


def alert_state(alarms: np.ndarray, raise_after: int = 3, clear_after: int = 10) -> np.ndarray:
    """(samples,) bool: whether an operator's alert is open at each sample, by the rule of
    the live monitor (StreamMonitor's defaults): it opens on the `raise_after`-th
    consecutive alarm and clears on the `clear_after`-th consecutive normal sample."""
    state = np.zeros(len(alarms), bool)
    open_, alarm_run, normal_run = False, 0, 0
    for i, alarm in enumerate(np.asarray(alarms, bool)):
        alarm_run, normal_run = (alarm_run + 1, 0) if alarm else (0, normal_run + 1)
        if not open_ and alarm_run >= raise_after:
            open_ = True
        elif open_ and normal_run >= clear_after:
            open_ = False
        state[i] = open_
    return state


def alert_openings(alarms: np.ndarray, raise_after: int = 3, clear_after: int = 10) -> np.ndarray:
    """Indices of the samples at which an operator's alert opens (see `alert_state`)."""
    state = alert_state(alarms, raise_after, clear_after)
    return np.flatnonzero(state & ~np.r_[False, state[:-1]])


def operating_curve(normal: np.ndarray, faulty: list[np.ndarray]) -> dict[str, float]:
    """Mean detection rate over the faulty runs against the false-alarm rate on the normal
    run, over every threshold: the rate at 1% and 5% false alarms (%) and the area under the
    curve. Each run weighs the same, so runs of unequal length are not pooled by rows."""
    thresholds = np.unique(np.concatenate([normal, *faulty]))[::-1]
    far = 1 - np.searchsorted(np.sort(normal), thresholds, side="right") / len(normal)
    rates = [1 - np.searchsorted(np.sort(f), thresholds, side="right") / len(f) for f in faulty]
    detection = np.mean(rates, axis=0)
    far, detection = np.r_[0.0, far, 1.0], np.r_[0.0, detection, 1.0]

    def at(level: float) -> float:
        return round(100 * float(detection[far <= level + 1e-12].max()), 2)

    auc = float(np.sum(np.diff(far) * (detection[1:] + detection[:-1]) / 2))
    return {"detection_at_1pct": at(0.01), "detection_at_5pct": at(0.05), "auc": round(auc, 4)}


def lagged(x: np.ndarray, lags: int) -> np.ndarray:
    """Dynamic-PCA input: each sample with its `lags` predecessors, (n - lags, m * (lags+1))."""
    if lags == 0:
        return x
    n = len(x)
    return np.hstack([x[lags - j : n - j] for j in range(lags + 1)])

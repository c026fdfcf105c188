"""Targets, feature selection, scaling, windows and truncation for RUL models."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from odlar.core.errors import DataError


def rul_target(frame: pd.DataFrame, cap: float | None) -> np.ndarray:
    """Piecewise-linear target: cycles left until the unit's last (failure) cycle, capped."""
    last = frame.groupby("unit", sort=False)["cycle"].transform("max")
    rul = (last - frame["cycle"]).to_numpy(dtype=np.float64)
    return np.minimum(rul, cap) if cap else rul


@dataclass
class Scaler:
    """Chooses informative columns on training data and z-scores them."""

    columns: list[str]
    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, frame: pd.DataFrame, target: np.ndarray, min_corr: float) -> Scaler:
        candidates = [c for c in frame.columns if c not in ("unit", "cycle")]
        keep = []
        for c in candidates:
            x = frame[c].to_numpy(dtype=np.float64)
            if x.std() == 0 or np.unique(x).size <= 2:
                continue  # constant or quantised to two levels: no trend to learn from
            if min_corr > 0 and abs(np.corrcoef(x, target)[0, 1]) < min_corr:
                continue  # noise such as operating settings in a single-condition fleet
            keep.append(c)
        if not keep:
            keep = [c for c in candidates if frame[c].std() > 0] or candidates
        x = frame[keep].to_numpy(dtype=np.float64)
        return cls(keep, x.mean(axis=0), x.std(axis=0) + 1e-12)

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"the model needs column '{missing[0]}', which the data lacks", field=missing[0]
            )
        x = frame[self.columns].to_numpy(dtype=np.float64)
        return ((x - self.mean) / self.std).astype(np.float32)


def unit_slices(frame: pd.DataFrame) -> list[tuple[object, int, int]]:
    """(unit, start, stop) row ranges in row order; each unit's rows must be contiguous
    (see `sort_units`)."""
    units = frame["unit"].to_numpy()
    change = np.flatnonzero(units[1:] != units[:-1]) + 1
    starts, stops = np.r_[0, change], np.r_[change, len(units)]
    return [(units[s], int(s), int(e)) for s, e in zip(starts, stops, strict=True)]


def sort_units(frame: pd.DataFrame) -> pd.DataFrame:
    """Group each unit's rows together in cycle order (files may interleave units)."""
    order = pd.Index(pd.unique(frame["unit"]))
    key = order.get_indexer(frame["unit"])
    return frame.iloc[np.lexsort((frame["cycle"].to_numpy(), key))].reset_index(drop=True)


def windows_ending_at(x: np.ndarray, start: int, ends: np.ndarray, length: int) -> np.ndarray:
    """Windows of `length` rows of one unit ending at each row index in `ends` (inclusive);
    early windows are padded by repeating the unit's first row."""
    offsets = np.arange(-length + 1, 1)
    idx = np.maximum(ends[:, None] + offsets[None, :], start)
    return x[idx]


def truncations(
    frame: pd.DataFrame,
    rng: np.random.Generator,
    cuts_per_unit: int,
    min_history: int,
    rul_range: tuple[int, int],
) -> tuple[pd.DataFrame, np.ndarray]:
    """Cut run-to-failure units at random cycles, as a running fleet is cut before failure.

    The true RUL at each cut is drawn uniformly from `rul_range` (within what the unit's
    length allows, keeping at least `min_history` cycles). Returns the truncated histories
    (units renamed unit#k) and each one's true, uncapped RUL.
    """
    pieces, truth = [], []
    lo_rul, hi_rul = rul_range
    for unit, start, stop in unit_slices(frame):
        n = stop - start
        hi = min(hi_rul, n - min_history)
        if hi < lo_rul:
            continue  # too short to leave both a history and a remaining life
        for k, rul in enumerate(rng.integers(lo_rul, hi + 1, size=cuts_per_unit)):
            piece = frame.iloc[start : stop - int(rul)].copy()
            piece["unit"] = f"{unit}#{k}"
            pieces.append(piece)
            truth.append(float(rul))
    if not pieces:
        raise DataError(
            f"no unit is long enough to calibrate intervals: each needs more than "
            f"{min_history + lo_rul} cycles"
        )
    return pd.concat(pieces, ignore_index=True), np.asarray(truth)


def sequence_channels(
    x: np.ndarray, slices: list[tuple[object, int, int]], cycles: np.ndarray, baseline: int
) -> np.ndarray:
    """Inputs of the sequence model: scaled sensors, their deviation from the unit's own
    early-life baseline (mean of its first `baseline` cycles, which removes unit-to-unit
    differences of initial wear) and the cycle number / 200."""
    deviation = np.empty_like(x)
    for _unit, start, stop in slices:
        u = x[start:stop]
        deviation[start:stop] = u - u[:baseline].mean(axis=0)
    return np.hstack([x, deviation, (cycles / 200.0)[:, None]]).astype(np.float32)


def gbm_features(
    x: np.ndarray,
    slices: list[tuple[object, int, int]],
    cycles: np.ndarray,
    lags: tuple[int, ...],
    baseline: int,
) -> np.ndarray:
    """Per-row features for tree models, computed within each unit from its start: cycle,
    current values, exponentially weighted mean, mean since the start, the weighted mean
    and the mean of the last 10 cycles less the unit's early-life baseline (mean of its
    first `baseline` cycles) and, over each lag, rolling mean, standard deviation and slope."""
    blocks = []
    for _unit, start, stop in slices:
        u = pd.DataFrame(x[start:stop].astype(np.float64))
        t = pd.Series(np.arange(len(u), dtype=np.float64))
        ewm = u.ewm(alpha=0.1).mean().to_numpy()
        base = u.to_numpy()[:baseline].mean(axis=0)
        recent = u.rolling(10, min_periods=1).mean().to_numpy()
        feats = [
            cycles[start:stop, None],
            u.to_numpy(),
            ewm,
            u.expanding().mean().to_numpy(),
            ewm - base,
            recent - base,
        ]
        for k in lags:
            mean_x = u.rolling(k, min_periods=1).mean()
            mean_t = t.rolling(k, min_periods=1).mean()
            mean_xt = u.mul(t, axis=0).rolling(k, min_periods=1).mean()
            var_t = (t * t).rolling(k, min_periods=1).mean() - mean_t * mean_t
            slope = (mean_xt - mean_x.mul(mean_t, axis=0)).div(var_t.replace(0, np.nan), axis=0)
            std = u.rolling(k, min_periods=1).std().fillna(0.0)
            feats += [mean_x.to_numpy(), std.to_numpy(), slope.fillna(0.0).to_numpy()]
        blocks.append(np.hstack(feats))
    return np.vstack(blocks)


def gbm_features_last(
    x: np.ndarray,
    slices: list[tuple[object, int, int]],
    cycles: np.ndarray,
    lags: tuple[int, ...],
    baseline: int,
) -> np.ndarray:
    """`gbm_features` of each unit's last row only, in numpy: the fast path for prediction."""
    rows = []
    for _unit, start, stop in slices:
        u = x[start:stop].astype(np.float64)
        n = len(u)
        weights = 0.9 ** np.arange(n)[::-1]  # pandas ewm(alpha=0.1, adjust=True)
        ewm = weights @ u / weights.sum()
        base = u[:baseline].mean(axis=0)
        feats = [
            np.array([cycles[stop - 1]]),
            u[-1],
            ewm,
            u.mean(axis=0),
            ewm - base,
            u[-10:].mean(axis=0) - base,
        ]
        for k in lags:
            seg = u[-k:]
            m = len(seg)
            t = np.arange(n - m, n, dtype=np.float64)
            std = seg.std(axis=0, ddof=1) if m > 1 else np.zeros(u.shape[1])
            var_t = (t * t).mean() - t.mean() ** 2
            slope = (
                ((t[:, None] * seg).mean(axis=0) - t.mean() * seg.mean(axis=0)) / var_t
                if var_t > 0
                else np.zeros(u.shape[1])
            )
            feats += [seg.mean(axis=0), std, slope]
        rows.append(np.concatenate(feats))
    return np.vstack(rows)

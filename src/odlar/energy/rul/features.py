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
    """(unit, start, stop) row ranges; rows of a unit are grouped, in cycle order."""
    out = []
    for unit, idx in frame.groupby("unit", sort=False).indices.items():
        out.append((unit, int(idx[0]), int(idx[-1]) + 1))
    return out


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
    x: np.ndarray, slices: list[tuple[object, int, int]], cycles: np.ndarray, smooth: float
) -> np.ndarray:
    """Inputs of the sequence model: scaled sensors, their exponentially weighted mean
    (a causal denoiser) and the cycle number / 200, computed within each unit."""
    ewm = np.empty_like(x)
    for _unit, start, stop in slices:
        ewm[start:stop] = pd.DataFrame(x[start:stop]).ewm(alpha=smooth, adjust=False).mean()
    return np.hstack([x, ewm, (cycles / 200.0)[:, None]]).astype(np.float32)


def window_features(
    x: np.ndarray, slices: list[tuple[object, int, int]], lags: tuple[int, ...], cycles: np.ndarray
) -> np.ndarray:
    """Per-row summary features for tree models: current value, rolling mean, std and slope
    over each lag, and an exponentially weighted mean; computed within each unit."""
    blocks = []
    for _unit, start, stop in slices:
        u = x[start:stop]
        feats = [u]
        csum = np.cumsum(np.vstack([np.zeros((1, u.shape[1])), u]), axis=0)
        csq = np.cumsum(np.vstack([np.zeros((1, u.shape[1])), u * u]), axis=0)
        t = np.arange(len(u), dtype=np.float64)[:, None]
        ct = np.cumsum(np.vstack([np.zeros((1, 1)), t]), axis=0)
        ctt = np.cumsum(np.vstack([np.zeros((1, 1)), t * t]), axis=0)
        cxt = np.cumsum(np.vstack([np.zeros((1, u.shape[1])), u * t]), axis=0)
        i = np.arange(1, len(u) + 1)
        for lag in lags:
            j = np.maximum(i - lag, 0)
            n = (i - j)[:, None].astype(np.float64)
            sx, sxx = csum[i] - csum[j], csq[i] - csq[j]
            st, stt, sxt = ct[i] - ct[j], ctt[i] - ctt[j], cxt[i] - cxt[j]
            mean = sx / n
            var = np.maximum(sxx / n - mean**2, 0.0)
            denom = stt - st**2 / n
            slope = np.where(denom > 0, (sxt - st * sx / n) / np.where(denom > 0, denom, 1), 0.0)
            feats += [mean, np.sqrt(var), slope]
        # y[t] = a x[t] + (1 - a) y[t-1], started at the first reading
        feats.append(pd.DataFrame(u).ewm(alpha=0.1, adjust=False).mean().to_numpy())
        feats.append(cycles[start:stop, None])
        blocks.append(np.hstack(feats))
    return np.vstack(blocks).astype(np.float32)

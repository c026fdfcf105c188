"""Checks before a hotspot model may serve: is its error much worse in some districts than
a plain historical average's there, and how far does it run away when patrols follow it?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from odlar.safety.hotspots.forecasters import HistoricalAverage, HotspotModel


def district_of_cells(model: HotspotModel, block: int = 3) -> np.ndarray:
    """Each cell's district: blocks of `block` x `block` cells (9 km squares by default)."""
    r, c = np.divmod(np.arange(model.grid.cells), model.grid.cols)
    per_row = -(-model.grid.cols // block)
    return (r // block) * per_row + c // block


def area_errors(
    pred: np.ndarray, reference: np.ndarray, truth: np.ndarray, districts: np.ndarray
) -> list[dict[str, Any]]:
    """Per district: the model's mean absolute error over every cell-day and category, the
    reference's, and their ratio (> 1: the model is worse there than the reference)."""
    out = []
    for d in np.unique(districts):
        m = districts == d
        if truth[:, m].sum() == 0:
            continue  # no incident recorded: no error to compare
        ours = float(np.abs(pred[:, m] - truth[:, m]).mean())
        ref = float(np.abs(reference[:, m] - truth[:, m]).mean())
        out.append(
            {
                "district": int(d),
                "incidents": int(truth[:, m].sum()),
                "mae": round(ours, 4),
                "reference_mae": round(ref, 4),
                "ratio": round(ours / max(ref, 1e-9), 3),
            }
        )
    return out


def reference_means(cube: np.ndarray, targets: range) -> np.ndarray:
    ha = HistoricalAverage(30)
    return np.stack([ha.mean(cube[t - 30 : t], pd.DatetimeIndex([])) for t in targets])


def feedback_simulation(
    model: HotspotModel,
    cube: np.ndarray,
    days: pd.DatetimeIndex,
    *,
    seed: int = 0,
    horizon: int = 60,
    patrolled: float = 0.1,
    unpatrolled_recording: float = 0.5,
) -> dict[str, float]:
    """Ensign et al. (2018)'s runaway loop in small: the true daily rates are held fixed
    (the model's own forecast for the first simulated day); each day patrols go to the
    `patrolled` share of cells the model ranks highest, where every incident is recorded,
    while elsewhere only `unpatrolled_recording` of them are; the model then forecasts from
    the recorded history. Returns how much more of the model's expected incidents than of
    the true ones lie in the patrolled cells once the loop has run (1.0 = no distortion)."""
    rng = np.random.default_rng(seed)
    h = model.history_days
    t0 = cube.shape[0] - 1
    past = cube[t0 - h : t0].copy()
    true_rate = model.means(cube, days, range(t0, t0 + 1))[0].sum(axis=1)  # per cell
    k = max(1, int(round(patrolled * len(true_rate))))
    shares_recorded, shares_true = [], []
    sim_days = pd.date_range(days[t0 - h], periods=h + horizon + 1)
    for step in range(horizon):
        belief = model.forecaster.mean(past[-h:], sim_days[step : step + h + 1]).sum(axis=1)
        top = np.argsort(-belief, kind="stable")[:k]
        true_counts = rng.poisson(true_rate)
        keep = np.full(len(true_rate), unpatrolled_recording)
        keep[top] = 1.0
        recorded = rng.binomial(true_counts, keep)
        shares_recorded.append(belief[top].sum() / max(belief.sum(), 1e-9))
        shares_true.append(true_rate[top].sum() / max(true_rate.sum(), 1e-9))
        split = past[-1].sum(axis=1, keepdims=True)
        mix = np.where(split > 0, past[-1] / np.maximum(split, 1), 1.0 / past.shape[2])
        past = np.concatenate([past[1:], (recorded[:, None] * mix)[None]])
    last = slice(horizon // 2, horizon)
    return {
        "amplification": float(np.mean(shares_recorded[last]) / np.mean(shares_true[last])),
        "forecast_share_patrolled": float(np.mean(shares_recorded[last])),
        "true_share_patrolled": float(np.mean(shares_true[last])),
        "patrolled_cells": k,
    }

"""The sequence model: a GRU in PyTorch (CPU) over each origin's last `window` days, with the
planned choke per horizon beside its last state; outputs every phase and horizon at once
(log rate relative to the last flowing rate). A horizon's loss is masked where its target lies
on or after the training cutoff, so no target of the calibration window is ever learnt.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from odlar.core.tasks import Progress
from odlar.energy.production.data import MEASUREMENTS, PHASES
from odlar.energy.production.features import add_targets

DAY_CHANNELS = [
    *(f"{p}_last" for p in PHASES),
    "producing",
    "hours",
    "days_since_flow",
    *MEASUREMENTS,
]
STATIC = [
    *(f"{p}_level" for p in PHASES),
    *(f"{p}_trend" for p in PHASES),
    *(f"{p}_jump" for p in PHASES),
    "water_cut",
]


class GruNet(nn.Module):
    def __init__(self, n_channels: int, n_static: int, hidden: int, n_out: int) -> None:
        super().__init__()
        self.gru = nn.GRU(n_channels, hidden, batch_first=True)
        self.head = nn.Sequential(nn.Linear(hidden + n_static, 64), nn.ReLU(), nn.Linear(64, n_out))

    def forward(self, seq: torch.Tensor, static: torch.Tensor) -> torch.Tensor:
        _, last = self.gru(seq)
        return self.head(torch.cat([last[-1], static], dim=1))


def _arrays(
    origins: pd.DataFrame,
    horizons: tuple[int, ...],
    window: int,
    scale: dict[str, tuple[float, float]],
    training: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """(sequences, static inputs, targets, target dates, the origin rows they belong to).
    Training reads the choke that was set over each horizon and the targets; forecasting
    reads the plan already in the rows ('planned_choke') for every horizon."""
    seqs, statics, targets, dates, keys = [], [], [], [], []
    if training:
        per_h = {h: add_targets(origins, h, "actual") for h in horizons}
    else:
        per_h = {h: origins for h in horizons}
    for _well, idx in origins.groupby("well", sort=True).indices.items():
        rows = origins.iloc[idx]
        days = np.column_stack([_scaled(rows, c, scale) for c in DAY_CHANNELS])
        days = np.nan_to_num(days, nan=0.0)
        level = rows[[f"{p}_level" for p in PHASES]].to_numpy(float)
        ok = np.flatnonzero(~np.isnan(level[:, 0]))
        if len(ok) == 0:
            continue
        # days before the first row read as zeros (no flow): a young well still gets a window
        days = np.vstack([np.zeros((window - 1, days.shape[1])), days])
        win = np.lib.stride_tricks.sliding_window_view(days, window, axis=0)[ok]
        win = np.transpose(win, (0, 2, 1)).copy()  # (n, window, channels)
        win[:, :, :3] -= np.nan_to_num(level[ok])[:, None, :]  # shape relative to today
        stat = np.nan_to_num(rows[STATIC].to_numpy(float)[ok])
        stat[:, :3] /= 10.0
        planned = np.column_stack(
            [per_h[h]["planned_choke"].to_numpy(float)[idx][ok] / 100.0 for h in horizons]
        )
        statics.append(np.column_stack([stat, np.nan_to_num(planned)]))
        seqs.append(win)
        if training:
            targets.append(
                np.column_stack(
                    [
                        per_h[h][f"{p}_target"].to_numpy(float)[idx][ok]
                        for p in PHASES
                        for h in horizons
                    ]
                )
            )
            dates.append(
                np.column_stack([per_h[h]["target_date"].to_numpy()[idx][ok] for h in horizons])
            )
        keys.append(rows.iloc[ok][["well", "date"]])
    if not seqs:
        empty = np.zeros((0, window, len(DAY_CHANNELS)))
        return empty, np.zeros((0, 1)), np.zeros((0, 1)), np.zeros((0, 1)), pd.DataFrame()
    return (
        np.concatenate(seqs).astype(np.float32),
        np.concatenate(statics).astype(np.float32),
        np.concatenate(targets) if training else np.zeros((0, 1)),
        np.concatenate(dates) if training else np.zeros((0, 1)),
        pd.concat(keys, ignore_index=True),
    )


def _scaled(rows: pd.DataFrame, col: str, scale: dict[str, tuple[float, float]]) -> np.ndarray:
    values = rows[col].to_numpy(float)
    if col in scale:
        mean, std = scale[col]
        return (values - mean) / std
    return values


def fit_net(
    origins: pd.DataFrame,
    cutoff: pd.Timestamp,
    horizons: tuple[int, ...],
    p: dict[str, Any],
    progress: Progress,
) -> tuple[dict[str, Any], pd.Timestamp]:
    seen = origins[origins["date"] < cutoff]
    scale = {}
    for col in (*MEASUREMENTS, "hours", "days_since_flow"):
        values = seen[col].to_numpy(float)
        values = values[~np.isnan(values)]
        mean = float(values.mean()) if len(values) else 0.0
        std = float(values.std()) if len(values) > 1 and values.std() > 0 else 1.0
        scale[col] = (mean, std)
    window = int(p["window"])
    seq, stat, y, dates, _ = _arrays(origins, horizons, window, scale, training=True)
    # a horizon's target counts only when it lies before the cutoff (and exists)
    before_cut = dates < np.datetime64(cutoff)  # (n, horizons)
    usable = np.tile(before_cut, (1, len(PHASES)))  # columns are phase-major, like y
    mask = usable & ~np.isnan(y)
    keep = mask.any(axis=1)
    seq, stat, y, mask = seq[keep], stat[keep], np.nan_to_num(y[keep]), mask[keep]
    used = mask.reshape(len(y), len(PHASES), len(horizons)).any(axis=1)
    latest = pd.Timestamp(dates[keep][used].max()) if used.any() else None
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # small net; see models.fit_forecaster on threads
    tensors = [
        torch.from_numpy(a) for a in (seq, stat, y.astype(np.float32), mask.astype(np.float32))
    ]
    members = int(p["members"])
    states = []
    try:
        for k in range(members):  # seeds seed, seed+1, ...: their mean is the forecast
            states.append(_train_member(tensors, int(p["seed"]) + k, p, progress, k, members))
    finally:
        torch.set_num_threads(before)
    spec = {
        "channels": seq.shape[2],
        "static": stat.shape[1],
        "hidden": int(p["hidden"]),
        "out": y.shape[1],
    }
    return {"states": states, "spec": spec, "scale": scale, "window": window}, latest


def _train_member(
    tensors: list[torch.Tensor], seed: int, p: dict[str, Any], progress: Progress, k: int, n: int
) -> dict[str, torch.Tensor]:
    seq, stat, y, _ = tensors
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    net = GruNet(seq.shape[2], stat.shape[1], int(p["hidden"]), y.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=float(p["lr"]))
    epochs = int(p["epochs"])
    frac = float(p.get("epoch_fraction", 1.0))
    batch = int(p["batch"])
    for epoch in range(epochs):
        order = torch.randperm(len(y), generator=gen)[: max(1, int(len(y) * frac))]
        for start in range(0, len(order), batch):
            take = order[start : start + batch]
            s, st, t, m = (a[take] for a in tensors)
            loss = (
                nn.functional.smooth_l1_loss(net(s, st), t, reduction="none", beta=0.1) * m
            ).sum()
            loss = loss / m.sum().clamp(min=1.0)
            opt.zero_grad()
            loss.backward()
            opt.step()
        done = (k * epochs + epoch + 1) / (n * epochs)
        progress(0.05 + 0.8 * done, f"sequence member {k + 1}/{n} epoch {epoch + 1}/{epochs}")
    net.eval()
    return {name: v.detach().clone() for name, v in net.state_dict().items()}


def predict_net(
    net: dict[str, Any], rows: pd.DataFrame, h: int, horizons: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """Deltas for horizon h at every row of `rows` (rows without a full window: NaN, which
    the caller never sees: rows come from a block with look-back)."""
    spec = net["spec"]
    models = []
    for state in net["states"]:
        model = GruNet(spec["channels"], spec["static"], spec["hidden"], spec["out"])
        model.load_state_dict(state)
        model.eval()
        models.append(model)
    seq, stat, _, _, keys = _arrays(rows, horizons, net["window"], net["scale"], training=False)
    out = {p: np.full(len(rows), np.nan) for p in PHASES}
    if len(seq) == 0:
        return out
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            x_seq, x_stat = torch.from_numpy(seq), torch.from_numpy(stat)
            pred = np.mean([m(x_seq, x_stat).numpy() for m in models], axis=0)
    finally:
        torch.set_num_threads(before)
    where = pd.MultiIndex.from_frame(rows[["well", "date"]]).get_indexer(
        pd.MultiIndex.from_frame(keys)
    )
    k = horizons.index(h)
    for i, phase in enumerate(PHASES):
        out[phase][where] = pred[:, i * len(horizons) + k]
    return out

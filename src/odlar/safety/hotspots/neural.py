"""A spatio-temporal neural forecaster in PyTorch on the CPU: a GRU reads each cell's last
two weeks of counts per category (with its neighbours' beside them), a 3x3 convolution over
the grid mixes neighbouring cells' states, and a head given the cell's 7-, 28- and 90-day
means gives tomorrow's Poisson rate per cell and category.

The rate is a correction of the cell's own 28-day mean (log scale), so an untrained net
starts at the historical average and training only has to learn what the average misses.
Trained by Poisson likelihood on the training days, early-stopped on the validation month
(the epoch with the best validation likelihood is kept), seeded, one thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from odlar.core.tasks import Progress
from odlar.safety.incidents import Grid

WINDOW = 28  # days of the base mean
STEPS = 14  # days the GRU reads (the last of the window); its cost grows with them
MEANS = (7, 28, 90)  # windows of the means beside it; the longest is the method's history
LONG = MEANS[-1]
FLOOR = 0.02  # added to the 28-day mean before the log: empty cells keep a small rate


def _net(rows: int, cols: int, cats: int, hidden: int) -> Any:
    import torch
    from torch import nn

    class ConvGru(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rows, self.cols = rows, cols
            self.gru = nn.GRU(2 * cats, hidden, batch_first=True)
            means = len(MEANS) * cats
            self.cell = nn.Embedding(rows * cols, 8)
            self.weekday = nn.Embedding(7, 4)
            self.spatial = nn.Sequential(
                nn.Conv2d(hidden, hidden, 3, padding=1), nn.ReLU(),
                nn.Conv2d(hidden, hidden, 3, padding=1),
            )  # fmt: skip
            self.head = nn.Sequential(
                nn.Linear(2 * hidden + 8 + 4 + means, hidden), nn.ReLU(), nn.Linear(hidden, cats)
            )
            nn.init.zeros_(self.head[-1].weight)  # start exactly at the 28-day mean
            nn.init.zeros_(self.head[-1].bias)

        def forward(self, seq: torch.Tensor, long: torch.Tensor, wd: torch.Tensor) -> torch.Tensor:
            """seq (B, WINDOW days, cells, cats) counts, long (B, cells, cats x MEANS) means,
            wd (B,) weekday of the target day; returns log-rates (B, cells, cats)."""
            base = torch.log(seq.mean(dim=1) + FLOOR)
            seq = seq[:, -STEPS:]
            b, days, n, k = seq.shape
            own = torch.log1p(seq)
            # each cell's sequence with its 8 neighbours' mean beside it
            grid = own.permute(0, 1, 3, 2).reshape(b * days, k, self.rows, self.cols)
            ones = torch.ones(1, 1, 3, 3, dtype=seq.dtype)
            ones[0, 0, 1, 1] = 0.0
            nb = nn.functional.conv2d(grid, ones.expand(k, 1, 3, 3), padding=1, groups=k) / 8
            nb = nb.reshape(b, days, k, n).permute(0, 1, 3, 2)
            x = torch.cat([own, nb], dim=-1).permute(0, 2, 1, 3).reshape(b * n, days, 2 * k)
            _, h = self.gru(x)
            h = h[-1].reshape(b, n, -1)
            s = self.spatial(h.permute(0, 2, 1).reshape(b, -1, self.rows, self.cols))
            s = s.reshape(b, -1, n).permute(0, 2, 1)
            cells = self.cell.weight[None].expand(b, -1, -1)
            wde = self.weekday(wd)[:, None].expand(-1, n, -1)
            z = torch.cat([h, s, cells, wde, torch.log1p(long)], dim=-1)
            return base + self.head(z)

    return ConvGru()


class ConvGruForecaster:
    """The net, its training loop and forecasts; pickles as plain arrays (no torch objects),
    so a stored model loads whatever the torch build."""

    def __init__(self, grid: Grid, params: dict[str, Any], seed: int) -> None:
        self.rows, self.cols = grid.rows, grid.cols
        self.params, self.seed = params, seed
        self.state: dict[str, np.ndarray] | None = None
        self.cats = 0
        self.history: list[dict[str, float]] = []  # per epoch: train and validation loss
        self._module: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_module"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._module = None

    def _inputs(self, cube: np.ndarray, targets: list[int], days: pd.DatetimeIndex):
        seq = np.stack([cube[t - WINDOW : t] for t in targets]).astype(np.float32)
        long = np.stack(
            [np.concatenate([cube[t - w : t].mean(axis=0) for w in MEANS], axis=1) for t in targets]
        ).astype(np.float32)
        wd = np.array([days[t].day_of_week for t in targets], dtype=np.int64)
        return seq, long, wd

    def fit(
        self,
        cube: np.ndarray,
        days: pd.DatetimeIndex,
        first: int,
        val_from: int,
        progress: Progress,
    ) -> None:
        """Train on target days [first, val_from), keep the epoch whose Poisson loss on the
        validation days [val_from, end of cube) is lowest; stop after `patience` epochs
        without improvement."""
        import torch

        p = self.params
        self.cats = cube.shape[2]
        before = torch.get_num_threads()
        torch.set_num_threads(int(p["threads"]))  # small net; 2 shared cores: see README
        try:
            torch.manual_seed(self.seed)
            gen = torch.Generator().manual_seed(self.seed)
            net = _net(self.rows, self.cols, self.cats, int(p["hidden"]))
            end = cube.shape[0]
            train = [
                torch.from_numpy(a) for a in self._inputs(cube, [*range(first, val_from)], days)
            ]
            y_train = torch.from_numpy(cube[first:val_from].astype(np.float32))
            val = [torch.from_numpy(a) for a in self._inputs(cube, [*range(val_from, end)], days)]
            y_val = torch.from_numpy(cube[val_from:end].astype(np.float32))
            opt = torch.optim.Adam(net.parameters(), lr=float(p["lr"]), weight_decay=1e-5)
            loss_fn = torch.nn.PoissonNLLLoss(log_input=True, full=False)
            best, best_state, stale = float("inf"), None, 0
            epochs, batch = int(p["epochs"]), int(p["batch"])
            for epoch in range(epochs):
                net.train()
                order = torch.randperm(len(y_train), generator=gen)
                total = 0.0
                for start in range(0, len(order), batch):
                    take = order[start : start + batch]
                    loss = loss_fn(net(*(a[take] for a in train)), y_train[take])
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(take)
                net.eval()
                with torch.no_grad():
                    v = float(loss_fn(net(*val), y_val))
                self.history.append({"epoch": epoch + 1, "train": total / len(order), "val": v})
                if v < best - 1e-5:
                    best, stale = v, 0
                    best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
                else:
                    stale += 1
                progress(0.1 + 0.7 * (epoch + 1) / epochs, f"epoch {epoch + 1}: val loss {v:.4f}")
                if stale >= int(p["patience"]):
                    break
        finally:
            torch.set_num_threads(before)
        assert best_state is not None
        self.state = {k: t.numpy() for k, t in best_state.items()}

    def _loaded(self) -> Any:
        import torch

        if self._module is None:
            assert self.state is not None, "not fitted"
            net = _net(self.rows, self.cols, self.cats, int(self.params["hidden"]))
            net.load_state_dict({k: torch.from_numpy(v) for k, v in self.state.items()})
            net.eval()
            self._module = net
        return self._module

    def mean_many(self, cube: np.ndarray, days: pd.DatetimeIndex, targets: range) -> np.ndarray:
        """Forecasts of several days at once, each from the true days before it."""
        import torch

        net = self._loaded()
        out = []
        before = torch.get_num_threads()
        torch.set_num_threads(int(self.params["threads"]))
        try:
            with torch.no_grad():
                for start in range(targets.start, targets.stop, 64):
                    chunk = list(range(start, min(start + 64, targets.stop)))
                    x = [torch.from_numpy(a) for a in self._inputs(cube, chunk, days)]
                    out.append(torch.exp(net(*x)).numpy())
        finally:
            torch.set_num_threads(before)
        return np.concatenate(out).astype(float)

    def mean(self, past: np.ndarray, days: pd.DatetimeIndex) -> np.ndarray:
        # `days` holds the history's days and the forecast day last
        t = past.shape[0]
        return self.mean_many(np.concatenate([past, past[:1] * 0]), days, range(t, t + 1))[0]

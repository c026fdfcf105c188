"""PyTorch network for RUL sequences: input (batch, window, channels) -> RUL (batch,)."""

from __future__ import annotations

import torch
from torch import nn


class ConvNet(nn.Module):
    """Three 1-D convolutions (two strided) over time, then a dense head; the output is
    scaled by the target cap so the network learns values near [0, 1]."""

    def __init__(
        self, n_channels: int, window: int, hidden: int, dropout: float, cap: float
    ) -> None:
        super().__init__()
        self.cap = cap
        self.conv = nn.Sequential(
            nn.Conv1d(n_channels, hidden // 2, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(hidden // 2, hidden, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv1d(hidden, hidden, 5, stride=2, padding=2),
            nn.ReLU(),
        )
        with torch.no_grad():
            flat = self.conv(torch.zeros(1, n_channels, window)).numel()
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(flat, 100), nn.ReLU(), nn.Linear(100, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x.transpose(1, 2))).squeeze(-1) * self.cap

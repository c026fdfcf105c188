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


class _CausalBlock(nn.Module):
    """Two dilated causal convolutions with a residual path (a TCN block)."""

    def __init__(self, channels: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.pad = 2 * dilation  # kernel 3: left padding keeps the block causal
        self.conv1 = nn.Conv1d(channels, channels, 3, dilation=dilation)
        self.conv2 = nn.Conv1d(channels, channels, 3, dilation=dilation)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv1(nn.functional.pad(x, (self.pad, 0))))
        h = self.drop(torch.relu(self.conv2(nn.functional.pad(h, (self.pad, 0)))))
        return torch.relu(x + h)


class TemporalConvNet(nn.Module):
    """Dilated causal convolutions (dilations 1..16, receptive field 125 cycles) read at
    the last cycle and averaged over the window: a short and a long view of the trend."""

    def __init__(
        self, n_channels: int, window: int, hidden: int, dropout: float, cap: float
    ) -> None:
        super().__init__()
        self.cap = cap
        width = hidden // 2
        self.inp = nn.Conv1d(n_channels, width, 1)
        self.blocks = nn.Sequential(*(_CausalBlock(width, d, dropout) for d in (1, 2, 4, 8, 16)))
        self.head = nn.Sequential(nn.Linear(2 * width, 64), nn.ReLU(), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.inp(x.transpose(1, 2)))
        feats = torch.cat([h[:, :, -1], h.mean(dim=2)], dim=1)
        return self.head(feats).squeeze(-1) * self.cap


NETS = {"cnn": ConvNet, "tcn": TemporalConvNet}

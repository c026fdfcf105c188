"""Incremental AKT inference for one student: fold in one answer, read every skill.

A student's state caches the projected keys and values of every attention layer for the
answers seen so far, so one new answer costs one query per layer over the cached history
instead of a forward pass over the whole window. Reading mastery (``akt_ask``) asks
every skill at the next position in one batch. The context is the one the evaluation
uses (windows of ``pred_window`` answers with stride ``pred_stride``): when the window
is full the state keeps its last ``pred_window - pred_stride`` answers and re-encodes
them in one pass.

The result equals ``AKTNet.forward`` on the same history (tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from odlar.education import akt_kernel

if TYPE_CHECKING:
    from odlar.education.kt import AKTLayer, AKTNet


@dataclass
class AKTState:
    question: list[int] = field(default_factory=list)
    skills: list[np.ndarray] = field(default_factory=list)
    correct: list[int] = field(default_factory=list)
    # per layer: projected keys and values (1, H, T, dk) of the answers so far
    enc_k: list[Tensor] = field(default_factory=list)
    enc_v: list[Tensor] = field(default_factory=list)
    dec_k: list[Tensor] = field(default_factory=list)
    dec_v: list[Tensor] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.question)


def _project(layer: AKTLayer, keys: Tensor, values: Tensor) -> tuple[Tensor, Tensor]:
    return layer.split(layer.kq(keys)), layer.split(layer.v(values))


def encode(net: AKTNet, state: AKTState) -> None:
    """(Re)build every cache of ``state`` from its answers in one batched pass."""
    t = len(state)
    k_max = max((len(s) for s in state.skills), default=1)
    sk = torch.zeros(1, t, k_max, dtype=torch.long)
    for i, s in enumerate(state.skills):
        sk[0, i, : len(s)] = torch.as_tensor(s)
    q = torch.tensor(state.question, dtype=torch.long).view(1, t)
    c = torch.tensor(state.correct, dtype=torch.long).view(1, t)
    qe, qa, _ = net.embed(sk, q, c)
    assert qa is not None
    state.enc_k, state.enc_v, state.dec_k, state.dec_v = [], [], [], []
    y = qa
    for layer in net.enc:
        k, v = _project(layer, y, y)
        state.enc_k.append(k)
        state.enc_v.append(v)
        y = layer(y, y, y, strict=False)
    x = qe
    for i, layer in enumerate(net.dec):
        self_layer = i % 2 == 0
        k, v = _project(layer, x, x if self_layer else y)
        state.dec_k.append(k)
        state.dec_v.append(v)
        x = layer(x, x, x, strict=False) if self_layer else layer(x, x, y, strict=True)


def context(n: int, window: int, stride: int) -> int:
    """How many of a student's ``n`` answers the evaluation windows give as context to
    the next prediction."""
    if n < window:
        return n
    return window - stride + (n - window) % stride


@torch.no_grad()
def from_history(
    net: AKTNet,
    question: list[int],
    skills: list[np.ndarray],
    correct: list[int],
    window: int,
    stride: int,
) -> AKTState:
    """The state after a whole history, built in one pass over its context."""
    keep = context(len(question), window, stride)
    first = len(question) - keep
    state = AKTState(question[first:], skills[first:], correct[first:])
    if keep:
        encode(net, state)
    return state


def _cat(cache: list[Tensor], i: int, new: Tensor, room: int) -> Tensor:
    """Layer i's cache (1,H,T,dk) with the new token's (1,H,1,dk) after it. The cache is a
    view of the first T slots of a buffer of ``room`` slots, written in place: a fresh
    ``torch.cat`` copied the whole history each answer (a third of an update). So a
    state is updated in place only: two copies of one state must not both be appended."""
    old = cache[i]
    t = old.shape[2]
    base = old._base
    if (
        base is not None
        and base.dim() == 4
        and t < base.shape[2]
        and old.data_ptr() == base.data_ptr()
        and old.stride() == base.stride()
    ):
        base[:, :, t] = new[:, :, 0]
    else:  # a cache from ``encode``, or full: a new buffer
        base = old.new_empty(old.shape[0], old.shape[1], max(room, t + 1), old.shape[3])
        base[:, :, :t] = old
        base[:, :, t] = new[:, :, 0]
    cache[i] = base[:, :, : t + 1]
    return cache[i]


@torch.no_grad()
def append(
    net: AKTNet,
    state: AKTState,
    question: int,
    skills: np.ndarray,
    correct: int,
    window: int,
    stride: int,
) -> AKTState:
    """Fold one answer into ``state`` (in place) and return it."""
    state.question.append(int(question))
    state.skills.append(np.asarray(skills, dtype=np.int64))
    state.correct.append(int(correct))
    if len(state) >= window:  # the next query would fall outside the window
        keep = max(window - stride, 1)
        del state.question[:-keep], state.skills[:-keep], state.correct[:-keep]
        encode(net, state)
        return state
    if len(state) == 1 or not state.enc_k:
        encode(net, state)
        return state
    sk = torch.as_tensor(state.skills[-1]).view(1, 1, -1)
    qe, qa, _ = net.embed(sk, torch.tensor([[question]]), torch.tensor([[correct]]))
    assert qa is not None
    y = qa
    for i, layer in enumerate(net.enc):
        k, v = _project(layer, y, y)
        keys, vals = _cat(state.enc_k, i, k, window), _cat(state.enc_v, i, v, window)
        # kq_same: the new token's query is its key; its own value is a key too
        y = layer.post(y, _attend_one(layer, keys, vals, self_key=True))
    x = qe
    for i, layer in enumerate(net.dec):
        self_layer = i % 2 == 0
        k, v = _project(layer, x, x if self_layer else y)
        keys, vals = _cat(state.dec_k, i, k, window), _cat(state.dec_v, i, v, window)
        x = layer.post(x, _attend_one(layer, keys, vals, self_key=self_layer))
    return state


def _attend_one(layer: AKTLayer, keys: Tensor, vals: Tensor, self_key: bool) -> Tensor:
    """``_attend`` for the newest token of the caches (1,H,T+1,dk), its query its key:
    over the T before it, and with ``self_key`` itself at distance 0. (1,H,1,dk)."""
    k, v = keys[0].numpy(), vals[0].numpy()
    own = v[:, -1] if self_key else np.zeros((0, layer.dk), np.float32)
    out = np.empty((layer.h, layer.dk), np.float32)
    gamma = layer.gamma().reshape(-1).numpy().astype(np.float64)
    akt_kernel.attend_one(
        np.ascontiguousarray(k[:, -1]), np.ascontiguousarray(own), k[:, :-1], v[:, :-1], gamma, out
    )
    return torch.from_numpy(out).view(1, layer.h, 1, layer.dk)

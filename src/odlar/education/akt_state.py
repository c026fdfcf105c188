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

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

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


def _weights(layer: AKTLayer, scores: Tensor, pos: Tensor) -> Tensor:
    """AKT monotonic attention when every key is allowed (the causal mask is implied by
    which keys are passed): scores (1,H,S,T), pos (T,) distances to the query. In place
    on one buffer: asking 1,223 skills over 200 answers is the cost of an update."""
    w = torch.softmax(scores, -1)
    torch.cumsum(w, -1, out=w)
    w.neg_().add_(1.0).mul_(pos).clamp_(min=0.0).sqrt_()  # distance, as in mono_weights
    w.mul_(layer.gamma()).exp_().clamp_(1e-5, 1e5).mul_(scores)
    return torch.softmax(w, -1)


def _attend(layer: AKTLayer, q: Tensor, k: Tensor, v: Tensor, self_kv: Tensor | None) -> Tensor:
    """Queries q (1,H,S,dk) at position T over keys/values (1,H,T,dk); with ``self_kv`` the
    queries' own value (1,H,S,dk) is a key at distance 0 too. Returns (1,H,S,dk)."""
    t = k.shape[2]
    if t == 0 and self_kv is None:
        return torch.zeros_like(q)  # strict layer with nothing before: no information
    scale = math.sqrt(layer.dk)
    scores = q @ k.transpose(-1, -2) / scale
    pos = torch.arange(t, 0, -1, dtype=q.dtype)
    if self_kv is not None:
        scores = torch.cat([scores, (q * q).sum(-1, keepdim=True) / scale], -1)
        pos = torch.cat([pos, pos.new_zeros(1)])
    w = _weights(layer, scores, pos)
    out = w[..., :t] @ v
    if self_kv is not None:
        out = out + w[..., t:] * self_kv
    return out


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


def _cat(cache: list[Tensor], i: int, new: Tensor) -> Tensor:
    cache[i] = torch.cat([cache[i], new], 2)
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
        keys, vals = _cat(state.enc_k, i, k), _cat(state.enc_v, i, v)
        qs = k  # kq_same: the new token's query is its key
        y = layer.post(y, _attend(layer, qs, keys[:, :, :-1], vals[:, :, :-1], vals[:, :, -1:]))
    x = qe
    for i, layer in enumerate(net.dec):
        self_layer = i % 2 == 0
        k, v = _project(layer, x, x if self_layer else y)
        keys, vals = _cat(state.dec_k, i, k), _cat(state.dec_v, i, v)
        if self_layer:
            att = _attend(layer, k, keys[:, :, :-1], vals[:, :, :-1], vals[:, :, -1:])
        else:
            att = _attend(layer, k, keys[:, :, :-1], vals[:, :, :-1], None)
        x = layer.post(x, att)
    return state

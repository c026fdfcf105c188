"""Every skill's AKT mastery from one student's state: each skill is a question on it
alone, asked after the student's history, through the decoder and the output layers.

The cost is 1,223 queries (Statics) through every decoder layer and a 256-wide MLP,
so this path keeps what does not depend on the student (the skills' embeddings, their
first-layer queries and values, their share of the output layer, transposed weights)
in a plan per network, writes every product into buffers it reuses (fresh 1 MB tensors
cost page faults each call) and runs the attention in ``akt_kernel``. It computes what
``AKTNet.forward`` computes for those queries (tested against a float64 forward pass).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from odlar.education import akt_kernel
from odlar.education.akt_state import encode

if TYPE_CHECKING:
    from odlar.education.akt_state import AKTState
    from odlar.education.kt import AKTLayer, AKTNet


@dataclass
class _Linear:
    w: Tensor  # (out, in), contiguous, as nn.Linear keeps it
    b: Tensor | None


def _linear(m: nn.Module) -> _Linear:
    assert isinstance(m, nn.Linear)
    return _Linear(m.weight.detach().contiguous(), m.bias.detach())


#: oneDNN's fused linear (+ ReLU): it takes its AVX-512 kernels on this AMD CPU, where
#: MKL's sgemm behind addmm takes AVX2 ones: 1,223 x 256 x 256 in 0.89 ms against 1.81
#: (64-wide layers alike, measured one thread); PyTorch builds without oneDNN use F.linear
_ONEDNN = torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")


def _dense(x: Tensor, lin: _Linear, relu: bool = False) -> Tensor:
    if _ONEDNN:
        act = "relu" if relu else "none"
        return torch.ops.mkldnn._linear_pointwise(x, lin.w, lin.b, act, [], "")
    y = F.linear(x, lin.w, lin.b)
    return y.relu_() if relu else y


@dataclass
class _Layer:
    kq: _Linear
    v: _Linear
    o: _Linear
    gamma: np.ndarray  # (H,) each head's decay, negative
    ff: tuple[_Linear, _Linear] | None


class _Plan:
    """One network's fixed parts for n skills, and the buffers one ask writes."""

    def __init__(self, net: AKTNet, n_skills: int) -> None:
        sk = torch.arange(1, n_skills + 1).view(1, n_skills, 1)
        qe, _, _ = net.embed(sk, torch.zeros(1, n_skills, dtype=torch.long), None)
        self.qe = qe[0].contiguous()  # (S, d)
        d = self.qe.shape[1]
        first = net.dec[0]
        self.q0 = _heads(first, first.kq(self.qe))  # kq_same: the queries are the keys
        self.v0 = _heads(first, first.v(self.qe))
        self.layers = [
            _Layer(
                _linear(layer.kq),
                _linear(layer.v),
                _linear(layer.o),
                np.ascontiguousarray(layer.gamma().reshape(-1).numpy()),
                (_linear(layer.ff[0]), _linear(layer.ff[3])) if layer.apply_pos else None,
            )
            for layer in net.dec
        ]
        lin = net.out[0]
        self.out0 = self.qe @ lin.weight[:, d:].T + lin.bias  # the embeddings' share
        self.out1 = _Linear(lin.weight.detach()[:, :d].contiguous(), None)
        self.out2 = _linear(net.out[3])
        self.out3 = _Linear(net.out[6].weight.detach()[0].contiguous(), net.out[6].bias)
        s, heads = n_skills, first.h
        self.att = np.empty((s, heads, d // heads), np.float32)
        self.p = torch.empty(s)
        self.scratch = np.empty((4, 0), np.float32)
        self.none = np.zeros((0, heads, d // heads), np.float32)
        self.lock = threading.Lock()  # the buffers serve one ask at a time

    def room(self, keys: int) -> np.ndarray:
        if self.scratch.shape[1] < (keys + 1) * akt_kernel.BLOCK:
            self.scratch = np.empty((4, (keys + 1) * akt_kernel.BLOCK), np.float32)
        return self.scratch


_PLANS: weakref.WeakKeyDictionary[AKTNet, _Plan] = weakref.WeakKeyDictionary()


def _plan(net: AKTNet, n_skills: int) -> _Plan:
    plan = _PLANS.get(net)
    if plan is None or plan.qe.shape[0] != n_skills:
        plan = _PLANS[net] = _Plan(net, n_skills)
    return plan


def _heads(layer: AKTLayer, x: Tensor) -> np.ndarray:
    """(S, d) -> (S, H, dk) float32, the layout the kernel reads."""
    return np.ascontiguousarray(x.reshape(x.shape[0], layer.h, layer.dk).numpy())


def _history(cache: list[Tensor], i: int, layer: AKTLayer) -> np.ndarray:
    """Layer i's cached keys or values (1, H, T, dk) as (H, T, dk) float32."""
    if not cache:
        return np.zeros((layer.h, 0, layer.dk), np.float32)
    return np.ascontiguousarray(cache[i][0].numpy())


@torch.inference_mode()
def ask(net: AKTNet, state: AKTState, n_skills: int) -> np.ndarray:
    """P(correct) of a question on each skill alone, asked next: (n_skills,)."""
    if not state.dec_k and len(state):  # a state restored without its caches
        encode(net, state)
    plan = _plan(net, n_skills)
    with plan.lock:
        x = plan.qe
        heads = plan.att.shape[1:]
        att = torch.from_numpy(plan.att).view(n_skills, -1)
        for i, (layer, lp) in enumerate(zip(net.dec, plan.layers, strict=True)):
            own: np.ndarray | None = None
            if i == 0:
                q, own = plan.q0, plan.v0
            else:
                q = _dense(x, lp.kq).numpy().reshape(n_skills, *heads)
                if i % 2 == 0:  # self-attention: the query's own value is a key too
                    own = _dense(x, lp.v).numpy().reshape(n_skills, *heads)
            keys = _history(state.dec_k, i, layer)
            vals = _history(state.dec_v, i, layer)
            scratch = plan.room(keys.shape[1])
            akt_kernel.attend(
                q, plan.none if own is None else own, keys, vals, lp.gamma, plan.att, scratch
            )
            y = _dense(att, lp.o).add_(x)
            x = F.layer_norm(y, x.shape[1:], layer.ln1.weight, layer.ln1.bias, layer.ln1.eps)
            if lp.ff is not None:
                y = _dense(_dense(x, lp.ff[0], relu=True), lp.ff[1]).add_(x)
                ln = layer.ln2
                x = F.layer_norm(y, x.shape[1:], ln.weight, ln.bias, ln.eps)
        h1 = _dense(x, plan.out1).add_(plan.out0).relu_()
        h2 = _dense(h1, plan.out2, relu=True)
        torch.addmv(plan.out3.b, h2, plan.out3.w, out=plan.p).sigmoid_()
        return plan.p.numpy().copy()

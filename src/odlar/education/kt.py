"""Knowledge-tracing models on CPU: vectorised BKT, question-level DKT (LSTM) and AKT
(monotonic attention with Rasch problem-difficulty embeddings).

Every model predicts once per interaction (question level): a question tagged with several
skills gets one probability, computed before its answer is seen.
"""

from __future__ import annotations

import copy
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn

from odlar.education import akt_ask, akt_state
from odlar.education.akt_state import AKTState
from odlar.education.interactions import Interactions, windows

Progress = Callable[[float, str], None]


def _noop(frac: float, msg: str) -> None:
    pass


def auc_acc(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    return float(roc_auc_score(y, p)), float(((p >= 0.5) == (y == 1)).mean())


# ----------------------------------------------------------------------------------------
# BKT
# ----------------------------------------------------------------------------------------


@dataclass
class _Pairs:
    """Expanded (interaction, skill) entries grouped into per-(student, skill) sequences."""

    n_active: list[int]  # pairs still running at step t (pairs sorted by length, desc)
    correct: list[Tensor]  # correct[t]: (n_active[t],) answers at step t
    skill: Tensor  # (n_pairs,) skill of each pair
    flat_row: np.ndarray  # interaction row of each flat (step-major) entry


def _pairs(data: Interactions) -> _Pairs:
    cnt = data.n_skills_per_row
    row = np.repeat(np.arange(len(data)), cnt)
    sk = data.skill_idx
    stu = data.student[row]
    order = np.lexsort((row, sk, stu))
    row, sk, stu = row[order], sk[order], stu[order]
    new = np.ones(len(row), dtype=bool)
    new[1:] = (sk[1:] != sk[:-1]) | (stu[1:] != stu[:-1])
    pair = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    pos = np.arange(len(row)) - starts[pair]
    lengths = np.diff(np.concatenate([starts, [len(row)]]))
    rank = np.empty(len(lengths), dtype=np.int64)
    rank[np.argsort(-lengths, kind="stable")] = np.arange(len(lengths))
    prank = rank[pair]
    sorted_len = np.sort(lengths)[::-1]
    max_len = int(sorted_len[0])
    n_active = [int((sorted_len > t).sum()) for t in range(max_len)]
    # step-major flat order: (t, pair rank)
    flat = np.lexsort((prank, pos))
    corr = data.correct[row[flat]]
    offs = np.concatenate([[0], np.cumsum(n_active)])
    correct = [
        torch.as_tensor(corr[offs[t] : offs[t + 1]], dtype=torch.float64) for t in range(max_len)
    ]
    pair_skill = np.zeros(len(lengths), dtype=np.int64)
    pair_skill[prank] = sk
    return _Pairs(n_active, correct, torch.as_tensor(pair_skill), row[flat])


class BKT:
    """Per-skill BKT (prior, learn, guess, slip; no forgetting), fitted by gradient descent
    on the exact forward-filter likelihood, vectorised over all (student, skill) sequences.
    Multi-skill questions: predicted as the mean of the skills' predictions; every skill is
    updated with the answer."""

    def __init__(self) -> None:
        self.params: np.ndarray | None = None  # (n_skills+1, 4): prior, learn, guess, slip

    @staticmethod
    def _constrain(theta: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        prior = torch.sigmoid(theta[:, 0])
        learn = torch.sigmoid(theta[:, 1])
        guess = 0.5 * torch.sigmoid(theta[:, 2])
        slip = 0.5 * torch.sigmoid(theta[:, 3])
        return prior, learn, guess, slip

    def _run(self, theta: Tensor, pairs: _Pairs) -> list[Tensor]:
        prior, learn, guess, slip = self._constrain(theta)
        sk = pairs.skill
        pl, pg, ps = learn[sk], guess[sk], slip[sk]
        know = prior[sk]
        preds = []
        for t, n in enumerate(pairs.n_active):
            know = know[:n]
            g, s, lr = pg[:n], ps[:n], pl[:n]
            p = know * (1 - s) + (1 - know) * g
            preds.append(p)
            c = pairs.correct[t]
            post = torch.where(c > 0.5, know * (1 - s) / p, know * s / (1 - p))
            know = post + (1 - post) * lr
        return preds

    def fit(
        self,
        train: Interactions,
        valid: Interactions | None = None,
        params: dict[str, Any] | None = None,
        progress: Progress = _noop,
    ) -> BKT:
        prm = {"iters": 60, "lr": 0.1, **(params or {})}
        self.n_skills = train.n_skills
        pairs = _pairs(train)
        theta = torch.zeros(train.n_skills + 1, 4, dtype=torch.float64)
        theta[:, 0] = -1.0
        theta[:, 1] = -2.0
        theta[:, 2] = -0.5
        theta[:, 3] = -1.5
        theta.requires_grad_(True)
        opt = torch.optim.Adam([theta], lr=prm["lr"])
        y = torch.cat(pairs.correct)
        for it in range(prm["iters"]):
            opt.zero_grad()
            p = torch.cat(self._run(theta, pairs)).clamp(1e-6, 1 - 1e-6)
            loss = F.binary_cross_entropy(p, y)
            loss.backward()
            opt.step()
            progress((it + 1) / prm["iters"], f"bkt iter {it} nll {loss.item():.4f}")
        with torch.no_grad():
            prior, learn, guess, slip = self._constrain(theta)
        self.params = torch.stack([prior, learn, guess, slip], 1).numpy()
        return self

    def predict(self, data: Interactions) -> np.ndarray:
        assert self.params is not None
        pairs = _pairs(data)
        with torch.no_grad():
            theta = torch.logit(torch.as_tensor(self.params).clone(), eps=1e-9)
            theta[:, 2:] = torch.logit(2 * torch.as_tensor(self.params[:, 2:]), eps=1e-9)
            p = torch.cat(self._run(theta, pairs)).numpy()
        out = np.zeros(len(data))
        np.add.at(out, pairs.flat_row, p)
        return out / data.n_skills_per_row

    # --- incremental path ---
    def init_state(self) -> np.ndarray:
        assert self.params is not None
        return self.params[:, 0].copy()

    def update(
        self, state: np.ndarray, question: int, skills: np.ndarray, correct: int
    ) -> np.ndarray:
        assert self.params is not None
        pr = self.params[skills]
        k = state[skills]
        learn, g, s = pr[:, 1], pr[:, 2], pr[:, 3]
        p = k * (1 - s) + (1 - k) * g
        post = k * (1 - s) / p if correct else k * s / (1 - p)
        state[skills] = post + (1 - post) * learn
        return state

    def mastery_from(self, state: np.ndarray) -> np.ndarray:
        assert self.params is not None
        g, s = self.params[:, 2], self.params[:, 3]
        return (state * (1 - s) + (1 - state) * g)[1:]

    def mastery(self, history: Interactions) -> np.ndarray:
        st = self.init_state()
        for i in range(len(history)):
            st = self.update(
                st, int(history.question[i]), history.skills(i), int(history.correct[i])
            )
        return self.mastery_from(st)


# ----------------------------------------------------------------------------------------
# Neural sequence models: shared batching and training
# ----------------------------------------------------------------------------------------


@dataclass
class Batch:
    sk: Tensor  # (B, L, K) skill ids, 0 = pad
    q: Tensor  # (B, L) question ids
    c: Tensor  # (B, L) answers
    valid: Tensor  # (B, L) bool
    score: Tensor  # (B, L) bool: positions whose prediction is reported
    rows: np.ndarray  # (n_scored,) data rows of scored positions, in score-mask order


def make_batch(data: Interactions, wins: list[tuple[int, int, int]], skm: np.ndarray) -> Batch:
    b = len(wins)
    length = max(e - s for s, e, _ in wins)
    k = skm.shape[1]
    sk = np.zeros((b, length, k), dtype=np.int64)
    q = np.zeros((b, length), dtype=np.int64)
    c = np.zeros((b, length), dtype=np.int64)
    valid = np.zeros((b, length), dtype=bool)
    score = np.zeros((b, length), dtype=bool)
    rows = []
    for i, (s, e, f) in enumerate(wins):
        n = e - s
        sk[i, :n] = skm[s:e]
        q[i, :n] = data.question[s:e]
        c[i, :n] = data.correct[s:e]
        valid[i, :n] = True
        score[i, f - s : n] = True
        rows.append(np.arange(f, e))
    return Batch(
        torch.as_tensor(sk),
        torch.as_tensor(q),
        torch.as_tensor(c),
        torch.as_tensor(valid),
        torch.as_tensor(score),
        np.concatenate(rows),
    )


def mean_embed(emb: nn.Embedding, idx: Tensor, mask: Tensor) -> Tensor:
    """Mean of embeddings over the last index dim, ignoring masked (padding) entries."""
    e = emb(idx) * mask.unsqueeze(-1)
    return e.sum(-2) / mask.sum(-1, keepdim=True).clamp(min=1)


def compute_clock() -> float:
    """Seconds of computing this process has had, per thread it trains with: on a free
    machine the wall clock, on a shared one less, so a time budget trains as many epochs
    (and the same model) whatever else the machine runs."""
    return time.process_time() / max(torch.get_num_threads(), 1)


class SeqKT:
    """Shared fit/predict loop for the neural models. Subclasses set ``net``."""

    defaults: dict[str, Any] = {}

    def __init__(self) -> None:
        self.net: nn.Module | None = None
        self.prm: dict[str, Any] = {}
        self.history: list[dict[str, float]] = []

    def build(self, n_questions: int, n_skills: int) -> nn.Module:
        raise NotImplementedError

    def fit(
        self,
        train: Interactions,
        valid: Interactions | None = None,
        params: dict[str, Any] | None = None,
        progress: Progress = _noop,
    ) -> SeqKT:
        prm = {**self.defaults, **(params or {})}
        self.prm = prm
        torch.manual_seed(prm["seed"])
        rng = np.random.default_rng(prm["seed"])
        self.n_skills, self.n_questions = train.n_skills, train.n_questions
        self.k_max = 4
        net = self.build(train.n_questions, train.n_skills)
        self.net = net
        opt = torch.optim.Adam(net.parameters(), lr=prm["lr"], weight_decay=prm["wd"])
        skm = train.skill_matrix(self.k_max)
        wins = windows(train, prm["window"], prm["window"])
        best, best_state, bad = -1.0, copy.deepcopy(net.state_dict()), 0
        t0 = compute_clock()
        for ep in range(prm["epochs"]):
            net.train()
            te = time.time()
            # length-bucketed batches (less padding), batch order shuffled
            lens = np.array([e - s for s, e, _ in wins])
            order = np.lexsort((rng.random(len(wins)), lens))
            chunks = [order[i : i + prm["batch"]] for i in range(0, len(order), prm["batch"])]
            tot, nb = 0.0, 0
            for ci in rng.permutation(len(chunks)):
                bt = make_batch(train, [wins[j] for j in chunks[ci]], skm)
                logit, reg = net(bt)
                loss = (
                    F.binary_cross_entropy_with_logits(logit[bt.valid], bt.c[bt.valid].float())
                    + reg
                )
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), prm["clip"])
                opt.step()
                tot += loss.item()
                nb += 1
            rec = {"epoch": ep, "loss": tot / nb, "epoch_s": time.time() - te}
            if valid is not None:
                v_auc, v_acc = auc_acc(valid.correct, self.predict(valid))
                rec.update(valid_auc=v_auc, valid_acc=v_acc)
                if v_auc > best:
                    best, bad = v_auc, 0
                    best_state = copy.deepcopy(net.state_dict())
                    rec["best"] = 1.0
                else:
                    bad += 1
            self.history.append(rec)
            progress((ep + 1) / prm["epochs"], str(rec))
            if valid is not None and bad >= prm["patience"]:
                break
            if compute_clock() - t0 > prm["time_budget_s"]:
                break
        if valid is not None:
            net.load_state_dict(best_state)
        return self

    @torch.no_grad()
    def predict(self, data: Interactions) -> np.ndarray:
        assert self.net is not None
        self.net.eval()
        skm = data.skill_matrix(self.k_max)
        wins = windows(data, self.prm["pred_window"], self.prm["pred_stride"])
        wins.sort(key=lambda w: w[1] - w[0])
        out = np.zeros(len(data))
        bs = self.prm["pred_batch"]
        for i in range(0, len(wins), bs):
            bt = make_batch(data, wins[i : i + bs], skm)
            logit, _ = self.net(bt)
            out[bt.rows] = torch.sigmoid(logit[bt.score]).numpy()
        return out


# ----------------------------------------------------------------------------------------
# DKT
# ----------------------------------------------------------------------------------------


class DKTNet(nn.Module):
    """x_t = [interaction embedding of step t-1, question embedding of step t] -> LSTM ->
    MLP([h_t, question embedding of step t]) -> logit of answer t."""

    def __init__(
        self, n_questions: int, n_skills: int, d: int, dropout: float, use_pid: bool
    ) -> None:
        super().__init__()
        self.d = d
        self.q_emb = nn.Embedding(n_skills + 1, d, padding_idx=0)
        self.i_emb = nn.Embedding(2 * (n_skills + 1), d)
        self.use_pid = use_pid and n_questions > 0
        if self.use_pid:
            self.pid_emb = nn.Embedding(n_questions + 1, d)
            nn.init.zeros_(self.pid_emb.weight)
        self.lstm = nn.LSTM(2 * d, d, batch_first=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Sequential(
            nn.Linear(2 * d, d), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d, 1)
        )

    def qvec(self, sk: Tensor, q: Tensor) -> Tensor:
        e = mean_embed(self.q_emb, sk, (sk > 0).float())
        if self.use_pid:
            e = e + self.pid_emb(q)
        return e

    def ivec(self, sk: Tensor, c: Tensor) -> Tensor:
        return mean_embed(self.i_emb, sk * 2 + c.unsqueeze(-1), (sk > 0).float())

    def forward(self, bt: Batch) -> tuple[Tensor, Tensor]:
        qe = self.qvec(bt.sk, bt.q)
        ie = self.ivec(bt.sk, bt.c)
        prev = torch.cat([torch.zeros_like(ie[:, :1]), ie[:, :-1]], 1)
        h, _ = self.lstm(torch.cat([prev, qe], -1))
        logit = self.out(torch.cat([self.drop(h), qe], -1)).squeeze(-1)
        return logit, torch.zeros(())


@dataclass
class DKTState:
    h: Tensor
    c: Tensor
    last: Tensor  # interaction embedding of the last answer


@dataclass
class _DKTAsk:
    """Each skill's fixed share of the LSTM gates and of the output layer."""

    gates: Tensor  # (n_skills, 4d)
    out: Tensor  # (n_skills, d), bias included


_DKT_ASKS: weakref.WeakKeyDictionary[DKTNet, _DKTAsk] = weakref.WeakKeyDictionary()


def _dkt_ask(net: DKTNet, n_skills: int) -> _DKTAsk:
    cached = _DKT_ASKS.get(net)
    if cached is None or cached.gates.shape[0] != n_skills:
        sk = torch.arange(1, n_skills + 1).view(n_skills, 1)
        qe = net.qvec(sk, torch.zeros(n_skills, dtype=torch.long))
        first, d = net.out[0], net.d
        cached = _DKTAsk(
            qe @ net.lstm.weight_ih_l0[:, d:].T, qe @ first.weight[:, d:].T + first.bias
        )
        _DKT_ASKS[net] = cached
    return cached


class DKT(SeqKT):
    defaults = {
        "d": 128,
        "dropout": 0.2,
        "lr": 2e-3,
        "wd": 0.0,
        "batch": 64,
        "epochs": 30,
        "patience": 3,
        "window": 200,
        "pred_window": 100000,
        "pred_stride": 100000,
        "pred_batch": 256,
        "clip": 1.0,
        "seed": 0,
        "time_budget_s": 600.0,
        "use_pid": False,
    }

    def build(self, n_questions: int, n_skills: int) -> nn.Module:
        p = self.prm
        return DKTNet(n_questions, n_skills, p["d"], p["dropout"], p["use_pid"])

    def _net(self) -> DKTNet:
        assert isinstance(self.net, DKTNet)
        return self.net

    def init_state(self) -> DKTState:
        d = self._net().d
        return DKTState(torch.zeros(1, 1, d), torch.zeros(1, 1, d), torch.zeros(1, d))

    @torch.no_grad()
    def update(self, state: DKTState, question: int, skills: np.ndarray, correct: int) -> DKTState:
        net = self._net()
        sk = torch.as_tensor(np.asarray(skills, dtype=np.int64)).view(1, -1)
        q = torch.tensor([question])
        x = torch.cat([state.last, net.qvec(sk, q)], -1).view(1, 1, -1)
        _, (h, c) = net.lstm(x, (state.h, state.c))
        return DKTState(h, c, net.ivec(sk, torch.tensor([correct])))

    @torch.no_grad()
    def mastery_from(self, state: DKTState) -> np.ndarray:
        """One LSTM step per skill from the student's state. The state's share of the
        gates is one vector for every skill and each skill's share is fixed, so asking
        1,223 skills costs elementwise work, not 1,223 matrix products (equal: tested)."""
        net = self._net()
        net.eval()
        ask = _dkt_ask(net, self.n_skills)
        lstm, first = net.lstm, net.out[0]
        d = net.d
        common = state.last @ lstm.weight_ih_l0[:, :d].T + state.h[0] @ lstm.weight_hh_l0.T
        gates = ask.gates + (common + lstm.bias_ih_l0 + lstm.bias_hh_l0)
        i, f, g, o = gates.chunk(4, -1)  # PyTorch's gate order
        c = torch.sigmoid(f) * state.c[0] + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        hidden = torch.relu(h @ first.weight[:, :d].T + ask.out)
        return torch.sigmoid(net.out[3](hidden)).squeeze(-1).numpy()

    def mastery(self, history: Interactions) -> np.ndarray:
        self._net().eval()
        st = self.init_state()
        for i in range(len(history)):
            st = self.update(
                st, int(history.question[i]), history.skills(i), int(history.correct[i])
            )
        return self.mastery_from(st)


# ----------------------------------------------------------------------------------------
# AKT
# ----------------------------------------------------------------------------------------


def mono_weights(scores: Tensor, allowed: Tensor, pos_effect: Tensor, gamma: Tensor) -> Tensor:
    """AKT monotonic attention weights. scores (B,H,Lq,Lk); allowed, pos_effect (Lq,Lk)
    broadcastable; gamma (1,H,1,1) negative decay rates. Rows with no allowed key -> 0."""
    neg = -1e32
    with torch.no_grad():
        s = torch.softmax(scores.masked_fill(~allowed, neg), -1) * allowed
        distcum = torch.cumsum(s, -1)
        disttotal = s.sum(-1, keepdim=True)
        dist = torch.clamp((disttotal - distcum) * pos_effect, min=0.0).sqrt()
    effect = torch.clamp(torch.exp(dist * gamma), 1e-5, 1e5)
    w = torch.softmax((scores * effect).masked_fill(~allowed, neg), -1)
    return w * allowed.any(-1, keepdim=True)


class AKTLayer(nn.Module):
    def __init__(self, d: int, heads: int, d_ff: int, dropout: float, apply_pos: bool) -> None:
        super().__init__()
        self.h, self.dk = heads, d // heads
        self.kq = nn.Linear(d, d)  # kq_same
        self.v = nn.Linear(d, d)
        self.o = nn.Linear(d, d)
        self.gammas = nn.Parameter(torch.zeros(heads, 1, 1))
        nn.init.xavier_uniform_(self.gammas)
        self.drop = nn.Dropout(dropout)
        self.ln1 = nn.LayerNorm(d)
        self.apply_pos = apply_pos
        if apply_pos:
            self.ff = nn.Sequential(
                nn.Linear(d, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d)
            )
            self.ln2 = nn.LayerNorm(d)

    def split(self, x: Tensor) -> Tensor:  # (B,L,d) -> (B,H,L,dk)
        return x.view(x.shape[0], x.shape[1], self.h, self.dk).transpose(1, 2)

    def gamma(self) -> Tensor:
        return -F.softplus(self.gammas).unsqueeze(0)

    def post(self, query: Tensor, att: Tensor) -> Tensor:
        # att (B,H,L,dk) -> output
        b, _, length, _ = att.shape
        x = query + self.drop(self.o(att.transpose(1, 2).reshape(b, length, -1)))
        x = self.ln1(x)
        if self.apply_pos:
            x = self.ln2(x + self.drop(self.ff(x)))
        return x

    def forward(self, query: Tensor, key: Tensor, values: Tensor, strict: bool) -> Tensor:
        length = query.shape[1]
        q, k, v = self.split(self.kq(query)), self.split(self.kq(key)), self.split(self.v(values))
        scores = q @ k.transpose(-1, -2) / math.sqrt(self.dk)
        i = torch.arange(length)
        allowed = (i[None, :] < i[:, None]) if strict else (i[None, :] <= i[:, None])
        pos = (i[None, :] - i[:, None]).abs().float()
        w = self.drop(mono_weights(scores, allowed, pos, self.gamma()))
        return self.post(query, w @ v)


class AKTNet(nn.Module):
    def __init__(
        self,
        n_questions: int,
        n_skills: int,
        d: int,
        heads: int,
        d_ff: int,
        dropout: float,
        n_blocks: int,
        final_dim: int,
        l2: float,
    ) -> None:
        super().__init__()
        self.l2 = l2
        self.q_emb = nn.Embedding(n_skills + 1, d, padding_idx=0)
        self.a_emb = nn.Embedding(2, d)
        self.use_pid = n_questions > 0
        if self.use_pid:
            self.pid_diff = nn.Embedding(n_questions + 1, 1)
            nn.init.zeros_(self.pid_diff.weight)
            self.q_diff = nn.Embedding(n_skills + 1, d, padding_idx=0)
            self.a_diff = nn.Embedding(2, d)
        self.enc = nn.ModuleList([AKTLayer(d, heads, d_ff, dropout, True) for _ in range(n_blocks)])
        self.dec = nn.ModuleList(
            [AKTLayer(d, heads, d_ff, dropout, i % 2 == 1) for i in range(2 * n_blocks)]
        )
        self.out = nn.Sequential(
            nn.Linear(2 * d, final_dim),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(final_dim, 256),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(256, 1),
        )

    def embed(
        self, sk: Tensor, q: Tensor, c: Tensor | None
    ) -> tuple[Tensor, Tensor | None, Tensor]:
        m = (sk > 0).float()
        qe = mean_embed(self.q_emb, sk, m)
        reg = torch.zeros(())
        qa = None if c is None else qe + self.a_emb(c)
        if self.use_pid:
            mu = self.pid_diff(q)
            qe = qe + mu * mean_embed(self.q_diff, sk, m)
            if c is not None and qa is not None:
                qa = qa + mu * (mean_embed(self.q_diff, sk, m) + self.a_diff(c))
            reg = self.l2 * (mu**2).sum()
        return qe, qa, reg

    def forward(self, bt: Batch) -> tuple[Tensor, Tensor]:
        qe, qa, reg = self.embed(bt.sk, bt.q, bt.c)
        assert qa is not None
        y = qa
        for layer in self.enc:
            y = layer(y, y, y, strict=False)
        x = qe
        for i, layer in enumerate(self.dec):
            x = layer(x, x, x, strict=False) if i % 2 == 0 else layer(x, x, y, strict=True)
        logit = self.out(torch.cat([x, qe], -1)).squeeze(-1)
        n = bt.valid.sum().clamp(min=1)
        return logit, reg / n


class AKT(SeqKT):
    defaults = {
        "d": 64,
        "heads": 4,
        "d_ff": 128,
        "dropout": 0.2,
        "n_blocks": 1,
        "final_dim": 256,
        "l2": 1e-5,
        "lr": 1e-3,
        "wd": 0.0,
        "batch": 32,
        "epochs": 30,
        "patience": 3,
        "window": 200,
        "pred_window": 200,
        "pred_stride": 100,
        "pred_batch": 128,
        "clip": 1.0,
        "seed": 0,
        "time_budget_s": 540.0,
    }

    def build(self, n_questions: int, n_skills: int) -> nn.Module:
        p = self.prm
        return AKTNet(
            n_questions,
            n_skills,
            p["d"],
            p["heads"],
            p["d_ff"],
            p["dropout"],
            p["n_blocks"],
            p["final_dim"],
            p["l2"],
        )

    def _net(self) -> AKTNet:
        """The network in eval mode: ``eval()`` walks every module (0.3 ms, a tenth of
        an update's budget), so only when a fit left it training."""
        assert isinstance(self.net, AKTNet)
        if self.net.training:
            self.net.eval()
        return self.net

    def init_state(self) -> AKTState:
        return AKTState()

    def update(self, state: AKTState, question: int, skills: np.ndarray, correct: int) -> AKTState:
        net = self._net()
        skills = np.asarray(skills, dtype=np.int64)[: self.k_max]
        window, stride = self.prm["pred_window"], self.prm["pred_stride"]
        return akt_state.append(net, state, question, skills, correct, window, stride)

    def mastery_from(self, state: AKTState) -> np.ndarray:
        net = self._net()
        return akt_ask.ask(net, state, self.n_skills)

    def mastery(self, history: Interactions) -> np.ndarray:
        net = self._net()
        n = len(history)
        state = akt_state.from_history(
            net,
            [int(x) for x in history.question],
            [np.asarray(history.skills(i), dtype=np.int64)[: self.k_max] for i in range(n)],
            [int(x) for x in history.correct],
            self.prm["pred_window"],
            self.prm["pred_stride"],
        )
        return self.mastery_from(state)

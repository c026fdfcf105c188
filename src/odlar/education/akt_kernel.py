"""AKT's monotonic attention for many queries over one student's history, in one fused
pass (numba): asking all 1,223 Statics skills costs 1,223 x 200 x 4 attention weights per
decoder layer, and eleven PyTorch passes over that buffer (two softmaxes, cumsum, sqrt,
exp, clamps) cost more than the arithmetic. Here a block of queries is kept as
(key, query) rows, so every step, the suffix sum over keys included, runs across queries
in vector registers, and the block stays in cache from scores to output.

Same function as ``kt.mono_weights`` (tested against a float64
forward pass); the weight share after each key is a suffix sum here rather than
``1 - cumsum``, which only differs by float rounding.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: queries per block: loops over fewer run scalar (LLVM vectorises 64 floats at a time),
#: and four (201 keys x 256) float32 buffers still fit a 1 MB L2
BLOCK = 256
_FAST = {"nnan", "ninf", "nsz", "contract"}  # no reassociation: keeps Cody-Waite exact
_LOG2E = np.float32(1.4426950408889634)
_LN2_HI = np.float32(0.693359375)  # ln 2 split in two (Cody and Waite) for exact r
_LN2_LO = np.float32(-2.12194440e-4)
_LOW = np.float32(-87.0)  # exp below this is under float32's normal range: take exp(-87)
_HALF = np.float32(0.5)
_ONE = np.float32(1.0)
_ZERO = np.float32(0.0)
_MIN_EFFECT = np.float32(1e-5)  # AKT clamps the distance effect to [1e-5, 1e5]
_MAX_EFFECT = np.float32(1e5)
# Cephes expf polynomial for exp(r), |r| <= ln2/2 (about 1 ulp in float32)
_P0 = np.float32(1.9875691500e-4)
_P1 = np.float32(1.3981999507e-3)
_P2 = np.float32(8.3334519073e-3)
_P3 = np.float32(4.1665795894e-2)
_P4 = np.float32(1.6666665459e-1)
_P5 = np.float32(5.0000001201e-1)

# Every inner loop runs over one row of BLOCK queries taken as a slice: indexing the flat
# buffer with t * BLOCK + b instead leaves LLVM unsure of aliasing, and the loop scalar.


def _rows(a: np.ndarray, t: int) -> np.ndarray:
    return a[t * BLOCK : (t + 1) * BLOCK]


_row = nb.njit(cache=True, inline="always")(_rows)


@nb.njit(cache=True, boundscheck=False, fastmath=_FAST)
def _exp_part(x: np.ndarray, top: np.ndarray, out: np.ndarray, bits: np.ndarray, n: int) -> None:
    """First half of out = exp(x - top) per (row, query), x - top <= 0: the polynomial of
    the remainder in ``out`` and 2^k as float32 bits in ``bits`` (numba has no vector exp
    here, no SVML; this vectorises). ``_exp_scale`` multiplies them."""
    for t in range(n):
        xs, ys, ks = _row(x, t), _row(out, t), _row(bits, t)
        for b in range(BLOCK):
            v = max(xs[b] - top[b], _LOW)
            k = np.floor(v * _LOG2E + _HALF)
            r = v - k * _LN2_HI - k * _LN2_LO
            p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
            ys[b] = p * r * r + r + _ONE
            ks[b] = (np.int32(k) + np.int32(127)) << np.int32(23)


@nb.njit(cache=True, boundscheck=False, fastmath=_FAST)
def _exp_scale(out: np.ndarray, scale: np.ndarray, total: np.ndarray, n: int) -> None:
    """out *= 2^k (``scale``: the bits seen as float32); total = 1 / column sums."""
    total[:] = 0.0
    for t in range(n):
        ys, ss = _row(out, t), _row(scale, t)
        for b in range(BLOCK):
            e = ys[b] * ss[b]
            ys[b] = e
            total[b] += e
    for b in range(BLOCK):
        total[b] = _ONE / total[b]


@nb.njit(cache=True, boundscheck=False, fastmath=_FAST)
def _softmax_num(
    sc: np.ndarray,
    ex: np.ndarray,
    n: int,
    top: np.ndarray,
    total: np.ndarray,
    bits: np.ndarray,
    scale: np.ndarray,
) -> None:
    """Per query (column) of the (n, BLOCK) rows: ex = exp(sc - max), total = 1 / sum."""
    top[:] = sc[:BLOCK]
    for t in range(1, n):
        row = _row(sc, t)
        for b in range(BLOCK):
            top[b] = max(top[b], row[b])
    _exp_part(sc, top, ex, bits, n)
    _exp_scale(ex, scale, total, n)


@nb.njit(cache=True, boundscheck=False, fastmath=_FAST)
def _decay(
    sc: np.ndarray,
    ex: np.ndarray,
    rs: np.ndarray,
    n: int,
    n_t: int,
    inv_total: np.ndarray,
    g: np.float32,
    zero: np.ndarray,
    bits: np.ndarray,
    scale: np.ndarray,
) -> None:
    """sc *= AKT's distance effect, exp(g * sqrt(share of weight after the key x its
    distance)) clamped to [1e-5, 1e5]; ex holds exp(sc - max) of the first softmax
    (overwritten), inv_total 1 / its column sums, zero BLOCK zeros."""
    _row(rs, n - 1)[:] = 0.0
    for t in range(n - 2, -1, -1):  # suffix sums: the weight after each key
        cur, nxt, e = _row(rs, t), _row(rs, t + 1), _row(ex, t + 1)
        for b in range(BLOCK):
            cur[b] = nxt[b] + e[b]
    for t in range(n):
        row = _row(rs, t)
        dist = np.float32(n_t - t)  # the own key (t = n_t) is at distance 0
        for b in range(BLOCK):
            row[b] = g * np.sqrt(max(row[b] * inv_total[b] * dist, _ZERO))
    _exp_part(rs, zero, ex, bits, n)  # into ex, done with: in place would run scalar
    for t in range(n):
        row, ss, rr = _row(sc, t), _row(scale, t), _row(ex, t)
        for b in range(BLOCK):
            row[b] *= min(max(rr[b] * ss[b], _MIN_EFFECT), _MAX_EFFECT)


@nb.njit(cache=True, boundscheck=False, fastmath=_FAST)
def _scores(row: np.ndarray, kt: np.ndarray, qt: np.ndarray, dk: int) -> None:
    """row = sum over d of kt[d] * qt[d], eight terms per pass over the row added in the
    order of one at a time (the same rounding: 0 + k0 q0 is k0 q0 rounded), so the row is
    loaded and stored an eighth as often: those loads and stores bound the loop, not the
    products."""
    row[:] = 0.0
    d = 0
    while d + 8 <= dk:
        k0, k1, k2, k3 = kt[d], kt[d + 1], kt[d + 2], kt[d + 3]
        k4, k5, k6, k7 = kt[d + 4], kt[d + 5], kt[d + 6], kt[d + 7]
        q0, q1, q2, q3 = qt[d], qt[d + 1], qt[d + 2], qt[d + 3]
        q4, q5, q6, q7 = qt[d + 4], qt[d + 5], qt[d + 6], qt[d + 7]
        for b in range(BLOCK):
            row[b] = (
                row[b] + k0 * q0[b] + k1 * q1[b] + k2 * q2[b] + k3 * q3[b]
                + k4 * q4[b] + k5 * q5[b] + k6 * q6[b] + k7 * q7[b]
            )  # fmt: skip
        d += 8
    for r in range(d, dk):
        kd, qd = kt[r], qt[r]
        for b in range(BLOCK):
            row[b] += kd * qd[b]


@nb.njit(cache=True, boundscheck=False, fastmath=_FAST)
def _weighted(acc: np.ndarray, ex: np.ndarray, v: np.ndarray, n_t: int) -> None:
    """acc[d] += sum over keys t < n_t of weight row t x v[t, d], four keys per pass over
    acc[d] in the order one at a time would add them (as in ``_scores``)."""
    dk = acc.shape[0]
    t = 0
    while t + 8 <= n_t:
        w0, w1, w2, w3 = _row(ex, t), _row(ex, t + 1), _row(ex, t + 2), _row(ex, t + 3)
        w4, w5, w6, w7 = _row(ex, t + 4), _row(ex, t + 5), _row(ex, t + 6), _row(ex, t + 7)
        for d in range(dk):
            a = acc[d]
            v0, v1, v2, v3 = v[t, d], v[t + 1, d], v[t + 2, d], v[t + 3, d]
            v4, v5, v6, v7 = v[t + 4, d], v[t + 5, d], v[t + 6, d], v[t + 7, d]
            for b in range(BLOCK):
                a[b] = (
                    a[b] + w0[b] * v0 + w1[b] * v1 + w2[b] * v2 + w3[b] * v3
                    + w4[b] * v4 + w5[b] * v5 + w6[b] * v6 + w7[b] * v7
                )  # fmt: skip
        t += 8
    while t + 4 <= n_t:
        w0, w1, w2, w3 = _row(ex, t), _row(ex, t + 1), _row(ex, t + 2), _row(ex, t + 3)
        for d in range(dk):
            a = acc[d]
            v0, v1, v2, v3 = v[t, d], v[t + 1, d], v[t + 2, d], v[t + 3, d]
            for b in range(BLOCK):
                a[b] = a[b] + w0[b] * v0 + w1[b] * v1 + w2[b] * v2 + w3[b] * v3
        t += 4
    for r in range(t, n_t):
        w = _row(ex, r)
        for d in range(dk):
            a, vd = acc[d], v[r, d]
            for b in range(BLOCK):
                a[b] += w[b] * vd


@nb.njit(cache=True, boundscheck=False, fastmath=_FAST)
def attend(
    q: np.ndarray,
    own: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    gamma: np.ndarray,
    out: np.ndarray,
    scratch: np.ndarray,
) -> None:
    """Monotonic attention of queries q (S,H,dk) at the position after T history keys
    k and values v (H,T,dk), written to out (S,H,dk). own (S,H,dk) or (0,H,dk): each
    query's own value, a key at distance 0 whose key is the query itself (kq_same); with
    none and T = 0 the output is zero. gamma (H,): each head's (negative) decay.
    scratch (4, >= (T + 1) * BLOCK) float32: reused between calls (no page faults)."""
    n_q, n_h, dk = q.shape
    n_t = k.shape[1]
    self_key = own.shape[0] > 0
    n = n_t + (1 if self_key else 0)
    out[:] = 0.0
    if n == 0:
        return
    inv_scale = np.float32(1.0 / np.sqrt(dk))
    qt = np.zeros((dk, BLOCK), np.float32)
    ot = np.zeros((dk, BLOCK), np.float32)
    m = n * BLOCK
    sc = scratch[0, :m]  # (key, query) rows, flat
    ex = scratch[1, :m]
    rs = scratch[2, :m]
    scale = scratch[3, :m]
    bits = scale.view(np.int32)
    top = np.empty(BLOCK, np.float32)
    total = np.empty(BLOCK, np.float32)
    zero = np.zeros(BLOCK, np.float32)
    acc = np.empty((dk, BLOCK), np.float32)
    for h in range(n_h):
        for s0 in range(0, n_q, BLOCK):
            width = min(BLOCK, n_q - s0)
            qt[:] = 0.0
            ot[:] = 0.0
            for b in range(width):
                for d in range(dk):
                    qt[d, b] = q[s0 + b, h, d] * inv_scale
                    if self_key:
                        ot[d, b] = own[s0 + b, h, d]
            # scores, one row per key; the own key last: the query with itself
            for t in range(n_t):
                _scores(_row(sc, t), k[h, t], qt, dk)
            if self_key:
                row = _row(sc, n_t)
                c = np.float32(1.0 / inv_scale)  # qt holds q / sqrt(dk): undo one
                row[:] = 0.0
                for d in range(dk):
                    qd = qt[d]
                    for b in range(BLOCK):
                        row[b] += qd[b] * qd[b] * c
            _softmax_num(sc, ex, n, top, total, bits, scale)
            _decay(sc, ex, rs, n, n_t, total, gamma[h], zero, bits, scale)
            _softmax_num(sc, ex, n, top, total, bits, scale)
            # the weighted values, then divided by the weights' total
            acc[:] = 0.0
            _weighted(acc, ex, v[h], n_t)
            if self_key:
                w = _row(ex, n_t)
                for d in range(dk):
                    a, od = acc[d], ot[d]
                    for b in range(BLOCK):
                        a[b] += w[b] * od[b]
            for b in range(width):
                for d in range(dk):
                    out[s0 + b, h, d] = acc[d, b] * total[b]


@nb.njit(cache=True, boundscheck=False)
def attend_one(
    q: np.ndarray, own: np.ndarray, k: np.ndarray, v: np.ndarray, gamma: np.ndarray, out: np.ndarray
) -> None:
    """``attend`` for a single query (q (H,dk), own (H,dk) or (0,dk), k and v (H,T,dk),
    out (H,dk)), the state update's: a block of 256 queries would be 255 wasted, and
    the twenty PyTorch calls of one attention cost more than its arithmetic."""
    n_h, n_t, dk = k.shape
    self_key = own.shape[0] > 0
    n = n_t + (1 if self_key else 0)
    out[:] = 0.0
    if n == 0:
        return
    inv_scale = 1.0 / np.sqrt(dk)
    sc = np.empty(n)
    w = np.empty(n)
    for h in range(n_h):
        for t in range(n_t):
            s = 0.0
            for d in range(dk):
                s += q[h, d] * k[h, t, d]
            sc[t] = s * inv_scale
        if self_key:  # the query's own key is the query (kq_same)
            s = 0.0
            for d in range(dk):
                s += q[h, d] * q[h, d]
            sc[n_t] = s * inv_scale
        top = sc.max()
        total = 0.0
        for t in range(n):
            w[t] = np.exp(sc[t] - top)
            total += w[t]
        after = 0.0  # the weight after key t, as a share of all: the suffix sum
        for t in range(n - 1, -1, -1):
            share = after / total
            after += w[t]
            effect = np.exp(gamma[h] * np.sqrt(max(share * (n_t - t), 0.0)))
            sc[t] *= min(max(effect, 1e-5), 1e5)
        top = sc.max()
        total = 0.0
        for t in range(n):
            w[t] = np.exp(sc[t] - top)
            total += w[t]
        for d in range(dk):
            s = 0.0
            for t in range(n_t):
                s += w[t] * v[h, t, d]
            if self_key:
                s += w[n_t] * own[h, d]
            out[h, d] = s / total

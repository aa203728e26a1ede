"""Plain-NumPy GD on a DLN with full matrices — the independent side of the theory checks.

Deliberately naive: each gradient is formed from explicit products
∇W_l = (W_L⋯W_{l+1})ᵀ (W_{L:1} − M*) (W_{l−1}⋯W_1)ᵀ, with no reuse between layers, so it
shares no code and no algebra with theory's per-mode recurrences.
"""

from __future__ import annotations

from functools import reduce

import numpy as np


def product(Ws, lo, hi, n):
    """W_hi ⋯ W_lo (1-based, inclusive); the n×n identity when the range is empty."""
    mats = [Ws[i] for i in range(hi - 1, lo - 2, -1)]
    return reduce(np.matmul, mats) if mats else np.eye(n)


def gradients(Ws, M):
    L = len(Ws)
    R = product(Ws, 1, L, None) - M
    out = []
    for l in range(1, L + 1):
        left = product(Ws, l + 1, L, Ws[l - 1].shape[0])
        right = product(Ws, 1, l - 1, Ws[l - 1].shape[1])
        out.append(left.T @ R @ right.T)
    return out


def gd(Ws, M, *, eta, steps, step_scales=None):
    """Run GD; yields the end-to-end product at t = 0..steps."""
    Ws = [W.copy() for W in Ws]
    sc = np.ones(len(Ws)) if step_scales is None else np.asarray(step_scales, float)
    yield product(Ws, 1, len(Ws), None)
    for _ in range(steps):
        G = gradients(Ws, M)
        Ws = [W - eta * s * g for W, s, g in zip(Ws, sc, G)]
        yield product(Ws, 1, len(Ws), None)


def algorithm1_init(U, V, rank_hat, depth, eps):
    """Algorithm 1's layers on the target's own singular vectors (Theorem 1's setting)."""
    return [eps * V[:, :rank_hat].T] + [eps * np.eye(rank_hat) for _ in range(depth - 2)] + [eps * U[:, :rank_hat]]


class _Counter:
    """Matrix product that counts its multiply-accumulates."""

    def __init__(self):
        self.macs = 0

    def __call__(self, A, B):
        self.macs += A.shape[0] * A.shape[1] * B.shape[1]
        return A @ B


def counting_gd_step(Ws, M, eta):
    """One GD step in the prefix/suffix scheme of theory.cost, counting multiply-accumulates."""
    mm = _Counter()
    L = len(Ws)
    P = [Ws[0]]
    for l in range(2, L + 1):
        P.append(mm(Ws[l - 1], P[-1]))
    B = P[-1] - M
    grads = [None] * L
    for l in range(L, 0, -1):
        grads[l - 1] = B if l == 1 else mm(B, P[l - 2].T)
        if l > 1:
            B = mm(Ws[l - 1].T, B)
    return [W - eta * g for W, g in zip(Ws, grads)], mm.macs


def counting_factored_step(Ws, M, eta):
    """The residual-free step of sim.gd (factorization), counting multiply-accumulates."""
    mm = _Counter()
    L = len(Ws)
    P = [Ws[0]]
    for l in range(2, L):
        P.append(mm(Ws[l - 1], P[-1]))
    WL, PL = Ws[-1], P[-1]
    grads = [None] * L
    grads[-1] = mm(WL, mm(PL, PL.T)) - mm(M, PL.T)
    B = mm(mm(WL.T, WL), PL) - mm(WL.T, M)
    for l in range(L - 1, 0, -1):
        grads[l - 1] = B if l == 1 else mm(B, P[l - 2].T)
        if l > 1:
            B = mm(Ws[l - 1].T, B)
    return [W - eta * g for W, g in zip(Ws, grads)], mm.macs

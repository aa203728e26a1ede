"""Re-check a sequel (edge-of-stability) counterexample with NumPy alone (no theory, no sim, no torch).

Every such counterexample carries ``"eos": KIND``, the target ``M_star``, the initial layers, the step and
the number of steps; GD is rerun here from those numbers with explicit products and the margin recomputed
(negative: the claim, as stated, fails). Called by :func:`verify.recheck.recheck` for ``"eos"`` examples.

Kinds:
- ``subspace-count``: the claim is a 2-cycle whose two points differ in rank #{i: η > 2/(Lσ_i^{2−2/L})};
  margin −(|rank − count| + [the last iterate is not within rank_rtol of the one two steps before]).
- ``gap-monotone``: the top mode's |x_2² − x_1²| (layers' top singular values); margin = rounding budget
  − its largest one-step increase.
- ``gap-limit`` (1×1 layers): the sharpness exceeded 2/η at the start, yet the gap stays; margin
  −min(|g_T|/|g_0|, η·s_0/2 − 1).
- ``depth-sharpness`` (1×1 layers, two depths): sharpness of GD's minimum at L+1 minus at L.
"""

from __future__ import annotations

from functools import reduce

import numpy as np

__all__ = ["recheck_eos"]


def _e2e(Ws):
    return reduce(lambda P, W: W @ P, Ws[1:], Ws[0])


def _step(Ws, M, eta, scales):
    G = _e2e(Ws) - M
    out = []
    for l in range(len(Ws)):
        left = _e2e(Ws[l + 1:]) if l + 1 < len(Ws) else np.eye(M.shape[0])
        right = _e2e(Ws[:l]) if l > 0 else np.eye(M.shape[1])
        out.append(Ws[l] - eta * scales[l] * (left.T @ G @ right.T))
    return out


def _run(c, layers_key="layers_W1_to_WL"):
    M = np.array(c["M_star"], dtype=float)
    Ws = [np.array(W, dtype=float) for W in c[layers_key]]
    a = c.get("alpha", 1.0)
    sc = [a] + [1.0] * (len(Ws) - 2) + [a] if len(Ws) > 2 else [a, a]
    hist = [Ws]
    for _ in range(int(c["steps"])):
        Ws = _step(Ws, M, c["eta"], sc)
        hist.append(Ws)
    return M, hist


def _scalar_sharpness(xs, sigma):
    """Top Hessian eigenvalue of ½(∏x − σ)² at x: H = ggᵀ + e·∂²p, g_i = ∏_{k≠i}x_k, (∂²p)_ij = ∏_{k≠i,j}x_k
    (i ≠ j; 0 on the diagonal), e = ∏x − σ. The products are formed directly, never as p/x_i, so a zero layer
    scalar (the saddle) is exact rather than 0/0."""
    x = np.array(xs, dtype=float)
    n = x.size
    g = np.array([np.prod(np.delete(x, i)) for i in range(n)])
    d2 = np.array([[np.prod(np.delete(x, [i, j])) if i != j else 0.0 for j in range(n)] for i in range(n)])
    H = np.outer(g, g) + (np.prod(x) - sigma) * d2
    return float(np.linalg.eigvalsh(H)[-1])


def recheck_eos(c: dict) -> float:
    kind = c["eos"]
    if kind == "subspace-count":
        M, hist = _run(c)
        P1, P0, Pm = _e2e(hist[-1]), _e2e(hist[-2]), _e2e(hist[-3])
        scale = c["rank_rtol"] * np.max(np.abs(P1))
        s = np.linalg.svd(P1 - P0, compute_uv=False)
        rank = int(np.sum(s > scale * max(P1.shape)))
        periodic = bool(np.max(np.abs(P1 - Pm)) <= scale)
        sig = np.linalg.svd(M, compute_uv=False)
        L = len(hist[0])
        count = int(np.sum((sig > 0) & (c["eta"] > 2.0 / (L * np.where(sig > 0, sig, 1.0) ** (2 - 2 / L)))))
        return -float(abs(rank - count) + (not periodic))
    if kind == "gap-monotone":
        _, hist = _run(c)
        s = np.array([[np.linalg.svd(W, compute_uv=False)[0] for W in Ws] for Ws in hist])
        g = np.abs(s[:, 1] ** 2 - s[:, 0] ** 2)
        return float(c["rounding_budget"] - np.max(np.diff(g)))
    if kind == "gap-limit":
        M, hist = _run(c)
        x0 = [W[0, 0] for W in hist[0]]
        xT = [W[0, 0] for W in hist[-1]]
        s0 = _scalar_sharpness(x0, M[0, 0])
        g0, gT = x0[1] ** 2 - x0[0] ** 2, xT[1] ** 2 - xT[0] ** 2
        return -float(min(abs(gT) / abs(g0), c["eta"] * s0 / 2 - 1))
    if kind == "depth-sharpness":
        out = []
        for key in ("layers_depth_L", "layers_depth_L_plus_1"):
            M, hist = _run(c, key)
            out.append(_scalar_sharpness([W[0, 0] for W in hist[-1]], M[0, 0]))
        return float(out[1] - out[0])
    raise ValueError(f"unknown eos counterexample kind {kind!r}")

r"""Initial weights of the wide DLN (Eqs. 3–4 and random inits) and the compressed DLN (Algorithm 1).

Weights are lists ``[W_1, …, W_L]`` of tensors of shape (B, d_l, d_{l−1}), one slice per seed,
each drawn in float64 on the CPU from its own seed (so a batch equals its single runs), then
cast and moved. Each model comes with per-layer step multipliers (α on the outer layers of
the compressed DLN, 1 elsewhere).
"""

from __future__ import annotations

import numpy as np
import torch

import theory

from .linalg import orthonormal_columns

__all__ = ["init_wide", "init_compressed", "widths_of"]


def widths_of(cfg) -> tuple[int, ...]:
    if cfg.model == "wide":
        if cfg.widths:
            n1, n2 = cfg.shape
            return (n2, *cfg.widths, n1)
        return theory.wide_widths(cfg.shape, cfg.depth, cfg.width)
    return theory.compressed_widths(cfg.shape, cfg.depth, cfg.rank_hat)


def _semi_orthogonal(rng, rows: int, cols: int) -> np.ndarray:
    """Haar (semi-)orthogonal rows×cols matrix: QᵀQ = I (tall) or QQᵀ = I (wide), Eq. (4)."""
    n, k = max(rows, cols), min(rows, cols)
    Q = orthonormal_columns(rng.standard_normal((n, k)))  # QR, sign of R's diagonal fixed, rank checked
    return Q if rows >= cols else Q.T


def _wide_layer(init: str, rng, rows: int, cols: int, eps: float) -> np.ndarray:
    if init == "orthogonal":  # singular values ε per layer: the scaling of Corollary 1's proof
        return eps * _semi_orthogonal(rng, rows, cols)
    if init == "orthogonal-eq3":  # Eq. (3) literally: WᵀW = εI, singular values √ε
        return np.sqrt(eps) * _semi_orthogonal(rng, rows, cols)
    # small random inits, Frobenius-matched to the orthogonal one: E‖W‖_F² = ε² min(rows, cols)
    s = eps * np.sqrt(min(rows, cols) / (rows * cols))
    if init == "gaussian":
        return s * rng.standard_normal((rows, cols))
    return rng.uniform(-np.sqrt(3) * s, np.sqrt(3) * s, (rows, cols))  # uniform, variance s²


def init_wide(cfg, seeds, device) -> tuple[list[torch.Tensor], list[float]]:
    ws = widths_of(cfg)
    L = len(ws) - 1
    layers = [[] for _ in range(L)]
    for s in seeds:
        for l in range(L):
            rng = np.random.default_rng([s, 10 + l])
            layers[l].append(_wide_layer(cfg.resolved_init, rng, ws[l + 1], ws[l], cfg.eps))
    Ws = [torch.as_tensor(np.stack(x), dtype=cfg.torch_dtype, device=device) for x in layers]
    return Ws, [1.0] * L


def init_compressed(cfg, problem, device) -> tuple[list[torch.Tensor], list[float]]:
    r"""Algorithm 1: :math:`\widetilde W_L=\epsilon U_{\hat r}`, :math:`\widetilde W_1=\epsilon V_{\hat r}^\top`,
    :math:`\widetilde W_l=\epsilon I_{\hat r}`; U, V from the surrogate (Eq. 8, ``init="spectral"``)
    or from the target itself (``init="oracle"``, Theorem 1's setting), as the problem computes them
    (:meth:`sim.problems.Problem.spectral_factors`: a dense SVD, or ARPACK for sparse storage).

    The SVD's sign choice does not matter: flipping :math:`u_i` and :math:`v_i` together flips a
    column of :math:`\widetilde W_L` and a row of :math:`\widetilde W_1`, which GD carries along
    exactly (IEEE rounding is sign-symmetric), so every logged number is bitwise the same; columns
    past the source's rank are a fixed completion, not the LAPACK's null-space basis."""
    rh, L, eps = cfg.rank_hat, cfg.depth, cfg.eps
    Us, Vs = problem.spectral_factors(rh, cfg.seed_list, oracle=cfg.resolved_init == "oracle")
    Vts = [V.T for V in Vs]
    dt = cfg.torch_dtype
    U = torch.as_tensor(np.stack(Us), dtype=dt, device=device)
    Vt = torch.as_tensor(np.stack(Vts), dtype=dt, device=device)
    B = U.shape[0]
    eye = torch.eye(rh, dtype=dt, device=device).expand(B, rh, rh)
    Ws = [eps * Vt] + [eps * eye.clone() for _ in range(L - 2)] + [eps * U]
    scales = [cfg.alpha] + [1.0] * (L - 2) + [cfg.alpha]
    return Ws, scales

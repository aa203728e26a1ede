r"""Initial weights of the wide DLN (Eqs. 3–4 and random inits) and the compressed DLN (Algorithm 1).

Weights are lists ``[W_1, …, W_L]`` of tensors of shape :math:`(B, d_l, d_{l−1})`, one slice per seed,
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


def _per_instance(value, default, n: int, name: str) -> list[float]:
    """``value`` (one number or one per instance) as a list of n floats; ``None`` → ``default``."""
    v = default if value is None else value
    out = [float(x) for x in v] if hasattr(v, "__len__") else [float(v)] * n
    if len(out) != n:
        raise ValueError(f"{name} must give one value per instance ({n}), got {len(out)}")
    return out


def init_wide(cfg, seeds, device, *, eps=None) -> tuple[list[torch.Tensor], list[float]]:
    """Each seed's layers (``eps``: one ε per instance for a batch of configs that differ in it, :mod:`sim.many`)."""
    ws = widths_of(cfg)
    L = len(ws) - 1
    epss = _per_instance(eps, cfg.eps, len(seeds), "eps")
    layers = [[] for _ in range(L)]
    for s, e in zip(seeds, epss):
        for l in range(L):
            rng = np.random.default_rng([s, 10 + l])
            layers[l].append(_wide_layer(cfg.resolved_init, rng, ws[l + 1], ws[l], e))
    Ws = [torch.as_tensor(np.stack(x), dtype=cfg.torch_dtype, device=device) for x in layers]
    return Ws, [1.0] * L


def init_compressed(cfg, problem, device, *, seeds=None, eps=None, alpha=None) -> tuple[list[torch.Tensor], list]:
    r"""Algorithm 1: :math:`\widetilde W_L=\epsilon U_{\hat r}`, :math:`\widetilde W_1=\epsilon V_{\hat r}^\top`,
    :math:`\widetilde W_l=\epsilon I_{\hat r}`; U, V from the surrogate (Eq. 8, ``init="spectral"``)
    or from the target itself (``init="oracle"``, Theorem 1's setting), as the problem computes them
    (:meth:`sim.problems.Problem.spectral_factors`: a dense SVD, or ARPACK for sparse storage).

    The SVD's sign choice does not matter: flipping :math:`u_i` and :math:`v_i` together flips a
    column of :math:`\widetilde W_L` and a row of :math:`\widetilde W_1`, which GD carries along
    exactly (IEEE rounding is sign-symmetric), so every logged number is bitwise the same; columns
    past the source's rank are a fixed completion, not the LAPACK's null-space basis.

    ``seeds`` (default ``cfg.seed_list``) are the instances' seeds; ``eps`` and ``alpha`` may give one value
    per instance (a batch of configs, :mod:`sim.many`): ε
    multiplies each instance's slice (an exactly rounded product, as the scalar one), and the outer
    layers' multipliers become per-instance lists."""
    rh, L = cfg.rank_hat, cfg.depth
    seeds = cfg.seed_list if seeds is None else list(seeds)
    B = len(seeds)
    Us, Vs = problem.spectral_factors(rh, seeds, oracle=cfg.resolved_init == "oracle")
    Vts = [V.T for V in Vs]
    dt = cfg.torch_dtype
    U = torch.as_tensor(np.stack(Us), dtype=dt, device=device)
    Vt = torch.as_tensor(np.stack(Vts), dtype=dt, device=device)
    eye = torch.eye(rh, dtype=dt, device=device).expand(B, rh, rh)
    if eps is None:
        eps = cfg.eps
    else:
        eps = torch.tensor(_per_instance(eps, None, B, "eps"), dtype=dt, device=device).reshape(B, 1, 1)
    Ws = [eps * Vt] + [eps * eye.clone() for _ in range(L - 2)] + [eps * U]
    a = cfg.alpha if alpha is None else _per_instance(alpha, None, B, "alpha")
    scales = [a] + [1.0] * (L - 2) + [a]
    return Ws, scales

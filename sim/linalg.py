r"""Linear algebra whose answer is decided by the code, never by how a LAPACK treats a degenerate input.

* :func:`orthonormal_columns`: Q of a QR with R's diagonal made positive, rank checked.
* :func:`complete_basis`: a fixed orthonormal completion of an orthonormal Q (seeded, sign-fixed).
* :func:`solve_normal_equations` / :func:`least_squares_columns`: minimum-norm least squares from
  Gram matrices, zero-observation systems exactly 0, rank-deficient ones by an explicit
  eigen-decomposition with a stated cutoff (the rules are in :mod:`sim.altmin`'s docstring).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["orthonormal_columns", "complete_basis", "solve_normal_equations", "least_squares_columns",
           "COMPLETION_SEED"]

COMPLETION_SEED = 0  #: seed of the Gaussian that fixes a basis's columns beyond the numerical rank


def orthonormal_columns(A: np.ndarray) -> np.ndarray:
    r"""The Q of A = QR (A of shape (n, k), k <= n) with R's diagonal made positive: unique for a
    full-rank A, so it does not depend on a LAPACK's Householder sign convention.

    A rank-deficient A has a zero :math:`R_{ii}` (R triangular), for which any column of Q would
    do: raises ValueError when :math:`\min_i|R_{ii}|\le\max(n,k)\,\epsilon_\text{mach}\max_i|R_{ii}|`
    (QR's backward error is a small multiple of that), instead of taking the LAPACK's choice.
    The sign is taken as +1 where :math:`R_{ii}\ge0` (``np.sign`` would give 0 for a zero one)."""
    A = np.asarray(A, dtype=float)
    n, k = A.shape
    if not 1 <= k <= n:
        raise ValueError(f"A must have 1 <= columns <= rows, got shape {A.shape}")
    Q, R = np.linalg.qr(A)
    d = np.abs(np.diag(R))
    if not d.min() > max(n, k) * np.finfo(float).eps * d.max():
        raise ValueError(f"A must have full column rank {k} for a unique orthonormal basis; "
                         f"min |R_ii| / max |R_ii| = {d.min() / d.max() if d.max() > 0 else 0.0:.3g}")
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def _pinv_solve(G: torch.Tensor, rhs: torch.Tensor, rtol: torch.Tensor) -> torch.Tensor:
    """Minimum-norm solutions of (n, k, k) PSD systems, eigenvalues <= rtol·λ_max treated as zero."""
    w, Q = torch.linalg.eigh(G)                      # ascending: w[..., -1] is λ_max >= 0
    keep = w > (rtol * w[..., -1])[..., None]
    inv = torch.where(keep, 1.0 / torch.where(keep, w, torch.ones_like(w)), torch.zeros_like(w))
    c = torch.einsum("nrk,nr->nk", Q, rhs) * inv
    return torch.einsum("nrk,nk->nr", Q, c)


def solve_normal_equations(G: torch.Tensor, rhs: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Minimum-norm solutions x of G x = rhs for PSD Gram matrices G (..., k, k) summed from ``counts``
    (...) observations each (an integer: 0 gives x = 0 exactly, without calling a solver); see
    :mod:`sim.altmin` for the cutoff and the well-posed / rank-deficient split."""
    k = G.shape[-1]
    eps = torch.finfo(G.dtype).eps
    diag = torch.diagonal(G, dim1=-2, dim2=-1)
    scale = diag.amax(-1)                            # 0 exactly iff G_j = 0 (PSD)
    rtol = counts.clamp_min(k).to(G.dtype) * eps
    eye = torch.eye(k, dtype=G.dtype, device=G.device)
    full = (counts >= k) & (scale > 0)
    L, info = torch.linalg.cholesky_ex(torch.where(full[..., None, None], G, eye))
    piv = torch.diagonal(L, dim1=-2, dim2=-1) ** 2
    good = full & (info == 0) & (piv.amin(-1) > rtol * scale)   # NaN pivots compare False
    L = torch.where(good[..., None, None], L, eye)
    x = torch.cholesky_solve(rhs.unsqueeze(-1), L).squeeze(-1)
    x = torch.where(good[..., None], x, torch.zeros_like(x))    # unobserved / zero Gram: exactly 0
    deficient = (counts > 0) & (scale > 0) & ~good
    if bool(deficient.any()):
        idx = deficient.nonzero(as_tuple=True)
        x[idx] = _pinv_solve(G[idx], rhs[idx], rtol[idx])
    return x


def least_squares_columns(F: torch.Tensor, mask: torch.Tensor, MM: torch.Tensor) -> torch.Tensor:
    """Minimum-norm x_j = argmin Σ_i mask_ij (F_i·x_j − M_ij)² for every column j (:mod:`sim.altmin`).

    F (B, n, k), mask (B, n, m) of 0/1, MM = mask ⊙ M (B, n, m); returns (B, m, k)."""
    counts = (mask != 0).sum(dim=1)                  # (B, m) observations per column, an integer
    G = torch.einsum("bir,bij,bis->bjrs", F, mask, F)
    rhs = torch.einsum("bir,bij->bjr", F, MM)
    return solve_normal_equations(G, rhs, counts)


def complete_basis(Q: np.ndarray, k: int) -> np.ndarray:
    """Q (n, j) orthonormal, completed to (n, k) by a fixed orthonormal basis orthogonal to it."""
    n, j = Q.shape
    if j == k:
        return Q
    Z = np.random.default_rng(COMPLETION_SEED).standard_normal((n, k - j))
    for _ in range(2):  # classical Gram-Schmidt twice: orthogonal to Q to rounding
        Z = Z - Q @ (Q.T @ Z)
    return np.concatenate([Q, orthonormal_columns(Z)], axis=1)

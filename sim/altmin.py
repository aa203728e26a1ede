r"""AltMin (Jain, Netrapalli & Sanghavi 2013): the paper's matrix-completion baseline.

Spectral init :math:`U_0` = top-r̂ left singular vectors of :math:`P_\Omega(M^*)/p`, then
alternating least squares on the observed entries,

.. math:: V\leftarrow\arg\min_V\|P_\Omega(UV^\top-M^*)\|_F^2,\qquad
          U\leftarrow\arg\min_U\|P_\Omega(UV^\top-M^*)\|_F^2,

solved column by column (row by row) from the r̂×r̂ normal equations
:math:`G_jx_j=b_j`, :math:`G_j=\sum_{i\in\Omega_j}F_iF_i^\top`, batched over runs. Every column
gets the **minimum-norm** least-squares solution :math:`x_j=G_j^+b_j`, and the degenerate cases
are decided by the code, never by what a LAPACK does with a singular matrix:

* **no observation** (:math:`|\Omega_j|=0`, counted as an integer): :math:`x_j=0` exactly — the
  objective does not depend on :math:`x_j`, and 0 is its minimum-norm minimiser. The solver never
  sees such a column. The same holds when :math:`G_j` is exactly zero (every observed row of F is
  zero; tested on its diagonal, which for a Gram matrix is zero only then).
* **well posed** (:math:`|\Omega_j|\ge\hat r` and a Cholesky factorisation whose every pivot
  :math:`\ell_{ii}^2` exceeds :math:`\tau_j\max_i(G_j)_{ii}`): the unique solution, by batched
  Cholesky over all such columns (no ridge: well-posed columns are solved exactly).
* **rank deficient** (:math:`0<|\Omega_j|<\hat r`, where :math:`\operatorname{rank}G_j\le|\Omega_j|<\hat r`,
  or a failed / tiny pivot): :math:`x_j=\sum_{\lambda_k>\tau_j\lambda_{\max}}\lambda_k^{-1}q_kq_k^\top b_j`
  from an explicit eigen-decomposition. The eigenvectors of the dropped (numerically zero)
  eigenvalues, which are whatever the LAPACK returns, are multiplied by 0; the kept part is
  independent of their signs and of any rotation within a repeated eigenvalue.

The relative cutoff is :math:`\tau_j=\max(|\Omega_j|,\hat r)\,\epsilon_\text{mach}`: forming
:math:`G_j` sums :math:`|\Omega_j|` products, whose rounding error is bounded by
:math:`|\Omega_j|\epsilon_\text{mach}` times :math:`\lambda_{\max}` (the dot-product bound
:math:`\gamma_n`), so an eigenvalue or pivot below it cannot be told apart from zero. (A pivot
is at least :math:`\lambda_{\min}`, and an exactly rank-deficient PSD matrix has a zero pivot, so
the pivot test sends every numerically singular :math:`G_j` to the eigen path.)

The spectral init keeps the singular vectors of :math:`P_\Omega(M^*)/p` whose singular value
exceeds :math:`\max(n_1,n_2)\,\epsilon_\text{mach}\,\sigma_1` (NumPy's ``matrix_rank`` cutoff); when
fewer than r̂ do (e.g. factorization with r̂ > rank M*), the remaining columns of :math:`U_0` — for
which a LAPACK would return an arbitrary basis of the null space — are a fixed orthonormal
completion (:func:`_complete`): a seeded Gaussian projected off the kept vectors, then QR with
the sign of R's diagonal fixed. p is the integer count |Ω| over n₁n₂.

Compared with the former ridge of 1e-12 × the mean diagonal, well-posed columns change by the
ridge's relative effect (~1e-12 times their condition number) plus rounding (Cholesky instead of LU).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .gd import Trace, log_metrics
from .problems import orthonormal_columns

__all__ = ["run_altmin", "least_squares_columns", "spectral_init"]

COMPLETION_SEED = 0  #: seed of the Gaussian that fixes U_0's columns beyond the numerical rank


def _pinv_solve(G: torch.Tensor, rhs: torch.Tensor, rtol: torch.Tensor) -> torch.Tensor:
    """Minimum-norm solutions of (n, k, k) PSD systems, eigenvalues <= rtol·λ_max treated as zero."""
    w, Q = torch.linalg.eigh(G)                      # ascending: w[..., -1] is λ_max >= 0
    keep = w > (rtol * w[..., -1])[..., None]
    inv = torch.where(keep, 1.0 / torch.where(keep, w, torch.ones_like(w)), torch.zeros_like(w))
    c = torch.einsum("nrk,nr->nk", Q, rhs) * inv
    return torch.einsum("nrk,nk->nr", Q, c)


def least_squares_columns(F: torch.Tensor, mask: torch.Tensor, MM: torch.Tensor) -> torch.Tensor:
    """Minimum-norm x_j = argmin Σ_i mask_ij (F_i·x_j − M_ij)² for every column j (module docstring).

    F (B, n, k), mask (B, n, m) of 0/1, MM = mask ⊙ M (B, n, m); returns (B, m, k)."""
    k = F.shape[-1]
    eps = torch.finfo(F.dtype).eps
    counts = (mask != 0).sum(dim=1)                  # (B, m) observations per column, an integer
    G = torch.einsum("bir,bij,bis->bjrs", F, mask, F)
    rhs = torch.einsum("bir,bij->bjr", F, MM)
    diag = torch.diagonal(G, dim1=-2, dim2=-1)
    scale = diag.amax(-1)                            # 0 exactly iff G_j = 0 (PSD)
    rtol = counts.clamp_min(k).to(F.dtype) * eps
    eye = torch.eye(k, dtype=F.dtype, device=F.device)
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


def _complete(Q: np.ndarray, k: int) -> np.ndarray:
    """Q (n, j) orthonormal, completed to (n, k) by a fixed orthonormal basis orthogonal to it."""
    n, j = Q.shape
    if j == k:
        return Q
    Z = np.random.default_rng(COMPLETION_SEED).standard_normal((n, k - j))
    for _ in range(2):  # classical Gram-Schmidt twice: orthogonal to Q to rounding
        Z = Z - Q @ (Q.T @ Z)
    return np.concatenate([Q, orthonormal_columns(Z)], axis=1)


def spectral_init(MM: np.ndarray, n_observed: int, k: int) -> np.ndarray:
    """U_0 (n1, k): top-k left singular vectors of P_Ω(M*)/p above the rank cutoff, completed (module docstring)."""
    p = n_observed / MM.size
    U, S, _ = np.linalg.svd(MM / p, full_matrices=False)
    rank = int(np.count_nonzero(S[:k] > max(MM.shape) * np.finfo(np.float64).eps * S[0])) if S[0] > 0 else 0
    return _complete(U[:, :rank], k)


def run_altmin(problem, *, rank_hat: int, steps: int, log_every: int, n_sv: int, tol: float = 0.0,
               progress=None) -> Trace:
    mask = problem.mask if problem.mask is not None else torch.ones_like(problem.target)
    MM = problem.target * mask
    counts = (mask != 0).sum(dim=(1, 2)).cpu().tolist()  # >= 1: Problem rejects an empty mask
    Us = [spectral_init(Mk, int(c), rank_hat) for Mk, c in zip(MM.detach().to("cpu", torch.float64).numpy(), counts)]
    U = torch.as_tensor(np.stack(Us), dtype=MM.dtype, device=MM.device)
    V = least_squares_columns(U, mask, MM)
    trace = Trace()
    log_metrics(trace, [V.transpose(1, 2), U], problem, 0, 0.0, n_sv)
    elapsed, t = 0.0, 0
    sync = torch.cuda.synchronize if MM.is_cuda else (lambda: None)
    maskT, MMT = mask.transpose(1, 2), MM.transpose(1, 2)
    with torch.no_grad():
        while t < steps:
            chunk = min(log_every - t % log_every, steps - t)
            sync()
            t0 = time.perf_counter()
            for _ in range(chunk):
                U = least_squares_columns(V, maskT, MMT)
                V = least_squares_columns(U, mask, MM)
                t += 1
            sync()
            elapsed += time.perf_counter() - t0
            m = log_metrics(trace, [V.transpose(1, 2), U], problem, t, elapsed, n_sv)
            if progress is not None:
                progress(t, float(np.mean(m["train_loss"])), float(np.mean(m["recovery_error"])), t / max(elapsed, 1e-12))
            if tol > 0 and np.all(m["train_loss"] < tol):
                trace.stopped = "tolerance"
                break
    return trace

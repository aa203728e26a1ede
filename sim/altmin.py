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
completion (:func:`sim.linalg.complete_basis`): a seeded Gaussian projected off the kept vectors, then QR with
the sign of R's diagonal fixed. p is the integer count |Ω| over n₁n₂.

Compared with the former ridge of 1e-12 × the mean diagonal, well-posed columns change by the
ridge's relative effect (~1e-12 times their condition number) plus rounding (Cholesky instead of LU).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .gd import Trace, log_metrics
from .linalg import complete_basis, least_squares_columns

__all__ = ["run_altmin", "least_squares_columns", "spectral_init"]

def spectral_init(MM: np.ndarray, n_observed: int, k: int) -> np.ndarray:
    """U_0 (n1, k): top-k left singular vectors of P_Ω(M*)/p above the rank cutoff, completed (module docstring)."""
    p = n_observed / MM.size
    U, S, _ = np.linalg.svd(MM / p, full_matrices=False)
    rank = int(np.count_nonzero(S[:k] > max(MM.shape) * np.finfo(np.float64).eps * S[0])) if S[0] > 0 else 0
    return complete_basis(U[:, :rank], k)


def run_altmin(problem, *, rank_hat: int, steps: int, log_every: int, n_sv: int, tol: float = 0.0,
               progress=None) -> Trace:
    U = problem.altmin_init(rank_hat)
    V = problem.least_squares(U, "cols")
    trace = Trace()
    log_metrics(trace, [V.transpose(1, 2), U], problem, 0, 0.0, n_sv)
    elapsed, t = 0.0, 0
    sync = torch.cuda.synchronize if U.is_cuda else (lambda: None)
    with torch.no_grad():
        while t < steps:
            chunk = min(log_every - t % log_every, steps - t)
            sync()
            t0 = time.perf_counter()
            for _ in range(chunk):
                U = problem.least_squares(V, "rows")
                V = problem.least_squares(U, "cols")
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

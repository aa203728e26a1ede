r"""AltMin (Jain, Netrapalli & Sanghavi 2013): the paper's matrix-completion baseline.

Spectral init :math:`U_0` = top-r̂ left singular vectors of :math:`P_\Omega(M^*)/p`, then
alternating least squares on the observed entries,

.. math:: V\leftarrow\arg\min_V\|P_\Omega(UV^\top-M^*)\|_F^2,\qquad
          U\leftarrow\arg\min_U\|P_\Omega(UV^\top-M^*)\|_F^2,

solved column by column (row by row) from the r̂×r̂ normal equations, batched over runs. A
ridge of 1e-12 × (mean diagonal of each Gram matrix) keeps columns with fewer than r̂
observations solvable; it changes well-posed solves by ~1e-12 relative.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from .gd import Trace, log_metrics

__all__ = ["run_altmin"]

RIDGE = 1e-12


def _ls(F: torch.Tensor, mask: torch.Tensor, MM: torch.Tensor) -> torch.Tensor:
    """Rows x_j = argmin Σ_i mask_ij (F_i·x_j − M_ij)² for every column j; F (B, n, k), mask/MM (B, n, m)."""
    G = torch.einsum("bir,bij,bis->bjrs", F, mask, F)
    rhs = torch.einsum("bir,bij->bjr", F, MM)
    k = F.shape[-1]
    lam = RIDGE * torch.diagonal(G, dim1=-2, dim2=-1).mean(-1).clamp_min(1e-300)
    G = G + lam[..., None, None] * torch.eye(k, dtype=F.dtype, device=F.device)
    return torch.linalg.solve(G, rhs.unsqueeze(-1)).squeeze(-1)


def run_altmin(problem, *, rank_hat: int, steps: int, log_every: int, n_sv: int, tol: float = 0.0,
               progress=None) -> Trace:
    mask = problem.mask if problem.mask is not None else torch.ones_like(problem.target)
    MM = problem.target * mask
    p = mask.sum(dim=(1, 2)) / mask[0].numel()
    Us = []
    for Mk, pk in zip(MM.detach().to("cpu", torch.float64).numpy(), p.cpu().numpy()):
        Us.append(np.linalg.svd(Mk / pk, full_matrices=False)[0][:, :rank_hat])
    U = torch.as_tensor(np.stack(Us), dtype=MM.dtype, device=MM.device)
    V = _ls(U, mask, MM)
    trace = Trace()
    log_metrics(trace, [V.transpose(1, 2), U], problem, 0, 0.0, n_sv)
    elapsed, t = 0.0, 0
    sync = torch.cuda.synchronize if MM.is_cuda else (lambda: None)
    with torch.no_grad():
        while t < steps:
            chunk = min(log_every - t % log_every, steps - t)
            sync()
            t0 = time.perf_counter()
            for _ in range(chunk):
                U = _ls(V, mask.transpose(1, 2), MM.transpose(1, 2))
                V = _ls(U, mask, MM)
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

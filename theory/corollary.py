r"""Corollary 1: the wide and compressed DLNs' errors at t = 0, exactly.

Wide DLN at t = 0: a product of L ε-scaled (semi-)orthogonal layers, so
:math:`W_{L:1}(0)=s_0\,Q` with Q (semi-)orthogonal and :math:`s_0=\epsilon^L` under the
scaling used in the proof of Corollary 1 (singular values ε per layer), or
:math:`s_0=\epsilon^{L/2}` under Eq. (3) read literally (:math:`W_l^\top W_l=\epsilon I`, i.e.
singular values √ε). With :math:`k=\min(n_1,n_2)` and the overlap
:math:`\omega=\operatorname{tr}(Q^\top M^*)`,

.. math:: \|W_{L:1}(0)-M^*\|_F^2 = k s_0^2 + \|M^*\|_F^2 - 2 s_0\,\omega
          \;\ge\; k s_0^2 + \|M^*\|_F^2 - 2 s_0\|M^*\|_*,

the bound (Lemma 1, von Neumann) being attained by the best-aligned Q. Compressed DLN
(Algorithm 1 on U*, V*): :math:`\widetilde W_{L:1}(0)=\epsilon^L U^*_{\hat r}V^{*\top}_{\hat r}`, so

.. math:: \|\widetilde W_{L:1}(0)-M^*\|_F^2=\hat r\epsilon^{2L}+\|M^*\|_F^2-2\epsilon^L
          \textstyle\sum_{i\le\min(\hat r,r)}\sigma_i^*.

The exact gap (wide − compressed) follows; the proof's chain of inequalities silently
needs :math:`\hat r\ge r` (for :math:`\hat r<r` the compressed error keeps
:math:`\sum_{\hat r<i\le r}\sigma_i^{*2}`, not :math:`(\epsilon^L-\sigma_i^*)^2`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import checks

__all__ = ["InitialErrors", "initial_errors"]


@dataclass(frozen=True)
class InitialErrors:
    """Squared Frobenius errors at t = 0 (see module docstring for every formula)."""

    wide: float | None            #: exact wide error for the given overlap (None if not given)
    wide_lower_bound: float       #: Lemma 1 bound = min over (semi-)orthogonal Q (attained)
    compressed: float             #: exact compressed error
    gap: float | None             #: wide − compressed for the given overlap
    worst_case_gap: float         #: wide_lower_bound − compressed (the most aligned Q)
    mean_gap: float               #: E[gap] over Haar-random Q (E ω = 0)
    overlap_std: float            #: std of ω = tr(QᵀM*) for Haar Q: ‖M*‖_F / √max(n1, n2)
    wide_scale: float             #: s0, each end-to-end singular value of the wide DLN
    compressed_scale: float       #: ε^L


def initial_errors(sigma_star, *, shape, rank_hat: int, depth: int, eps: float,
                   scaling: str = "proof", overlap: float | None = None) -> InitialErrors:
    r"""Both networks' squared errors at t = 0 and their gap (Corollary 1, Eq. (15)).

    Args:
        sigma_star: (r,) target singular values > 0.
        shape: int d or (n1, n2); r <= min(n1, n2).
        rank_hat: compressed width r̂ in [1, min(n1, n2)] (r̂ < r is allowed here).
        depth: L >= 2. eps: ε > 0.
        scaling: ``"proof"`` (per-layer singular value ε) or ``"eq3"`` (√ε).
        overlap: ω = tr(Q^T M*) of the wide network's Q, if known.

    >>> e = initial_errors([1.0], shape=2, rank_hat=1, depth=2, eps=0.1)
    >>> round(e.worst_case_gap, 12)   # (k - r̂) eps^(2L) = 1e-4
    0.0001
    """
    L = checks.depth(depth)
    sig = np.sort(checks.sigma_star(sigma_star))[::-1]
    n1, n2 = checks.shape(shape)
    k = min(n1, n2)
    if sig.ndim != 1 or sig.size > k:
        raise ValueError(f"sigma_star must be 1-D with at most min(shape) = {k} values, got shape {sig.shape}")
    rh = checks.nonneg_int("rank_hat", rank_hat, 1)
    if rh > k:
        raise ValueError(f"rank_hat must be in [1, min(shape) = {k}], got {rh}")
    e = float(checks.positive("eps", eps))
    checks.choice("scaling", scaling, ("proof", "eq3"))
    s0 = e**L if scaling == "proof" else e ** (L / 2)
    c0 = e**L
    fro2 = float(np.sum(sig**2))
    nuc = float(np.sum(sig))
    top = float(np.sum(sig[:rh]))
    tail = float(np.sum(sig[rh:]))  # sum of sigma_i for i > r̂ (0 when r̂ >= r)
    lower = k * s0**2 + fro2 - 2 * s0 * nuc
    comp = rh * c0**2 + fro2 - 2 * c0 * top
    # Gaps are formed algebraically, not as differences of the O(‖M*‖²) errors above, which
    # would cancel catastrophically (the gap is O(ε^{2L}) under the proof's scaling).
    base = k * s0**2 - rh * c0**2
    worst = base - 2 * ((s0 - c0) * nuc + c0 * tail)
    wide = gap = None
    if overlap is not None:
        om = checks.finite_float("overlap", overlap)
        wide = k * s0**2 + fro2 - 2 * s0 * om
        gap = base - 2 * (s0 * om - c0 * top)
    return InitialErrors(
        wide=wide,
        wide_lower_bound=lower,
        compressed=comp,
        gap=gap,
        worst_case_gap=worst,
        mean_gap=base + 2 * c0 * top,
        overlap_std=float(np.sqrt(fro2 / max(n1, n2))),
        wide_scale=s0,
        compressed_scale=c0,
    )

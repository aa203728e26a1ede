"""Measurements more than one claim test makes, and the tie bands they compare with.

- :func:`init_basis`: the U, V that Algorithm 1's init used (past the source's numerical rank a
  fixed completion, :func:`sim.linalg.complete_basis`, not the LAPACK's null-space basis), the
  basis in which Theorem 1 says the compressed net stays diagonal.
- :func:`deviation`: GD on Algorithm 1 against a recurrence for its singular values (theorem1,
  theorem1-alpha), in ulps of σ_1; :data:`ROUNDING_ULPS` is the budget rounding alone may use.
- :func:`gd_tie_band`, :func:`flow_tie_band`: how far below zero a measured difference of two
  squared errors may be and still be a tie — from the rounding of what is compared (GD, float64)
  or from the ODE solver's tolerances (gradient flow), never a typed number.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

import sim
import theory
from sim.flow import FLOW_ATOL, FLOW_RTOL
from sim.instances import setup
from verify.claims import THEOREM1_STEPS, THEOREM1_ULPS_PER_STEP
from verify.tolerance import ulps

__all__ = ["ROUNDING_ULPS", "init_basis", "deviation", "gd_tie_band", "flow_tie_band", "FLOW_GLOBAL_FACTOR"]

# Rounding only: each step commits a few ulps per entry (L products, a subtraction), and below η_c the
# map's derivative stays within ±1, so errors at most add up: THEOREM1_ULPS_PER_STEP = 16 ulps a step.
# (A deep search's maxima over 120 steps: 383 ulps for α = 1, 682 for α ≠ 1, i.e. <= 5.7 a step; a
# real mismatch, e.g. Eq. (13) for α ≠ 1, departs by >= 1e7 ulps.)
ROUNDING_ULPS = THEOREM1_ULPS_PER_STEP * THEOREM1_STEPS


def init_basis(cfg, p) -> tuple[np.ndarray, np.ndarray]:
    """U (n1, r̂), V (n2, r̂) float64: the singular vectors Algorithm 1's init used for the first instance —
    the target's (``init="oracle"``) or the surrogate's (spectral init; for factorization the surrogate
    is the target), completed past the source's numerical rank by :func:`sim.linalg.complete_basis`.

    Measuring in the target's own SVD instead would, for r̂ > r, pick the LAPACK's basis of the null
    space, in which the compressed net's β block is a dense (r̂ − r)² block, not β·I."""
    (U,), (V,) = p.spectral_factors(cfg.rank_hat, cfg.seed_list[:1], oracle=cfg.resolved_init == "oracle")
    return U, V


def deviation(sig, depth, eps, frac, extra, dpad, alpha=1.0, form="gd", steps=THEOREM1_STEPS):
    """Largest |Uᵀ W_{L:1}(t) V − diag(recurrence(t))| over ``steps`` GD steps and all entries, in ulps of σ_1.

    The instance: factorization with singular values ``sig`` (r = len(sig)), r̂ = r + ``extra``,
    d = max(r̂, 2) + ``dpad``, Algorithm 1's oracle init, η = ``frac``·η_c(α, ε); U, V are
    :func:`init_basis`'s (where Theorem 1 puts the compressed net) and the recurrence is
    :func:`theory.compressed_spectrum` (``form="gd"``: the two-variable one; ``"paper"``: Eq. (13) as printed).

    Returns:
        ``(worst, first, (d, r̂, η, problem))``: the largest deviation, and ``(t, deviation, D, prediction)``
        at the first step above :data:`ROUNDING_ULPS` (``None`` if there is none).
    """
    r = len(sig)
    rh = r + extra
    d = max(rh, 2) + dpad
    cfg, p, Ws, sc = setup("compressed", sig, d=d, rank_hat=rh, depth=depth, eps=eps, alpha=alpha, init="oracle")
    eta = frac * theory.critical_step_size(sig[0], depth=depth, alpha=alpha, eps=eps)
    U, V = init_basis(cfg, p)
    with warnings.catch_warnings():
        # Eq. (13) as printed ignores α, so its own stability check may object; that is the point
        if form == "paper":
            warnings.simplefilter("ignore", theory.StepSizeWarning)
        pred = theory.compressed_spectrum(sig, depth=depth, eps=eps, eta=eta, steps=steps, alpha=alpha,
                                          rank_hat=rh, form=form)
    worst, first = 0.0, None
    with torch.no_grad():
        for t in range(1, steps + 1):
            sim.gd_step(Ws, sc, eta, p)
            D = U.T @ sim.end_to_end(Ws)[0].numpy() @ V
            dev = np.max(np.abs(D - np.diag(pred[t]))) / ulps(1, float) / sig[0]
            if first is None and dev > ROUNDING_ULPS:
                first = (t, dev, D, pred[t])
            worst = max(worst, dev)
    return worst, first, (d, rh, eta, p)


def gd_tie_band(scale: float, *, d: int, d2: int | None = None, depth: int, dtype=np.float64) -> float:
    r"""The rounding of a difference of two squared errors ‖W_{L:1} − M*‖_F² computed in ``dtype``.

    Each product entry of W_{L:1} comes from L − 1 matrix products of inner size <= d, so its error is
    at most ``L·d`` ulps of the product's scale; the residual's squared entries are summed over d·d2
    terms (``d·d2`` ulps of the sum). For a residual and a product no larger than ‖M*‖ (GD from a small
    init moving monotonically towards M*), one squared error is off by at most
    :math:`2(Ld + d d_2)\,\mathrm{eps}\,\|M^*\|_F^2`; two are compared, and a factor 4 covers the
    gap between ‖|W_L|⋯|W_1|‖ and ‖W_L⋯W_1‖ for these well-conditioned layers:

    .. math:: \text{band} = 16\,(L d + d d_2)\,\mathrm{eps}\cdot\text{scale}.

    ``scale`` is ‖M*‖_F² for absolute squared errors, 1 for relative ones. Ties at convergence
    (both nets at M*: residuals of a few ulps, squared errors ~eps²) are far inside it; the
    counterexamples' violations, asserted where they are stored, are far outside.

    >>> gd_tie_band(1.0, d=100, depth=3) < 1e-10 < 1.0e-4
    True
    """
    d2 = d if d2 is None else d2
    return ulps(16 * (depth * d + d * d2), dtype) * float(scale)


#: a tolerance-controlled integrator keeps each step's local error below rtol·|y| + atol; over a
#: contracting (dissipative) flow the global error is a modest multiple of that: 10×
FLOW_GLOBAL_FACTOR = 10


def flow_tie_band(scale: float, *, depth: int, weight_scale: float, rtol: float = FLOW_RTOL,
                  atol: float = FLOW_ATOL) -> float:
    r"""How far apart two squared errors along gradient flow may be from the ODE solver's error alone.

    ``sim.run_flow`` integrates the weights with ``solve_ivp`` at ``rtol``, ``atol`` (its defaults, which
    the flow tests use), so each weight is known to a relative
    :math:`\rho = c\,(\text{rtol} + \text{atol}/w)` (``c`` = :data:`FLOW_GLOBAL_FACTOR`, ``w`` the smallest
    weight scale, ε at the init), the product of L layers to ``L·ρ``, and one squared error — residual
    and product no larger than ‖M*‖ — to ``2Lρ‖M*‖²``; two are compared:

    .. math:: \text{band} = 4 L c\,(\text{rtol} + \text{atol}/w)\cdot\text{scale}.

    Rounding (~1e-16 relative) is far below it. ``scale`` is ‖M*‖_F².

    >>> 1e-9 < flow_tie_band(1.0, depth=2, weight_scale=0.1) < 1e-7
    True
    """
    return 4 * depth * FLOW_GLOBAL_FACTOR * (rtol + atol / weight_scale) * float(scale)

r"""Step-size stability of the per-mode GD recurrences, and loss normalisations.

Every step size in this module is for the **sum-normalised** loss
:math:`\ell = \tfrac12\|\mathcal A(W_{L:1}-M^*)\|^2` unless an argument says otherwise; the
paper's quoted step sizes only mean something together with a normalisation (SPEC §1).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from . import checks

__all__ = [
    "critical_step_size",
    "normaliser",
    "convert_step_size",
    "curvature_scale",
    "problem_critical_step_size",
    "PROBLEMS",
]

PROBLEMS = ("factorization", "completion", "sensing")


def _flow_minimum(sigma: float, depth: int, alpha: float, eps: float) -> tuple[float, float]:
    r"""Outer/inner layer scalars (a, b) of the minimum that gradient flow selects.

    The flow conserves :math:`a^2 - \alpha b^2 = \epsilon^2(1-\alpha)` (see
    :func:`theory.flow.mode_invariant`), so the minimum is the root of
    :math:`(\alpha b^2 + c)\, b^{L-2} = \sigma` with :math:`c=\epsilon^2(1-\alpha)`.
    """
    c = eps**2 * (1.0 - alpha)
    if eps == 0.0 or alpha == 1.0:
        b = (sigma / alpha) ** (1.0 / depth)
        return np.sqrt(alpha) * b, b
    lo = np.sqrt(max(-c, 0.0) / alpha)
    hi = max(1.0, lo) * 2.0
    g = lambda b: (alpha * b * b + c) * b ** (depth - 2) - sigma  # noqa: E731
    while g(hi) < 0:
        hi *= 2.0
    b = brentq(g, lo, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps, maxiter=500)
    return np.sqrt(alpha * b * b + c), b


def critical_step_size(sigma_max, *, depth: int, alpha: float = 1.0, eps: float = 0.0):
    r"""Largest step size for which GD converges to the top mode's minimum (sum loss).

    Per mode, the compressed DLN is the scalar loss :math:`\tfrac12(a^2 b^{L-2}-\sigma)^2`
    in the outer scalar :math:`a` (step :math:`\alpha\eta`) and the :math:`L-2` inner scalars
    :math:`b` (step :math:`\eta`). At a minimum the GD map has Jacobian
    :math:`I - D\,gg^\top` with :math:`g=\nabla p`, whose one non-trivial eigenvalue is
    :math:`1-\eta\,\sigma^2\,(2\alpha/a^2 + (L-2)/b^2)`. Linear stability (:math:`|\cdot|<1`) gives

    .. math:: \eta_c = \frac{2}{\sigma^2\,(2\alpha/a^2 + (L-2)/b^2)}
              \;\xrightarrow{\;\epsilon\to0\;}\;
              \frac{2}{L\,\alpha^{2/L}\,\sigma^{2-2/L}},

    where :math:`(a,b)` is the minimum selected by gradient flow (balanced up to the
    conserved :math:`a^2-\alpha b^2=\epsilon^2(1-\alpha)`). For :math:`\alpha=1` this is the
    derivative of the paper's Eq. (13) map at :math:`\lambda^*=\sigma^{1/L}`:
    :math:`f'(\lambda^*) = 1-\eta L \sigma^{2-2/L}`, exact for every ε. The wide DLN's
    aligned modes (Proposition 1) have the same threshold. Above it GD oscillates
    (period doubling) and, further up, diverges.

    Args:
        sigma_max: largest target singular value(s), > 0 (scalar or array).
        depth: L >= 2.
        alpha: outer-layer step multiplier of Algorithm 1, > 0.
        eps: initialisation scale; 0 (default) gives the ε → 0 limit, which is exact for
            α = 1 or L = 2.

    Returns:
        float (or array shaped like ``sigma_max``): η_c for the sum-normalised loss.

    >>> round(critical_step_size(1.0, depth=2), 12)
    1.0
    >>> round(critical_step_size(8.0, depth=3), 12)  # 2 / (3 * 8**(4/3)) = 2/48
    0.041666666667
    """
    L = checks.depth(depth)
    s = checks.positive("sigma_max", sigma_max)
    a = checks.positive("alpha", alpha)
    e = checks.positive("eps", eps, allow_zero=True)
    s, a, e = np.broadcast_arrays(s, a, e)
    out = 2.0 / (L * a ** (2.0 / L) * s ** (2.0 - 2.0 / L))
    if L > 2:
        out = np.array(out, ndmin=1)
        flat_s, flat_a, flat_e = (np.ravel(x) for x in (s, a, e))
        flat = out.reshape(-1)
        for i in np.flatnonzero((flat_e > 0) & (flat_a != 1.0)):
            aa, bb = _flow_minimum(flat_s[i], L, flat_a[i], flat_e[i])
            flat[i] = 2.0 / (flat_s[i] ** 2 * (2 * flat_a[i] / aa**2 + (L - 2) / bb**2))
        out = flat.reshape(s.shape)
    return float(out) if out.ndim == 0 else out


def normaliser(
    problem: str,
    shape,
    *,
    n_observed: int | None = None,
    n_measurements: int | None = None,
) -> int:
    r"""The count N with :math:`\ell_\text{mean} = \ell_\text{sum}/N`.

    Factorization: :math:`N = n_1 n_2` (½·mean over all entries, the authors' code);
    completion: :math:`N = |\Omega|` (½·Σ_Ω/|Ω|); sensing: :math:`N = m`.

    >>> normaliser("factorization", (100, 100))
    10000
    """
    checks.choice("problem", problem, PROBLEMS)
    n1, n2 = checks.shape(shape)
    if problem == "factorization":
        return n1 * n2
    if problem == "completion":
        if n_observed is None:
            raise ValueError("n_observed must be given for problem='completion', got None")
        return checks.nonneg_int("n_observed", n_observed, 1)
    if n_measurements is None:
        raise ValueError("n_measurements must be given for problem='sensing', got None")
    return checks.nonneg_int("n_measurements", n_measurements, 1)


def convert_step_size(eta, n: int, *, frm: str, to: str):
    r"""Convert a step size between loss normalisations.

    Since :math:`\nabla\ell_\text{mean}=\nabla\ell_\text{sum}/N`, the same GD trajectory is
    obtained with :math:`\eta_\text{sum} = \eta_\text{mean}/N`.

    >>> convert_step_size(10.0, 10000, frm="mean", to="sum")
    0.001
    """
    checks.choice("frm", frm, ("sum", "mean"))
    checks.choice("to", to, ("sum", "mean"))
    e = checks.positive("eta", eta)
    n = checks.nonneg_int("n", n, 1)
    if frm == to:
        out = e
    elif frm == "mean":
        out = e / n
    else:
        out = e * n
    return float(out) if np.ndim(out) == 0 else out


def curvature_scale(
    problem: str,
    shape,
    *,
    n_observed: int | None = None,
    n_measurements: int | None = None,
    sensing_std: float | None = None,
) -> float:
    r"""Factor κ with :math:`\|\mathcal A(X)\|^2 \approx \kappa \|X\|_F^2` on low-rank X.

    Factorization: κ = 1 (exact). Completion: κ = |Ω|/(n₁n₂), exact in expectation over
    MCAR Ω and accurate for incoherent singular vectors. Sensing with i.i.d.
    :math:`\mathcal N(0,s^2)` entries: κ = m s² (exact in expectation; RIP). Default
    s = 1/√m (an isometry in expectation).
    """
    checks.choice("problem", problem, PROBLEMS)
    n1, n2 = checks.shape(shape)
    if problem == "factorization":
        return 1.0
    if problem == "completion":
        n_obs = normaliser("completion", shape, n_observed=n_observed)
        return n_obs / (n1 * n2)
    m = normaliser("sensing", shape, n_measurements=n_measurements)
    s = 1.0 / np.sqrt(m) if sensing_std is None else float(checks.positive("sensing_std", sensing_std))
    return m * s * s


def problem_critical_step_size(
    sigma_max,
    *,
    depth: int,
    problem: str = "factorization",
    shape=None,
    loss: str = "sum",
    alpha: float = 1.0,
    n_observed: int | None = None,
    n_measurements: int | None = None,
    sensing_std: float | None = None,
):
    r"""Predicted critical step for a recovery problem under a named loss normalisation.

    :math:`\eta_c^\text{sum} = \eta_c(\sigma_\max, L, \alpha)/\kappa` with κ from
    :func:`curvature_scale`, and :math:`\eta_c^\text{mean} = N\,\eta_c^\text{sum}`.
    Exact for factorization; for completion and sensing the curvature κ holds in
    expectation (incoherence / RIP), so the threshold is a prediction to be checked.
    """
    checks.choice("loss", loss, ("sum", "mean"))
    if shape is None:
        raise ValueError("shape must be given as (n1, n2) or an int, got None")
    kappa = curvature_scale(
        problem, shape, n_observed=n_observed, n_measurements=n_measurements,
        sensing_std=sensing_std,
    )
    eta = critical_step_size(sigma_max, depth=depth, alpha=alpha) / kappa
    if loss == "mean":
        eta = eta * normaliser(problem, shape, n_observed=n_observed, n_measurements=n_measurements)
    return eta

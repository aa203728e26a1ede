r"""Fit times under gradient flow and the predicted order of incremental learning.

The fit time of mode i is the gradient-flow time for its end-to-end value to go from its
initial value :math:`\epsilon^L` to :math:`(1-\delta)\sigma_i^*`. Because it decreases with
:math:`\sigma_i^*`, modes are learned one at a time in decreasing order of
:math:`\sigma_i^*` (the times :math:`t_i` of Assumption 1 / the proof of Theorem 2).
Times are in units of η × (number of GD steps), sum-normalised loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import quad
from scipy.optimize import brentq
from scipy.special import hyp2f1

from . import checks
from .flow import _F, _flow_time, _initial_value

__all__ = ["fit_time", "fit_time_asymptotic", "escape_constant", "incremental_schedule", "IncrementalSchedule"]


def fit_time(sigma_star, *, depth: int, eps, delta: float = 0.01, alpha: float = 1.0):
    r"""Exact gradient-flow time for each mode to reach :math:`(1-\delta)\sigma_i^*`.

    α = 1 (and L = 2 for any α, with t → t/α): the closed form of :func:`theory.flow_time`,

    .. math:: t_i = \frac{1}{\sigma}\Big[\frac{\epsilon^{2-L}-\lambda_1^{2-L}}{L-2}
              +\sigma^{2/L-1}\big(F(x_1)-F(x_0)\big)\Big],\qquad
              \lambda_1=((1-\delta)\sigma)^{1/L}.

    α ≠ 1, L >= 3: using the conserved :math:`a^2=\alpha b^2+c`, :math:`c=\epsilon^2(1-\alpha)`,
    the flow reduces to one variable and

    .. math:: t_i=\int_{\epsilon}^{b_1}\frac{db}{(\sigma-p(b))\,(\alpha b^2+c)\,b^{L-3}},
              \qquad p(b)=(\alpha b^2+c)\,b^{L-2},\; p(b_1)=(1-\delta)\sigma,

    evaluated by adaptive quadrature in :math:`\ln b` (relative tolerance 1e-12).

    Args:
        sigma_star: target value(s) > 0. depth: L >= 2. eps: ε > 0 (per-layer initial
            singular value; for the wide DLN under Eq. (3) read literally pass √ε).
        delta: tolerance δ in (0, 1). alpha: outer step multiplier α > 0.

    Returns:
        float or array shaped like ``sigma_star``; 0 where ε^L >= (1−δ)σ already.

    >>> round(fit_time(1.0, depth=2, eps=0.1, delta=0.5), 10)   # ln(0.5·0.99/(0.01·0.5))/2 = ln(99)/2
    2.2975599251
    """
    L = checks.depth(depth)
    s = checks.positive("sigma_star", sigma_star)
    e = float(checks.positive("eps", eps))
    d = checks.open_unit("delta", delta)
    a = float(checks.positive("alpha", alpha))
    p0, p1 = _initial_value(e, L), (1.0 - d) * s
    done = p0 >= p1
    if a == 1.0 or L == 2:
        with np.errstate(invalid="ignore", divide="ignore"):  # the `done` entries are replaced below
            t = _flow_time(s, p0, np.maximum(p1, p0), L, q_to=np.where(done, 1.0 - p0 / s, d))
        t = np.where(done, 0.0, t) / (a if L == 2 else 1.0)
    else:
        t = np.vectorize(lambda sv: _fit_time_alpha(sv, L, e, d, a), otypes=[float])(s)
        t = np.where(done, 0.0, t)
    return float(t) if t.ndim == 0 else t


def _fit_time_alpha(sigma: float, L: int, eps: float, delta: float, alpha: float) -> float:
    c = eps**2 * (1.0 - alpha)
    p = lambda b: (alpha * b * b + c) * b ** (L - 2)  # noqa: E731
    target = (1.0 - delta) * sigma
    if p(eps) >= target:
        return 0.0
    hi = 2.0 * max(eps, (target / alpha) ** (1.0 / L))
    while p(hi) < target:
        hi *= 2.0
    b1 = brentq(lambda b: p(b) - target, eps, hi, xtol=1e-300, rtol=4 * np.finfo(float).eps)

    def integrand(u):  # t = integral over u = ln b of b db/(...)/b
        b = np.exp(u)
        return 1.0 / ((sigma - p(b)) * (alpha * b * b + c) * b ** (L - 4))

    val, _ = quad(integrand, np.log(eps), np.log(b1), epsrel=1e-12, epsabs=0.0, limit=500)
    return val


def escape_constant(depth: int, alpha: float = 1.0) -> float:
    r""":math:`K(\alpha,L)=\int_1^\infty\frac{ds}{(\alpha s^2+1-\alpha)\,s^{L-3}}
    =\frac{1}{\alpha(L-2)}\,{}_2F_1\!\big(1,\tfrac{L-2}{2};\tfrac L2;1-\tfrac1\alpha\big)`.

    The leading small-ε fit time is :math:`K\,\epsilon^{2-L}/\sigma` (L >= 3); K = 1/(L−2)
    for α = 1. Larger α shortens the escape from the small initialisation.

    >>> escape_constant(3) == 1.0
    True
    """
    L = checks.depth(depth)
    a = float(checks.positive("alpha", alpha))
    if L == 2:
        raise ValueError("depth must be >= 3 for the escape constant (L = 2 escapes logarithmically), got 2")
    return float(hyp2f1(1.0, (L - 2) / 2.0, L / 2.0, 1.0 - 1.0 / a) / (a * (L - 2)))


def fit_time_asymptotic(sigma_star, *, depth: int, eps, delta: float = 0.01, alpha: float = 1.0,
                        order: int = 1):
    r"""Small-ε asymptotics of :func:`fit_time`.

    L >= 3 (error :math:`O(\epsilon^2)` relative to the constant for ``order=1``):

    .. math:: t_i \simeq \frac{K(\alpha,L)\,\epsilon^{2-L}}{\sigma}
              \;\underbrace{-\;\frac{b_1^{2-L}}{\alpha(L-2)\sigma}
              +\sigma^{2/L-2}\alpha^{-2/L}F\big((1-\delta)^{1/L}\big)}_{\text{order}=1},
              \qquad b_1=\big((1-\delta)\sigma/\alpha\big)^{1/L},

    with K from :func:`escape_constant` and F as in :func:`theory.flow_time`.
    L = 2: :math:`t_i\simeq\frac{1}{2\alpha\sigma}\big[\ln\epsilon^{-2}
    + \underbrace{\ln\sigma+\ln\tfrac{1-\delta}{\delta}}_{\text{order}=1}\big]`.

    Args:
        order: 0 for the term that diverges as ε → 0 only, 1 to add the ε-independent term.
    """
    L = checks.depth(depth)
    s = checks.positive("sigma_star", sigma_star)
    e = float(checks.positive("eps", eps))
    d = checks.open_unit("delta", delta)
    a = float(checks.positive("alpha", alpha))
    if order not in (0, 1):
        raise ValueError(f"order must be 0 or 1, got {order!r}")
    if L == 2:
        t = np.log(e**-2) + order * (np.log(s) + np.log((1 - d) / d))
        t = t / (2 * a * s)
    else:
        t = escape_constant(L, a) * e ** (2 - L) / s
        if order == 1:
            b1 = ((1 - d) * s / a) ** (1.0 / L)
            t = t - b1 ** (2 - L) / (a * (L - 2) * s) + s ** (2.0 / L - 2) * a ** (-2.0 / L) * _F(L, 1 - d, d)
    return float(t) if np.ndim(t) == 0 else t


@dataclass(frozen=True)
class IncrementalSchedule:
    """Predicted incremental learning: ``order[k]`` is the k-th mode learned (0-based index
    into ``sigma_star``), ``times[i]`` mode i's fit time, ``steps[i]`` ≈ times[i]/η (None
    without η)."""

    order: np.ndarray
    times: np.ndarray
    steps: np.ndarray | None


def incremental_schedule(sigma_star, *, depth: int, eps, delta: float = 0.01, alpha: float = 1.0,
                         eta: float | None = None) -> IncrementalSchedule:
    r"""Predicted order and times :math:`t_1\le\dots\le t_r` of incremental learning.

    Each mode's fit time (:func:`fit_time`) is strictly decreasing in :math:`\sigma_i^*`, so
    the modes are learned in decreasing order of :math:`\sigma_i^*` (ties in any order). With
    a step size η the predicted GD step counts are :math:`\lceil t_i/\eta\rceil` (the flow
    limit; :func:`theory.fit_steps` gives the exact discrete count).
    """
    s = checks.sigma_star(sigma_star)
    t = np.atleast_1d(fit_time(s, depth=depth, eps=eps, delta=delta, alpha=alpha))
    order = np.argsort(t, kind="stable")
    steps = None
    if eta is not None:
        steps = np.ceil(t / float(checks.positive("eta", eta))).astype(np.int64)
    return IncrementalSchedule(order=order, times=t, steps=steps)

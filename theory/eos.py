r"""Beyond the edge of stability: sharpness, 2-cycles, period doubling and the balancing gap.

The sequel (Ghosh, Kwon, Wang, Ravishankar, Qu, "Learning Dynamics of Deep Linear Networks Beyond
the Edge of Stability", arXiv 2502.20531) studies GD on the deep matrix factorization loss
:math:`\tfrac12\|W_L\cdots W_1-M^*\|_F^2` (sum-normalised, as everywhere in ``theory``) above the
critical step size. On the singular-vector-aligned, balanced set every mode is the scalar map of
the paper's Eq. (13),

.. math:: f(\lambda) = \lambda - \eta\,\lambda^{L-1}(\lambda^L-\sigma),

and with :math:`\lambda=\sigma^{1/L}\mu` it becomes :math:`\mu\mapsto\mu-\kappa\,\mu^{L-1}(\mu^L-1)`,
:math:`\kappa=\eta\sigma^{2-2/L}`: the whole bifurcation structure depends on σ only through
:math:`\eta/\eta_c(\sigma)`, where :math:`\eta_c=2/(L\sigma^{2-2/L})` is the step at which the
balanced minimum's sharpness :math:`L\sigma^{2-2/L}` equals :math:`2/\eta`. Every step size here
is a multiple ``r`` of that :math:`\eta_c` or a sum-loss step (mean loss: × N, see
:func:`theory.convert_step_size`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq, root

from . import checks

__all__ = [
    "TwoCycle",
    "aligned_cycle_radius",
    "attractor",
    "balancing_gap",
    "eos_thresholds",
    "eos_window",
    "gap_multiplier",
    "minimum_sharpness",
    "mode_map",
    "mode_sharpness",
    "oscillating_modes",
    "period_doubling_ratios",
    "positive_crisis_ratio",
    "two_cycle",
]


def mode_sharpness(sigma, *, depth: int):
    r"""Top Hessian eigenvalue at the balanced minimum of one mode, :math:`L\sigma^{2-2/L}`.

    For the scalar loss :math:`\tfrac12(x_L\cdots x_1-\sigma)^2` the Hessian at a minimum is
    :math:`gg^\top`, :math:`g_l=\sigma/x_l`, so its top eigenvalue is :math:`\sigma^2\sum_l x_l^{-2}`
    (:func:`minimum_sharpness`), smallest (by AM–GM) at the balanced :math:`x_l=\sigma^{1/L}`: the
    flattest minimum. For the matrix loss at a balanced minimum it is :math:`L\sigma_1^{2-2/L}`; for the mean
    loss (the sum over :math:`N=n_1n_2`) every Hessian eigenvalue, this one included, is divided by N.

    >>> round(mode_sharpness(4.0, depth=2), 12)
    8.0
    """
    L = checks.depth(depth)
    s = checks.positive("sigma", sigma)
    out = L * s ** (2.0 - 2.0 / L)
    return float(out) if out.ndim == 0 else out


def minimum_sharpness(x, sigma):
    r"""Top Hessian eigenvalue :math:`\sigma^2\sum_l x_l^{-2}` at a (not necessarily balanced) minimum.

    Args:
        x: layer scalars (..., L) of the minimum; their product must be σ (checked to 8 ulps a factor).
        sigma: the mode's target value > 0.
    """
    x = np.asarray(x, dtype=float)
    s = float(checks.positive("sigma", sigma))
    if x.ndim == 0 or x.shape[-1] < 2 or np.any(x == 0) or not np.all(np.isfinite(x)):
        raise ValueError(f"x must hold L >= 2 finite nonzero layer scalars on its last axis, got {x!r}")
    p = np.prod(x, axis=-1)
    if np.any(np.abs(p - s) > 8 * x.shape[-1] * np.finfo(float).eps * s):  # rounding of an L-fold product
        raise ValueError(f"x must be a minimum (product of its entries = sigma = {s!r}), got product {p!r}")
    return s * s * np.sum(1.0 / (x * x), axis=-1)


def eos_thresholds(sigma_star, *, depth: int) -> np.ndarray:
    r"""Per-mode edge-of-stability step sizes :math:`\eta_i = 2/(L\sigma_i^{2-2/L})` (sum loss).

    Mode i's balanced minimum is linearly stable for GD iff :math:`\eta<\eta_i` (at :math:`\eta=\eta_i`
    its multiplier is exactly −1); zero modes (σ = 0) have no threshold (``inf``). For the mean loss
    (sum over :math:`N=n_1n_2`) the thresholds are :math:`N\eta_i`.

    >>> eos_thresholds([10.0, 9.5, 9.0], depth=3).round(5)   # the sequel's target, L = 3
    array([0.03094, 0.03313, 0.03561])
    """
    L = checks.depth(depth)
    s = checks.sigma_star(sigma_star, allow_zero=True)
    with np.errstate(divide="ignore"):
        return np.where(s > 0, 2.0 / (L * s ** (2.0 - 2.0 / L)), np.inf)


def oscillating_modes(sigma_star, *, depth: int, eta) -> int:
    r"""Dimension of the oscillating subspace: :math:`\#\{i:\eta>\eta_i\}`, the modes whose balanced
    minimum is unstable at this step."""
    e = float(checks.positive("eta", eta))
    return int(np.sum(e > eos_thresholds(sigma_star, depth=depth)))


def mode_map(lam, *, kappa, depth: int, n: int = 1):
    r"""``n`` iterates of the rescaled map :math:`\mu\mapsto\mu-\kappa\mu^{L-1}(\mu^L-1)` and their
    derivative :math:`(f^n)'(\mu)=\prod_t f'(\mu_t)`, :math:`f'(\mu)=1-\kappa\mu^{L-2}((2L-1)\mu^L-(L-1))`.

    Returns ``(f^n(mu), (f^n)'(mu))``.

    Raises:
        ValueError: κ not finite and >= 0 (:math:`κ = ησ^{2−2/L}` with η > 0), or n not an integer >= 0.
    """
    L = checks.depth(depth)
    k = checks.positive("kappa", kappa, allow_zero=True)
    mu = np.array(lam, dtype=float)
    d = np.ones_like(mu)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(checks.nonneg_int("n", n)):
            q = mu ** (L - 2)
            d = d * (1.0 - k * q * ((2 * L - 1) * mu**L - (L - 1)))
            mu = mu - k * q * mu * (mu**L - 1.0)
    return mu, d


@dataclass(frozen=True)
class TwoCycle:
    """The 2-period orbit of one mode born at η_c (end-to-end values σ·μ^L)."""

    ratio: float          #: η / η_c
    mu: tuple             #: (μ_a, μ_b), μ_a < 1 < μ_b, layer scalars over σ^{1/L}
    end_to_end: tuple     #: (σ μ_a^L, σ μ_b^L)
    multiplier: float     #: f'(μ_a) f'(μ_b); stable iff |·| < 1
    gap_rate: float       #: ρ: the balancing gap's factor over one period, ∏ (1 − κ²(μ^L − 1)² μ^{2(L−2)})


def two_cycle(ratio, *, depth: int, sigma: float = 1.0) -> TwoCycle:
    r"""The 2-period orbit :math:`f(\mu_a)=\mu_b,\ f(\mu_b)=\mu_a` at :math:`\eta=r\,\eta_c`, r > 1.

    Its lower point is the root of :math:`f^2(\mu)-\mu` in :math:`(0,1)` nearest the fixed point
    (brentq on a geometric scan from 1; :math:`f'(1)=1-L\kappa=1-2r`, so :math:`(f^2)'(1)=(1-2r)^2>1` makes the
    fixed point repel). For L = 2 it is the closed form of :func:`theory.eos_symbolic.two_cycle_depth2`.
    Near the orbit a balancing gap shrinks by :func:`gap_multiplier` at each point, i.e. by

    .. math:: \rho=\prod_{\mu\in\{\mu_a,\mu_b\}}\big(1-\kappa^2(\mu^L-1)^2\mu^{2(L-2)}\big)

    per period (L = 2: :math:`\rho=3-2\kappa`), so it decays to zero geometrically while |ρ| < 1.

    Raises:
        ValueError: for r <= 1 (no 2-cycle: the minimum is stable) or r >= :func:`positive_crisis_ratio`
            (beyond it the balanced orbits leave the positive half-line: collapse or divergence).
    """
    L = checks.depth(depth)
    r = float(checks.positive("ratio", ratio))
    s = float(checks.positive("sigma", sigma))
    if r <= 1.0:
        raise ValueError(f"ratio = eta/eta_c must be > 1 for a 2-cycle (below, the minimum is stable), got {r!r}")
    crisis = positive_crisis_ratio(depth=L)
    if r >= crisis:
        raise ValueError(f"ratio = eta/eta_c must be below the crisis {crisis:.6g} for depth = {L} (beyond it GD's "
                         f"balanced orbits leave the positive half-line and collapse or diverge), got {r!r}")
    kappa = 2.0 * r / L
    h = lambda m: mode_map(m, kappa=kappa, depth=L, n=2)[0] - m
    grid = 1.0 - np.logspace(-9, 0, 4000)[:-1]  # from just below 1 down towards 0
    vals = h(grid)
    pos = np.flatnonzero(np.isfinite(vals) & (vals > 0))
    if pos.size == 0 or not np.all(vals[: pos[0]] < 0):
        raise ValueError(f"ratio = {r!r}: the 2-cycle born at eta_c has no point in (0, 1) here "
                         "(eta beyond the branch; valid: 1 < ratio up to where it reaches 0)")
    j = pos[0]
    a = brentq(h, grid[j], grid[j - 1], xtol=1e-15, rtol=4 * np.finfo(float).eps) if j > 0 else grid[0]
    b = float(mode_map(a, kappa=kappa, depth=L)[0])
    _, mult = mode_map(a, kappa=kappa, depth=L, n=2)
    rho = float(np.prod([1.0 - kappa**2 * (m**L - 1.0) ** 2 * m ** (2 * (L - 2)) for m in (a, b)]))
    return TwoCycle(ratio=r, mu=(float(a), b), end_to_end=(s * a**L, s * b**L), multiplier=float(mult),
                    gap_rate=rho)


def _cycle_point(kappa, L, n, transient=20000):
    """A point of the attracting cycle of the map at κ, from the critical point's orbit."""
    c = brentq(lambda m: mode_map(m, kappa=kappa, depth=L)[1] - 0.0, 1e-12, 1.0)
    return float(mode_map(c, kappa=kappa, depth=L, n=transient)[0])


def period_doubling_ratios(*, depth: int, count: int = 5) -> np.ndarray:
    r"""The period-doubling points :math:`r_k=\eta_k/\eta_c` of the balanced mode map, k = 0 … count−1.

    :math:`r_0=1` (flip of the minimum); :math:`r_k` solves :math:`(f^{2^k})(\mu)=\mu`,
    :math:`(f^{2^k})'(\mu)=-1` (a 2-D Newton from the attracting :math:`2^k`-cycle just before the
    predicted point, continuing with Feigenbaum's ratio as the first guess). Independent of σ (module
    docstring); the ratios :math:`(r_k-r_{k-1})/(r_{k+1}-r_k)` approach δ ≈ 4.669 for a quadratic maximum.

    Raises:
        ValueError: count outside [1, 7] (beyond 2^7 the cycles are not resolved in float64).
    """
    L = checks.depth(depth)
    count = checks.nonneg_int("count", count, 1)
    if count > 7:
        raise ValueError(f"count must be an integer in [1, 7], got {count!r}")
    out = [1.0]
    step = 0.25  # a first guess for r_1 - r_0; refined by Newton
    for k in range(1, count):
        n = 2**k
        guess = out[-1] + step
        mu0 = _cycle_point(2.0 * (out[-1] + 0.5 * step) / L, L, n)

        def eqs(v, n=n):
            m, d = mode_map(v[0], kappa=2.0 * v[1] / L, depth=L, n=n)
            return [m - v[0], d + 1.0]

        sol = root(eqs, [mu0, guess], method="hybr", options={"xtol": 1e-13})
        # hybr may stop with "no further improvement" at the rounding floor: judge by the residual,
        # which rounding leaves at a few ulps of the 2^k-fold product (1e-8 is far above, far below O(1))
        if np.max(np.abs(eqs(sol.x))) > 1e-8 or not out[-1] < sol.x[1]:
            raise ValueError(f"period doubling {k} (period {n}) not resolved for depth = {L}: {sol.message}")
        step = (sol.x[1] - out[-1]) / 4.669
        out.append(float(sol.x[1]))
    return np.array(out)


def positive_crisis_ratio(*, depth: int) -> float:
    r"""The :math:`r=\eta/\eta_c` at which the critical orbit reaches 0, :math:`f^2(c)=0`.

    Below it the interval :math:`[f^2(c), f(c)]\subset(0,\infty)` is invariant and every orbit that
    enters it stays bounded with positive layers; above it the attractor leaves the positive
    half-line (L even: it merges with its mirror image; L odd: orbits fall to the saddle μ = 0 or
    escape).
    """
    L = checks.depth(depth)

    def g(r):
        k = 2.0 * r / L
        c = brentq(lambda m: mode_map(m, kappa=k, depth=L)[1], 1e-12, 1.0)
        return float(mode_map(c, kappa=k, depth=L, n=2)[0])

    hi = 1.0
    while g(hi) > 0:
        hi *= 1.25
        if hi > 64:  # pragma: no cover - every L >= 2 crosses well before
            raise ValueError(f"no crisis found below ratio 64 for depth = {L}")
    return float(brentq(g, 1.0, hi, xtol=1e-13))


def eos_window(*, depth: int) -> tuple[float, float]:
    r"""The step ratios :math:`(1, r_\text{end})` between which GD on a mode oscillates without converging or
    leaving: for L >= 3 the positive crisis (:func:`positive_crisis_ratio`; past it GD collapses the mode or
    diverges), for L = 2 the crisis of the odd cubic map, where :math:`[-f(c), f(c)]` stops being invariant:
    :math:`f^2(c)=-f(c)`, i.e. κ = 2 exactly (:math:`c=1/\sqrt2`, :math:`f(c)=\sqrt2`, :math:`f(\sqrt2)=-\sqrt2`), η = 2η_c.
    """
    L = checks.depth(depth)
    if L > 2:
        return 1.0, positive_crisis_ratio(depth=L)

    def g(r):
        c = brentq(lambda m: mode_map(m, kappa=r, depth=2)[1], 1e-12, 1.0)
        return float(mode_map(c, kappa=r, depth=2, n=2)[0] + mode_map(c, kappa=r, depth=2)[0])

    return 1.0, float(brentq(g, positive_crisis_ratio(depth=2), 3.0, xtol=1e-13))


def balancing_gap(layer_values) -> np.ndarray:
    r"""Per-mode balancing gaps :math:`s_{l+1,i}^2-s_{l,i}^2` between consecutive layers.

    Gradient flow conserves :math:`W_{l+1}^\top W_{l+1}-W_lW_l^\top`; on the aligned set its
    eigenvalues are these differences of the layers' squared singular values.

    Args:
        layer_values: array (L, r) (or (..., L, r)): singular values of W_1 … W_L per mode.
    Returns:
        array (..., L−1, r).
    """
    s = np.asarray(layer_values, dtype=float)
    if s.ndim < 2 or s.shape[-2] < 2:
        raise ValueError(f"layer_values must have shape (..., L >= 2, r), got shape {s.shape}")
    return s[..., 1:, :] ** 2 - s[..., :-1, :] ** 2


def gap_multiplier(x, *, sigma, eta) -> np.ndarray:
    r"""Exact one-step factor of a scalar mode's gap :math:`x_{l+1}^2-x_l^2` under GD.

    With :math:`e=\prod_j x_j-\sigma` and :math:`x_l'=x_l-\eta e\prod_{j\ne l}x_j`,

    .. math:: x_{l+1}'^2-x_l'^2=(x_{l+1}^2-x_l^2)\Big(1-\eta^2e^2\prod_{j\ne l,l+1}x_j^2\Big),

    so, with :math:`q=\prod_{j\ne l,l+1}|x_j|` (1 for L = 2) and :math:`t=\eta|e|q`, a nonzero gap shrinks in
    size iff :math:`0<t<\sqrt2` (at t = √2 the factor is −1: same size, sign flipped; above, it grows), keeps
    its sign iff :math:`t<1`, and stays exactly where :math:`e=0`. Gradient flow (η → 0) keeps it exactly.

    Args:
        x: layer scalars (..., L); sigma: target ≥ 0; eta: step > 0.
    Returns:
        array (..., L−1): the factor for each consecutive pair (l, l+1).
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 0 or x.shape[-1] < 2:
        raise ValueError(f"x must hold L >= 2 layer scalars on its last axis, got shape {x.shape}")
    e = np.prod(x, axis=-1, keepdims=True) - float(checks.positive("sigma", sigma, allow_zero=True))
    et = float(checks.positive("eta", eta))
    L = x.shape[-1]
    q2 = np.stack([np.prod(np.delete(x, [l, l + 1], axis=-1) ** 2, axis=-1) for l in range(L - 1)], axis=-1)
    return 1.0 - et * et * e * e * q2


def attractor(ratio, *, depth: int, sigma: float = 1.0, transient: int = 4000, keep: int = 256) -> np.ndarray:
    r"""End-to-end values :math:`\sigma\mu_t^L` on the attractor of the balanced mode map at
    :math:`\eta=r\eta_c`: ``keep`` iterates after ``transient`` ones, from the critical point (r > 1)
    or from 1/2 (r <= 1). Non-finite where the orbit escapes."""
    L = checks.depth(depth)
    r = float(checks.positive("ratio", ratio))
    k = 2.0 * r / L
    m = brentq(lambda v: mode_map(v, kappa=k, depth=L)[1], 1e-12, 1.0) if r > 1 else 0.5
    m = mode_map(m, kappa=k, depth=L, n=checks.nonneg_int("transient", transient))[0]
    out = np.empty(checks.nonneg_int("keep", keep, 1))
    for t in range(out.size):
        m = mode_map(m, kappa=k, depth=L)[0]
        out[t] = m
    with np.errstate(over="ignore", invalid="ignore"):
        return float(checks.positive("sigma", sigma)) * out**L


# the aligned orbit's transverse stability needs the functions above: imported last (theory/eos_transverse.py)
from .eos_transverse import aligned_cycle_radius  # re-exported: in __all__

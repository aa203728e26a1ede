r"""Gradient flow of the modes: closed forms, the implicit time t(λ), and ODE solves.

Per mode, gradient flow on :math:`\tfrac12(x_L\cdots x_1-\sigma)^2` with the outer layers
scaled by α (Algorithm 1's preconditioner) reads, for the outer scalar a and inner scalar b,

.. math::  \dot a = -\alpha\, e\, a\, b^{L-2}, \qquad \dot b = -e\, a^2 b^{L-3},
           \qquad e = a^2 b^{L-2}-\sigma,

and conserves :math:`a^2-\alpha b^2 = \epsilon^2(1-\alpha)` (:func:`mode_invariant`). For
α = 1 the end-to-end value :math:`p=\lambda^L` obeys the scalar ODE of Proposition 1
(Arora et al. 2019) for an aligned component,

.. math::  \dot p = -L\, p^{2-2/L}\,(p-\sigma),

which is therefore shared by the compressed DLN's modes and by the wide DLN's aligned
end-to-end singular values (which start at ε^L under the proof's scaling and at
:math:`\epsilon^{L/2}` under Eq. (3) read literally). Time is in units of η × steps.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import digamma, expit, hyp2f1

from . import checks

__all__ = [
    "flow_spectrum",
    "wide_flow_spectrum",
    "aligned_mode_flow",
    "flow_time",
    "beta_flow",
    "mode_invariant",
    "balance_invariants",
    "ODE_RTOL",
    "ODE_ATOL",
]

#: Tolerances of every ``solve_ivp`` call here (on log-variables of size O(10)); far tighter
#: than any comparison made against these solutions.
ODE_RTOL = 1e-12
ODE_ATOL = 1e-12
_SERIES_TERMS = 48  # connection series at 1 - w <= 0.5: 0.5**48 ~ 4e-15 relative


def _hyp_log_case(b: float, w, q):
    r""":math:`{}_2F_1(1,b;1+b;w)` for w in [0,1), with q = 1 − w given separately (accurately).

    Uses scipy for w <= 0.5 and, nearer 1, the logarithmic connection formula (DLMF 15.8.10)
    :math:`b\sum_n \frac{(b)_n}{n!}[2\psi(n+1)-\psi(1+n)-\psi(b+n)-\ln q]\,q^n`.
    """
    w = np.asarray(w, dtype=float)
    q = np.asarray(q, dtype=float)
    out = np.empty(np.broadcast_shapes(w.shape, q.shape))
    w, q = np.broadcast_arrays(w, q)
    near = q < 0.5
    out[~near] = hyp2f1(1.0, b, 1.0 + b, w[~near])
    if np.any(near):
        qq = q[near]
        lq = np.log(qq)
        acc = np.zeros_like(qq)
        coef, qn = 1.0, np.ones_like(qq)
        for n in range(_SERIES_TERMS):
            acc += coef * (digamma(n + 1.0) - digamma(b + n) - lq) * qn
            coef *= (b + n) / (n + 1.0)
            qn = qn * qq
        out[near] = b * acc
    return out


def _F(L: int, w, q):
    r""":math:`\int_0^x u/(1-u^L)\,du = \tfrac{x^2}{2}\,{}_2F_1(1,\tfrac2L;1+\tfrac2L;x^L)`, x^L = w."""
    return 0.5 * np.asarray(w) ** (2.0 / L) * _hyp_log_case(2.0 / L, w, q)


def flow_time(sigma, p_from, p_to, *, depth: int, q_to=None):
    r"""Gradient-flow time for an aligned mode to go from ``p_from`` to ``p_to`` (α = 1).

    Exact closed form of :math:`t=\int_{p_0}^{p_1}\frac{dp}{L\,p^{2-2/L}(\sigma-p)}`
    (from Proposition 1's ODE), for :math:`0<p_0\le p_1<\sigma`: with
    :math:`\lambda=p^{1/L}` and :math:`x=\lambda/\sigma^{1/L}`, the partial fraction
    :math:`\frac{1}{\lambda^{L-1}(\sigma-\lambda^L)}=\frac1\sigma\big(\lambda^{1-L}+\frac{\lambda}{\sigma-\lambda^L}\big)` gives

    .. math:: t = \frac1\sigma\Big[\frac{\lambda_0^{2-L}-\lambda_1^{2-L}}{L-2}
              + \sigma^{2/L-1}\big(F(x_1)-F(x_0)\big)\Big],\quad
              F(x)=\tfrac{x^2}{2}\,{}_2F_1\!\big(1,\tfrac2L;1+\tfrac2L;x^L\big)\quad(L\ge3),

    and, for L = 2, the logistic time :math:`t=\frac{1}{2\sigma}\ln\frac{p_1(\sigma-p_0)}{p_0(\sigma-p_1)}`.

    Args:
        sigma, p_from, p_to: broadcastable arrays, ``0 < p_from <= p_to < sigma``.
        depth: L >= 2.
        q_to: optionally :math:`1-p_1/\sigma` given directly (keeps precision near σ), in (0, 1];
            then ``p_to <= sigma`` is allowed (p_to may round to σ while q_to > 0 does not).

    Raises:
        ValueError: outside these ranges — at the boundaries the time is infinite (p_from = 0:
        p = 0 is a fixed point; p_to = σ: reached only as t → ∞) or undefined (σ = 0).
    """
    L = checks.depth(depth)
    s = checks.positive("sigma", sigma)
    p0 = checks.positive("p_from", p_from)
    p1 = checks.positive("p_to", p_to)
    lo, hi = np.broadcast_arrays(p0, p1)
    if np.any(hi < lo):
        k = np.flatnonzero(hi < lo)[0]
        raise ValueError(f"p_to must be >= p_from, got p_to = {float(hi.ravel()[k])!r} < p_from = {float(lo.ravel()[k])!r}")
    if q_to is None:
        if np.any(p1 >= s):
            raise ValueError(f"p_to must be < sigma (the flow reaches sigma only as t -> inf), got p_to/sigma = "
                             f"{float(np.max(p1 / s))!r}")
    else:
        q = np.asarray(q_to, dtype=float)
        if np.any(~np.isfinite(q) | (q <= 0) | (q > 1)) or np.any(p1 > s):
            raise ValueError(f"q_to must be in (0, 1] with p_to <= sigma, got q_to = {float(np.min(q))!r}")
    return _flow_time(s, p0, p1, L, q_to)


def _flow_time(s, p0, p1, L: int, q_to=None):
    """:func:`flow_time` without the argument checks (callers that mask their own boundary cases)."""
    s, p0, p1 = (np.asarray(x, dtype=float) for x in (s, p0, p1))
    w0, w1 = p0 / s, p1 / s
    q0 = 1.0 - w0
    q1 = 1.0 - w1 if q_to is None else np.asarray(q_to, dtype=float)
    if L == 2:
        return (np.log(w1 / w0) + np.log(q0 / q1)) / (2.0 * s)
    lam0, lam1 = p0 ** (1.0 / L), p1 ** (1.0 / L)
    head = (lam0 ** (2 - L) - lam1 ** (2 - L)) / (L - 2)
    tail = s ** (2.0 / L - 1.0) * (_F(L, w1, q1) - _F(L, w0, q0))
    return (head + tail) / s


def beta_flow(p0, times, *, depth: int, alpha: float = 1.0):
    r"""Closed form of a mode with σ = 0 (the β modes, Eq. (14) in the flow limit).

    :math:`\dot\beta=-\beta^{2L-1}` gives
    :math:`\beta(t)=\big(\beta_0^{-(2L-2)}+(2L-2)t\big)^{-1/(2L-2)}`, and p = β^L. For L = 2
    with outer step α the time is rescaled, t → αt. (For L >= 3 and α ≠ 1 use the ODE.)
    ``p0 = 0`` is the flow's fixed point: p(t) = 0 exactly (not through :math:`0^{-(2L-2)} = ∞`).
    Args: p0 >= 0 finite; times finite >= 0 (any shape broadcastable with p0); alpha > 0.
    """
    L = checks.depth(depth)
    t = np.asarray(times, dtype=float)
    if np.any(~np.isfinite(t) | (t < 0)):
        raise ValueError(f"times must be finite and >= 0, got {float(t[~np.isfinite(t) | (t < 0)].ravel()[0])!r}")
    p = checks.positive("p0", p0, allow_zero=True)
    a = float(checks.positive("alpha", alpha))
    if L == 2:
        t = a * t
    pos = p > 0
    lam0 = np.where(pos, p, 1.0) ** (1.0 / L)
    out = (lam0 ** (-(2 * L - 2)) + (2 * L - 2) * t) ** (-L / (2 * L - 2))
    return np.where(pos, out, 0.0)


def aligned_mode_flow(sigma, p0, times, *, depth: int):
    r"""Solve :math:`\dot p=-L p^{2-2/L}(p-\sigma)`, :math:`p(0)=p_0`, at ``times`` (closed forms).

    σ = 0: :func:`beta_flow`. L = 2: the logistic curve
    :math:`p=\sigma p_0/(p_0+(\sigma-p_0)e^{-2\sigma t})`. L >= 3: the implicit
    :math:`t(p)` of :func:`flow_time` inverted by bisection on the logit
    :math:`s=\ln\frac{p}{\sigma-p}` (monotone in t), to full double precision.

    Args:
        sigma: (R,) target values >= 0. p0: (R,) or scalar initial values, 0 < p0 < σ
            (or σ = 0). times: (n,) nondecreasing, >= 0.

    Returns:
        (n, R) array.
    """
    L = checks.depth(depth)
    t = _times(times)
    s = checks.sigma_star(sigma, allow_zero=True)
    if s.ndim != 1:
        raise ValueError(f"sigma must be 1-D, got shape {s.shape}")
    p0 = np.broadcast_to(checks.positive("p0", p0), s.shape)
    out = np.empty((t.size, s.size))
    zero = s == 0
    if np.any(zero):
        out[:, zero] = beta_flow(p0[zero], t[:, None], depth=L)
    pos = ~zero
    if not np.any(pos):
        return out
    sg, pp = s[pos], p0[pos]
    if np.any(pp >= sg):
        raise ValueError("p0 must be below sigma for the closed form; use flow_spectrum(method='ode')")
    if L == 2:
        out[:, pos] = sg * pp / (pp + (sg - pp) * np.exp(-2.0 * sg * t[:, None]))
        return out
    tt = np.broadcast_to(t[:, None], (t.size, sg.size))
    SG, PP = np.broadcast_to(sg, tt.shape), np.broadcast_to(pp, tt.shape)
    s0 = np.log(PP / (SG - PP))
    T = lambda z: _flow_time(SG, PP, SG * expit(z), L, q_to=expit(-z))  # noqa: E731
    # Bracket: dT/ds >= 1/(L sigma^(2-2/L)), so s0 + t L sigma^(2-2/L) + 1 is an upper bound.
    lo = s0.copy()
    hi = s0 + tt * L * SG ** (2.0 - 2.0 / L) + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            below = T(mid) < tt  # NaN/inf (p rounds to sigma) counts as "not below"

        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
        if np.all(hi - lo <= 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(hi))):
            break
    z = 0.5 * (lo + hi)
    out[:, pos] = np.where(tt == 0, PP, SG * expit(z))
    return out


def _ode_modes(sigma, a0, b0, t, L, alpha):
    """Integrate (ln a, ln b) of independent modes with solve_ivp (DOP853, ODE_RTOL)."""
    R = sigma.size

    def rhs(_, y):
        u, v = y[:R], y[R:]
        a2 = np.exp(2 * u)
        e = a2 * np.exp((L - 2) * v) - sigma
        du = -alpha * e * np.exp((L - 2) * v)
        dv = -e * a2 * np.exp((L - 4) * v) if L > 2 else np.zeros_like(u)
        return np.concatenate([du, dv])

    y0 = np.concatenate([np.log(a0), np.log(b0)])
    sol = solve_ivp(rhs, (0.0, float(t[-1]) if t.size else 0.0), y0, method="DOP853",
                    t_eval=t, rtol=ODE_RTOL, atol=ODE_ATOL)
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    u, v = sol.y[:R].T, sol.y[R:].T
    return np.exp(2 * u + (L - 2) * v)


def flow_spectrum(
    sigma_star,
    times,
    *,
    depth: int,
    eps: float,
    alpha: float = 1.0,
    rank_hat: int | None = None,
    method: str = "auto",
) -> np.ndarray:
    r"""End-to-end singular values of the compressed DLN under gradient flow.

    The flow limit (η → 0, t = ηT) of :func:`theory.compressed_spectrum`. For α = 1 each
    mode follows :math:`\dot p=-Lp^{2-2/L}(p-\sigma_i)` from :math:`p(0)=\epsilon^L`, solved in
    closed form (:func:`aligned_mode_flow`; the β modes by :func:`beta_flow`). For α ≠ 1
    with L = 2 the same closed forms hold with t → αt; for α ≠ 1 and L >= 3 the mode ODE
    (module docstring) is integrated by ``solve_ivp`` (DOP853, rtol = atol = 1e-12).

    Args:
        sigma_star: (r,) target singular values > 0.
        times: (n,) nondecreasing times >= 0.
        depth: L >= 2. eps: ε > 0. alpha: α > 0. rank_hat: r̂ >= r (default r).
        method: ``"auto"`` (closed form where one exists), ``"ode"`` (always solve_ivp,
            for cross-checks).

    Returns:
        (n, rank_hat) array.
    """
    L = checks.depth(depth)
    sig = checks.sigma_star(sigma_star)
    if sig.ndim != 1:
        raise ValueError(f"sigma_star must be 1-D here, got shape {sig.shape}")
    e0 = float(checks.positive("eps", eps))
    al = float(checks.positive("alpha", alpha))
    R = checks.rank_hat(rank_hat, sig.size)
    checks.choice("method", method, ("auto", "ode"))
    t = _times(times)
    sig = np.concatenate([sig, np.zeros(R - sig.size)])
    p0 = _initial_value(e0, L)
    closed = method == "auto" and (al == 1.0 or L == 2) and np.all(p0 < sig[sig > 0])
    if closed:
        return aligned_mode_flow(sig, p0, al * t if L == 2 else t, depth=L)
    a0 = np.full(R, e0)
    return _ode_modes(sig, a0, a0.copy(), t, L, al) if t.size else np.empty((0, R))


def wide_flow_spectrum(
    sigma_star,
    times,
    *,
    depth: int,
    eps: float,
    dim: int,
    init: str = "proof",
) -> np.ndarray:
    r"""The wide DLN's end-to-end singular values under gradient flow, **if aligned**.

    Proposition 1 with :math:`c_\text{vec}=0` (Theorem 2's hypothesis): each of the ``dim``
    singular values follows :math:`\dot\sigma=-L\sigma^{2-2/L}(\sigma-\sigma^*_i)` with
    :math:`\sigma^*_i=0` for i > r, from :math:`\epsilon^L` (``init="proof"``, the scaling
    used in the proofs) or :math:`\epsilon^{L/2}` (``init="eq3"``: Eq. (3) read literally,
    :math:`W_l^\top W_l=\epsilon I` means singular values √ε per layer). A real wide DLN is
    not aligned at t = 0; this is the idealisation the proof of Theorem 2 compares against.

    Returns:
        (n, dim) array.
    """
    L = checks.depth(depth)
    sig = checks.sigma_star(sigma_star)
    e0 = float(checks.positive("eps", eps))
    d = checks.rank_hat(dim, sig.size)
    checks.choice("init", init, ("proof", "eq3"))
    p0 = _initial_value(e0, L) if init == "proof" else _initial_value(e0, L / 2)
    sig = np.concatenate([sig, np.zeros(d - sig.size)])
    return aligned_mode_flow(sig, p0, times, depth=L)


def mode_invariant(a, b, alpha: float = 1.0):
    r"""The flow's conserved quantity per mode: :math:`a^2-\alpha b^2` (= ε²(1−α) at t = 0).

    From :math:`\tfrac{d}{dt}a^2 = -2\alpha e\,a^2b^{L-2}` and
    :math:`\tfrac{d}{dt}b^2 = -2e\,a^2b^{L-2}`.
    """
    return np.asarray(a) ** 2 - alpha * np.asarray(b) ** 2


def balance_invariants(weights, step_scales=None):
    r"""Conserved matrices of gradient flow on a DLN with per-layer step scales :math:`\eta_l`:

    .. math:: C_l = \frac{W_{l+1}^\top W_{l+1}}{\eta_{l+1}} - \frac{W_l W_l^\top}{\eta_l},
              \qquad l = 1,\dots,L-1,

    which follows from :math:`W_{l+1}^\top\nabla_{W_{l+1}}\ell=\nabla_{W_l}\ell\,W_l^\top`.
    With equal steps this is the balancedness of Arora et al. (2019); Algorithm 1 has
    :math:`\eta_1=\eta_L=\alpha\eta`.

    Args:
        weights: sequence ``[W_1, …, W_L]`` of 2-D arrays, ``W_l`` of shape :math:`(d_l, d_{l-1})`.
        step_scales: per-layer step multipliers (default all 1).

    Returns:
        list of L − 1 arrays.
    """
    Ws = [np.asarray(W, dtype=float) for W in weights]
    if len(Ws) < 2:
        raise ValueError(f"weights must hold at least 2 layers, got {len(Ws)}")
    sc = np.ones(len(Ws)) if step_scales is None else checks.positive("step_scales", step_scales)
    if sc.shape != (len(Ws),):
        raise ValueError(f"step_scales must have one entry per layer ({len(Ws)}), got shape {sc.shape}")
    return [Ws[i + 1].T @ Ws[i + 1] / sc[i + 1] - Ws[i] @ Ws[i].T / sc[i] for i in range(len(Ws) - 1)]


def _initial_value(eps: float, power: float) -> float:
    """ε^power, refused when it underflows to 0 in float64 (p = 0 is a fixed point of the flow)."""
    p0 = eps**power
    if not p0 > 0:
        raise ValueError(f"eps = {eps!r} gives eps**{power:g} = 0 in float64 (underflow); eps must be > "
                         f"{np.finfo(float).smallest_normal ** (1.0 / power):.3g}")
    return p0


def _times(times) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=float))
    if t.ndim != 1 or np.any(~np.isfinite(t)) or np.any(t < 0) or np.any(np.diff(t) < 0):
        raise ValueError("times must be a 1-D nondecreasing array of finite values >= 0, "
                         f"got {np.asarray(times)!r}")
    return t

r"""Symbolic derivations (sympy) of the per-mode theory, from the scalar loss upward.

Nothing here is restated: each function starts from the scalar mode loss
:math:`\ell=\tfrac12(x_L\cdots x_1-\sigma)^2` and lets sympy derive the gradient, the GD
recurrence, the ODEs, the closed-form solutions, the invariant and the critical step size.
The tests lambdify these and compare them with the numeric implementations in
:mod:`theory.recurrences`, :mod:`theory.flow`, :mod:`theory.fit_times`, :mod:`theory.stability`.
All functions take a concrete integer depth and are cached.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from . import checks

__all__ = [
    "symbols",
    "mode_loss",
    "mode_gradient",
    "recurrence",
    "paper_recurrence",
    "recurrence_matches_paper",
    "end_to_end_ode",
    "beta_solution",
    "logistic_solution",
    "implicit_time",
    "invariant_rate",
    "critical_step_size",
]

_pos = dict(positive=True, real=True)
a, b, lam, p, sigma, eta, alpha, eps, t, x = sp.symbols("a b lambda p sigma eta alpha epsilon t x", **_pos)


def symbols() -> dict[str, sp.Symbol]:
    """The shared positive symbols: a, b, lambda, p, sigma, eta, alpha, epsilon, t, x."""
    return dict(a=a, b=b, lam=lam, p=p, sigma=sigma, eta=eta, alpha=alpha, eps=eps, t=t, x=x)


@lru_cache(maxsize=None)
def mode_loss(depth: int):
    r"""Scalar mode loss :math:`\tfrac12(\prod_l x_l-\sigma)^2` and its layer symbols."""
    L = checks.depth(depth)
    xs = sp.symbols(f"x1:{L + 1}", real=True)
    return sp.Rational(1, 2) * (sp.prod(xs) - sigma) ** 2, xs


@lru_cache(maxsize=None)
def mode_gradient(depth: int):
    r""":math:`\partial\ell/\partial x_l` for every layer, derived by differentiation."""
    loss, xs = mode_loss(depth)
    return tuple(sp.diff(loss, xl) for xl in xs)


@lru_cache(maxsize=None)
def recurrence(depth: int):
    r"""One GD step of Algorithm 1 on a mode, derived from the loss.

    Layers 1 and L (outer) move with αη and start equal, so they stay equal (= a); the inner
    layers move with η and stay equal (= b). Returns ``(a_next, b_next)`` in a, b, σ, η, α;
    for L = 2 ``b_next`` is ``b`` (no inner layer).
    """
    L = checks.depth(depth)
    grads = mode_gradient(L)
    _, xs = mode_loss(L)
    sub = {xs[0]: a, xs[-1]: a, **{xl: b for xl in xs[1:-1]}}
    a_next = a - alpha * eta * grads[-1].subs(sub)
    b_next = b - eta * grads[1].subs(sub) if L > 2 else b
    return sp.expand(a_next), sp.expand(b_next)


def paper_recurrence(depth: int):
    r"""Eq. (13) as printed: :math:`\lambda(1-\eta(\lambda^L-\sigma)\lambda^{L-2})` (for comparison)."""
    L = checks.depth(depth)
    return lam * (1 - eta * (lam**L - sigma) * lam ** (L - 2))


@lru_cache(maxsize=None)
def recurrence_matches_paper(depth: int) -> dict[str, bool]:
    r"""Does the derived recurrence reduce to Eq. (13)? Checked symbolically.

    Returns ``{"alpha=1": …, "any alpha": …}``: with α = 1 and a = b = λ both updates equal
    Eq. (13) exactly; with general α they do not (for L >= 3), which is why
    :func:`theory.compressed_spectrum` follows the two-variable recurrence.
    """
    L = checks.depth(depth)
    a_next, b_next = recurrence(L)
    paper = paper_recurrence(L)
    bal = {a: lam, b: lam}
    ok1 = sp.simplify(a_next.subs(bal).subs(alpha, 1) - paper) == 0 and (
        L == 2 or sp.simplify(b_next.subs(bal).subs(alpha, 1) - paper) == 0
    )
    if L == 2:  # both layers outer: Eq. (13) holds with eta -> alpha * eta
        okg = sp.simplify(a_next.subs(bal) - paper.subs(eta, alpha * eta)) == 0
    else:
        okg = sp.simplify(a_next.subs(bal) - paper) == 0 and sp.simplify(b_next.subs(bal) - paper) == 0
    return {"alpha=1": bool(ok1), "any alpha": bool(okg)}


@lru_cache(maxsize=None)
def end_to_end_ode(depth: int):
    r"""Derive :math:`\dot p` for :math:`p=\lambda^L` under the balanced flow
    :math:`\dot\lambda=-\partial\ell/\partial x_l|_{x=\lambda}`, expressed in p.

    The result simplifies to Proposition 1's aligned ODE :math:`-L p^{2-2/L}(p-\sigma)`.
    """
    L = checks.depth(depth)
    grads = mode_gradient(L)
    _, xs = mode_loss(L)
    lam_dot = -grads[0].subs({xl: lam for xl in xs})
    p_dot = sp.diff(lam**L, lam) * lam_dot
    return sp.simplify(sp.powsimp(sp.expand_power_base(p_dot.subs(lam, p ** sp.Rational(1, L)), force=True), force=True))


@lru_cache(maxsize=None)
def beta_solution(depth: int):
    r"""Solve the β-mode flow :math:`\dot\beta=-\partial\ell/\partial x|_{\sigma=0}=-\beta^{2L-1}`,
    β(0) = ε, with ``sympy.dsolve``; returns β(t) (the positive branch)."""
    L = checks.depth(depth)
    f = sp.Function("beta")
    grads = mode_gradient(L)
    _, xs = mode_loss(L)
    rhs = -grads[0].subs({xl: f(t) for xl in xs}).subs(sigma, 0)
    sols = sp.dsolve(sp.Eq(f(t).diff(t), rhs), f(t), ics={f(0): eps})
    sols = sols if isinstance(sols, list) else [sols]
    for s in sols:
        val = s.rhs.subs({t: 1, eps: sp.Rational(1, 2)})
        if val.is_real and val.is_positive:
            return sp.simplify(s.rhs)
    raise RuntimeError("dsolve returned no positive branch")  # pragma: no cover


@lru_cache(maxsize=None)
def logistic_solution():
    r"""L = 2: solve :math:`\dot p=-2p(p-\sigma)`, p(0) = p₀ (derived ODE) with ``dsolve``."""
    p0 = sp.Symbol("p0", **_pos)
    f = sp.Function("p")
    rhs = end_to_end_ode(2).subs(p, f(t))
    sol = sp.dsolve(sp.Eq(f(t).diff(t), rhs), f(t), ics={f(0): p0})
    return sp.simplify(sol.rhs), p0


@lru_cache(maxsize=None)
def implicit_time(depth: int):
    r"""Closed-form antiderivative of the fit time, derived by ``sympy.integrate``.

    With :math:`\lambda=\sigma^{1/L}x`,
    :math:`dt=\frac{d\lambda}{\lambda^{L-1}(\sigma-\lambda^L)}=\sigma^{2/L-2}\frac{dx}{x^{L-1}(1-x^L)}`;
    sympy integrates the rational function in x (logs and arctangents). Returns G(x) with
    :math:`t(x_0\to x_1)=\sigma^{2/L-2}(G(x_1)-G(x_0))`, for 0 < x < 1.
    """
    L = checks.depth(depth)
    xx = sp.Symbol("x", positive=True)
    G = sp.integrate(1 / (xx ** (L - 1) * (1 - xx**L)), xx)
    # sympy writes log(x - 1); on 0 < x < 1 the real antiderivative is log|x - 1|.
    G = G.replace(sp.log, lambda u: sp.log(sp.Abs(u)))
    return G.subs(xx, x)


@lru_cache(maxsize=None)
def invariant_rate(depth: int):
    r""":math:`\tfrac{d}{dt}(a^2-\alpha b^2)` under the α-preconditioned flow; simplifies to 0."""
    L = checks.depth(depth)
    if L == 2:
        return sp.Integer(0)
    a_next, b_next = recurrence(L)
    a_dot = sp.diff(a_next, eta)  # the flow is the eta-derivative of one GD step
    b_dot = sp.diff(b_next, eta)
    return sp.simplify(2 * a * a_dot - alpha * 2 * b * b_dot)


@lru_cache(maxsize=None)
def critical_step_size(depth: int):
    r"""Derive :math:`\eta_c` from the Hessian of the loss at the flow-selected minimum.

    At a minimum the GD map's Jacobian is :math:`I-DH` with :math:`D=\mathrm{diag}(\alpha\eta,
    \eta,\dots,\eta,\alpha\eta)` and H of rank one, so its one non-trivial eigenvalue is
    :math:`1-\operatorname{tr}(DH)`; instability when it drops below −1. Evaluated at the
    ε → 0 minimum :math:`a^2=\alpha b^2`, :math:`a^2b^{L-2}=\sigma`.
    """
    L = checks.depth(depth)
    loss, xs = mode_loss(L)
    H = sp.hessian(loss, xs)
    D = sp.diag(*[alpha if i in (0, L - 1) else 1 for i in range(L)])
    bstar = (sigma / alpha) ** sp.Rational(1, L)
    astar = sp.sqrt(alpha) * bstar if L > 2 else sp.sqrt(sigma)
    point = {xs[0]: astar, xs[-1]: astar, **{xl: bstar for xl in xs[1:-1]}}
    tr = sp.simplify((D * H).trace().subs(point))
    return sp.simplify(2 / tr)

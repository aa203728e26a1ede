r"""Symbolic (sympy) facts about the balanced mode map beyond the edge of stability.

Each function starts from the rescaled mode map :math:`f(\mu)=\mu-\kappa\mu^{L-1}(\mu^L-1)`,
:math:`\kappa=\eta\sigma^{2-2/L}` (:mod:`theory.eos`), and lets sympy derive the result; the tests
lambdify them and compare with the numeric roots of :mod:`theory.eos`.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from . import checks

__all__ = ["flip_kappa", "mode_map", "two_cycle_depth2"]

mu, a, b, kappa = sp.symbols("mu a b kappa", positive=True)


def mode_map(depth: int, x=mu) -> sp.Expr:
    r""":math:`f(x)=x-\kappa x^{L-1}(x^L-1)` (the paper's Eq. (13) rescaled by :math:`\sigma^{1/L}`)."""
    L = checks.depth(depth)
    return x - kappa * x ** (L - 1) * (x**L - 1)


@cache
def flip_kappa(depth: int) -> sp.Expr:
    r"""The κ at which :math:`f'(1)=-1` (the minimum's flip): :math:`2/L`, i.e. :math:`\eta_c=2/(L\sigma^{2-2/L})`."""
    L = checks.depth(depth)
    (k,) = sp.solve(sp.Eq(sp.diff(mode_map(L), mu).subs(mu, 1), -1), kappa)
    return sp.simplify(k)


@cache
def two_cycle_depth2() -> dict[str, sp.Expr]:
    r"""Closed form of the L = 2 two-cycle :math:`f(a)=b,\ f(b)=a`, :math:`a<1<b`.

    Dividing :math:`(f(a)-b)\mp(f(b)-a)` by :math:`a\mp b` leaves
    :math:`\kappa(a^2+ab+b^2)=\kappa+2` and :math:`a^2-ab+b^2=1`, i.e. :math:`ab=1/\kappa`,
    :math:`a^2+b^2=1+1/\kappa`: real for κ ≥ 1 (η ≥ η_c). The multiplier
    :math:`f'(a)f'(b)=9-2(1+\kappa)^2` is −1 at :math:`\kappa=\sqrt5-1`, the second period doubling.
    Over one period the balancing gap is multiplied by
    :math:`\rho=(1-\kappa^2(a^2-1)^2)(1-\kappa^2(b^2-1)^2)=3-2\kappa` (:func:`theory.eos.gap_multiplier`
    at both points, rescaled): it decays to zero geometrically on the whole 2-cycle range κ ∈ (1, √5 − 1).

    Returns:
        ``{"a", "b", "multiplier", "kappa_doubling", "gap_rate"}``, expressions in ``kappa``.
    """
    f = mode_map(2, a), mode_map(2, b)
    e_minus = sp.cancel(sp.factor((f[0] - b) - (f[1] - a)) / (a - b))
    e_plus = sp.cancel(sp.factor((f[0] - b) + (f[1] - a)) / (a + b))
    sols = sp.solve([e_minus, e_plus], [a, b], dict=True)
    # the branch with a < b: at kappa = 2 (inside the 2-cycle's range) pick the ordered one
    (sol,) = [s for s in sols if float(s[a].subs(kappa, 2)) < float(s[b].subs(kappa, 2))]
    fp = sp.diff(mode_map(2), mu)
    mult = sp.simplify(sp.expand(fp.subs(mu, sol[a]) * fp.subs(mu, sol[b])))
    roots = [r for r in sp.solve(sp.Eq(mult, -1), kappa) if r.is_positive]
    rate = sp.simplify(sp.expand((1 - kappa**2 * (sol[a] ** 2 - 1) ** 2) * (1 - kappa**2 * (sol[b] ** 2 - 1) ** 2)))
    return {"a": sol[a], "b": sol[b], "multiplier": mult, "kappa_doubling": sp.nsimplify(min(roots)),
            "gap_rate": rate}

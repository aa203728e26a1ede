"""sympy derivations (theory.symbolic) against the numeric implementations."""

import numpy as np
import pytest
import sympy as sp

import theory
from theory import symbolic as S

rng = np.random.default_rng(7)
sym = S.symbols()


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_recurrence_derived_from_the_loss_is_theorem1_only_for_alpha_one(depth):
    verdict = S.recurrence_matches_paper(depth)
    assert verdict["alpha=1"] is True
    assert verdict["any alpha"] is (depth == 2)
    a_next, b_next = S.recurrence(depth)
    f = sp.lambdify((sym["a"], sym["b"], sym["sigma"], sym["eta"], sym["alpha"]), (a_next, b_next), "numpy")
    for _ in range(5):
        a, b, s, e, al = rng.uniform(0.1, 2.0, 5)
        got = f(a, b, s, e, al)
        want = theory.mode_step(a, b, s, depth=depth, eta=e, alpha=al)
        assert np.allclose(got, want, rtol=1e-13, atol=1e-15)  # same algebra, different order: a few ulps


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_end_to_end_ode_is_proposition1(depth):
    ode = S.end_to_end_ode(depth)
    p, s = sym["p"], sym["sigma"]
    assert sp.simplify(ode - (-depth * p ** (2 - sp.Rational(2, depth)) * (p - s))) == 0


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_beta_solution_matches_beta_flow(depth):
    f = sp.lambdify((sym["t"], sym["eps"]), S.beta_solution(depth) ** depth, "numpy")
    t = np.linspace(0, 40, 9)
    assert np.allclose(f(t, 0.6), theory.beta_flow(0.6**depth, t, depth=depth), rtol=1e-14, atol=0)


def test_logistic_solution_matches_the_closed_form():
    expr, p0 = S.logistic_solution()
    f = sp.lambdify((sym["t"], sym["sigma"], p0), expr, "numpy")
    t = np.linspace(0, 5, 11)
    got = f(t, 2.0, 0.01)
    want = theory.aligned_mode_flow([2.0], 0.01, t, depth=2)[:, 0]
    assert np.allclose(got, want, rtol=1e-13, atol=0)


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_implicit_time_from_sympy_matches_the_hypergeometric_form(depth):
    G = sp.lambdify(sym["x"], S.implicit_time(depth), "numpy")
    s = 2.0
    for x0, x1 in ((0.05, 0.5), (0.2, 0.99), (0.3, 0.999999)):
        t_sym = s ** (2 / depth - 2) * (G(x1) - G(x0))
        t_num = theory.flow_time(s, s * x0**depth, s * x1**depth, depth=depth)
        # G(x0) ~ x0^{2-L}/(L-2) is large for small x0: cancellation costs ~ x0^{2-L}·1e-16
        assert t_sym == pytest.approx(t_num, rel=1e-11)


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_invariant_is_conserved_symbolically(depth):
    assert S.invariant_rate(depth) == 0


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_critical_step_from_the_hessian(depth):
    f = sp.lambdify((sym["sigma"], sym["alpha"]), S.critical_step_size(depth), "numpy")
    for s, a in ((1.0, 1.0), (3.7, 0.4), (12.0, 5.0)):
        assert f(s, a) == pytest.approx(theory.critical_step_size(s, depth=depth, alpha=a), rel=1e-14)

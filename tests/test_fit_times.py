"""Fit times (theory.fit_times): exact, quadrature, asymptotics, and the learning order."""

import numpy as np
import pytest
from hypothesis import given
from scipy.integrate import quad

import theory
from verify.strategies import alphas, depths, epsilons, spectra


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("alpha", [1.0, 0.4, 3.0])
def test_flow_reaches_the_target_exactly_at_the_fit_time(depth, alpha):
    sig = np.array([4.0, 1.0])
    t = theory.fit_time(sig, depth=depth, eps=0.05, delta=0.01, alpha=alpha)
    for i, s in enumerate(sig):
        p = theory.flow_spectrum([s], [t[i]], depth=depth, eps=0.05, alpha=alpha, method="ode")[0, 0]
        # ODE oracle at 1e-12 per step; p is flat-ish at 0.99σ (dp/dt·t/p = O(10)), so 1e-9
        assert abs(p / s - 0.99) <= 1e-9


@pytest.mark.parametrize("depth", [3, 4])
def test_quadrature_path_is_continuous_with_the_closed_form_at_alpha_one(depth):
    sig = np.array([2.0, 0.5])
    exact = theory.fit_time(sig, depth=depth, eps=0.02)
    for da in (1e-7, -1e-7):
        near = theory.fit_time(sig, depth=depth, eps=0.02, alpha=1 + da)
        # dt/dα = O(t): a 1e-7 change in α moves t by ~1e-7 relative; quadrature at 1e-12
        assert np.allclose(near, exact, rtol=5e-7, atol=0)


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("alpha", [1.0, 3.0])
def test_asymptotic_error_is_order_eps_squared(depth, alpha):
    eps = np.array([0.08, 0.04, 0.02])
    err = [abs(theory.fit_time(2.0, depth=depth, eps=e, alpha=alpha)
               - theory.fit_time_asymptotic(2.0, depth=depth, eps=e, alpha=alpha)) for e in eps]
    slope = np.polyfit(np.log(eps), np.log(err), 1)[0]
    assert slope > 1.8 and slope < 2.2, (slope, err)
    lead = [theory.fit_time_asymptotic(2.0, depth=depth, eps=e, alpha=alpha, order=0) for e in eps]
    ex = [theory.fit_time(2.0, depth=depth, eps=e, alpha=alpha) for e in eps]
    assert np.all(np.diff(np.abs(np.array(ex) - lead) / np.array(ex)) < 0)  # order 0: relative error → 0


@pytest.mark.parametrize("depth", [3, 4, 6])
def test_escape_constant_matches_its_integral(depth):
    for a in (0.3, 1.0, 2.0, 20.0):
        K, _ = quad(lambda s: 1 / ((a * s * s + 1 - a) * s ** (depth - 3)), 1, np.inf, epsrel=1e-13)
        assert theory.escape_constant(depth, a) == pytest.approx(K, rel=1e-11)


@given(spectra(max_rank=5, min_gap=0.05), depths(), epsilons(1e-3, 0.1), alphas(0.5, 5))
def test_modes_are_learned_in_decreasing_order_of_sigma(sig, depth, eps, alpha):
    sched = theory.incremental_schedule(sig, depth=depth, eps=eps, alpha=alpha)
    assert np.array_equal(sched.order, np.arange(sig.size))  # spectra are decreasing
    assert np.all(np.diff(sched.times) > 0)


def test_schedule_steps_and_already_fitted_modes():
    s = theory.incremental_schedule([4.0, 1.0], depth=3, eps=0.1, eta=0.01)
    assert np.array_equal(s.steps, np.ceil(s.times / 0.01).astype(int))
    assert theory.fit_time(1e-4, depth=2, eps=0.5) == 0.0  # ε^L already above (1-δ)σ

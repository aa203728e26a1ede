"""Critical step sizes and loss normalisations (theory.stability)."""

import numpy as np
import pytest

import theory


def _jacobian_min_eig(sig, depth, eta, alpha, eps):
    """Smallest eigenvalue of the reduced GD map's Jacobian at the flow-selected minimum,
    by central differences — independent of the closed form under test."""
    from theory.stability import _flow_minimum

    a, b = _flow_minimum(sig, depth, alpha, eps)
    h = 1e-6
    J = np.empty((2, 2))
    for j, (da, db) in enumerate(((h, 0.0), (0.0, h))):
        plus = theory.mode_step(a + da, b + db, sig, depth=depth, eta=eta, alpha=alpha)
        minus = theory.mode_step(a - da, b - db, sig, depth=depth, eta=eta, alpha=alpha)
        J[:, j] = (np.array(plus) - np.array(minus)) / (2 * h)
    return np.min(np.linalg.eigvals(J).real)


@pytest.mark.parametrize("depth", [3, 4, 5])
@pytest.mark.parametrize("alpha", [1.0, 0.5, 3.0])
@pytest.mark.parametrize("eps", [0.0, 0.2])
def test_critical_step_is_where_the_jacobian_hits_minus_one(depth, alpha, eps):
    sig = 2.5
    eta_c = theory.critical_step_size(sig, depth=depth, alpha=alpha, eps=eps)
    # central differences with h = 1e-6 on an O(1) smooth map: truncation O(h²) ~ 1e-12,
    # rounding O(eps/h) ~ 1e-10 → 1e-8 is a safe margin
    assert _jacobian_min_eig(sig, depth, eta_c, alpha, eps) == pytest.approx(-1.0, abs=1e-8)
    assert _jacobian_min_eig(sig, depth, 0.99 * eta_c, alpha, eps) > -1.0
    assert _jacobian_min_eig(sig, depth, 1.01 * eta_c, alpha, eps) < -1.0


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_scalar_recurrence_converges_below_and_not_above(depth):
    sig = 3.0
    eta_c = theory.critical_step_size(sig, depth=depth)
    lam_star = sig ** (1 / depth)
    for frac, converges in ((0.98, True), (1.02, False)):
        lam = lam_star * (1 + 1e-3)
        for _ in range(20_000):
            lam = lam * (1 - frac * eta_c * (lam**depth - sig) * lam ** (depth - 2))
        assert (abs(lam - lam_star) < 1e-9) == converges


def test_warning_names_the_threshold():
    eta_c = theory.critical_step_size(1.0, depth=3)
    with pytest.warns(theory.StepSizeWarning, match=f"{eta_c:.6g}"):
        theory.compressed_spectrum([1.0], depth=3, eps=0.1, eta=1.1 * eta_c, steps=3)


def test_normalisations():
    assert theory.normaliser("factorization", (943, 1682)) == 943 * 1682
    assert theory.normaliser("completion", 100, n_observed=3000) == 3000
    assert theory.normaliser("sensing", 100, n_measurements=2000) == 2000
    eta = theory.convert_step_size(10.0, 10_000, frm="mean", to="sum")
    assert eta == pytest.approx(1e-3, rel=1e-15)
    assert theory.convert_step_size(eta, 10_000, frm="sum", to="mean") == pytest.approx(10.0, rel=1e-15)
    base = theory.critical_step_size(5.0, depth=3)
    f = theory.problem_critical_step_size(5.0, depth=3, shape=100, loss="mean")
    assert f == pytest.approx(base * 1e4, rel=1e-15)
    c = theory.problem_critical_step_size(5.0, depth=3, shape=100, problem="completion", n_observed=3000)
    assert c == pytest.approx(base / 0.3, rel=1e-15)
    s = theory.problem_critical_step_size(5.0, depth=3, shape=100, problem="sensing", n_measurements=2000,
                                          sensing_std=1 / 2000)
    assert s == pytest.approx(base * 2000, rel=1e-14)  # κ = m s² = 1/m with the authors' s = 1/m

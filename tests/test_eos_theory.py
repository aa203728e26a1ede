"""theory.eos / theory.eos_symbolic: sharpness, 2-cycles, period doubling, balancing gap, bad input."""

import numpy as np
import pytest
import sympy as sp

import theory
from theory import eos
from verify.tolerance import ulps


@pytest.mark.parametrize("depth", [2, 3, 4, 6])
def test_balanced_minimum_is_the_flattest(depth):
    """σ²Σ1/x_l² at random minima (product σ) is never below Lσ^{2−2/L}, and equals it at the balanced one."""
    rng = np.random.default_rng(depth)
    sig = 3.0
    x = np.exp(rng.normal(0, 0.5, (50, depth)))
    x[:, -1] = sig / np.prod(x[:, :-1], axis=1)  # product exactly σ up to one rounding
    flat = eos.mode_sharpness(sig, depth=depth)
    assert np.all(eos.minimum_sharpness(x, sig) >= flat * (1 - ulps(8 * depth)))  # AM–GM, to rounding
    assert eos.minimum_sharpness(np.full(depth, sig ** (1 / depth)), sig) == pytest.approx(flat, rel=ulps(8 * depth))


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_thresholds_are_the_critical_step_and_the_flip(depth):
    s = np.array([5.0, 2.0, 0.5])
    th = eos.eos_thresholds(s, depth=depth)
    assert np.allclose(th, theory.critical_step_size(s, depth=depth), rtol=ulps(4), atol=0)
    # the map's derivative at the fixed point is −1 exactly there (closed form 1 − κL with κ = 2/L)
    _, d = eos.mode_map(1.0, kappa=2.0 / depth, depth=depth)
    assert d == pytest.approx(-1.0, abs=ulps(8))
    assert eos.oscillating_modes(s, depth=depth, eta=th[1] * 1.001) == 2
    assert np.isinf(eos.eos_thresholds([1.0, 0.0], depth=depth)[1])


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_two_cycle_is_a_two_cycle_and_matches_sympy_for_depth_2(depth):
    for r in (1.01, 1.1, 1.2):
        tc = eos.two_cycle(r, depth=depth, sigma=4.0)
        a, b = tc.mu
        k = 2 * r / depth
        assert a < 1 < b
        assert eos.mode_map(a, kappa=k, depth=depth)[0] == pytest.approx(b, abs=ulps(64))
        assert eos.mode_map(b, kappa=k, depth=depth)[0] == pytest.approx(a, abs=ulps(64))
        assert abs(tc.multiplier) < 1  # below the second doubling r_1 > 1.2 the 2-cycle attracts
    from theory import eos_symbolic as es

    d = es.two_cycle_depth2()
    for r in (1.05, 1.2):
        tc = eos.two_cycle(r, depth=2)
        kap = 2 * r / 2
        got = [float(d[n].subs(es.kappa, kap)) for n in ("a", "b", "multiplier", "gap_rate")]
        # brentq to 4 ulps on an O(1) root; the closed forms evaluated in float: 1e3 ulps covers both
        assert np.allclose(got, [*tc.mu, tc.multiplier, tc.gap_rate], rtol=0, atol=ulps(1000))
    assert d["kappa_doubling"] == sp.sqrt(5) - 1
    assert es.flip_kappa(4) == sp.Rational(1, 2)


def test_period_doubling_points_depth2_start_at_sqrt5_and_approach_feigenbaum():
    r = eos.period_doubling_ratios(depth=2, count=5)
    # hybr stops once its relative step is below its xtol = 1e-13 (theory.eos.period_doubling_ratios): the
    # root is then that close, relatively (measured: equal to the last bit)
    assert r[1] == pytest.approx(np.sqrt(5) - 1, rel=1e-13, abs=0)
    assert np.all(np.diff(r) > 0)
    d = np.diff(r)
    ratios = d[:-1] / d[1:]
    assert np.all(np.diff(np.abs(ratios - 4.669201609)) < 0)  # each ratio closer to δ than the last


def test_crisis_and_gap_multiplier():
    assert eos.positive_crisis_ratio(depth=2) > eos.period_doubling_ratios(depth=2, count=3)[-1]
    x = np.array([1.5, 0.7, 1.2])
    sig, eta = 1.0, 0.3
    e = np.prod(x) - sig
    # one GD step by hand, then the gaps' ratio equals the multiplier (closed form)
    xn = x - eta * e * np.prod(x) / x
    g0, g1 = eos.balancing_gap(x[:, None])[:, 0], eos.balancing_gap(xn[:, None])[:, 0]
    assert np.allclose(g1 / g0, eos.gap_multiplier(x, sigma=sig, eta=eta), rtol=ulps(64), atol=0)


@pytest.mark.parametrize("call,arg", [
    (lambda: eos.two_cycle(0.9, depth=3), "ratio"),
    (lambda: eos.two_cycle(1.2, depth=1), "depth"),
    (lambda: eos.period_doubling_ratios(depth=3, count=9), "count"),
    (lambda: eos.minimum_sharpness([1.0, 2.0], 1.0), "x"),
    (lambda: eos.balancing_gap([1.0, 2.0]), "layer_values"),
    (lambda: eos.oscillating_modes([1.0], depth=2, eta=-1.0), "eta"),
    (lambda: eos.mode_map(0.5, kappa=-1.0, depth=2), "kappa"),
])
def test_bad_input_names_the_argument(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()


def test_two_cycle_refuses_a_ratio_beyond_its_branch():
    with pytest.raises(ValueError, match="ratio"):
        eos.two_cycle(50.0, depth=3)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_aligned_cycle_radius_of_one_mode_is_its_multiplier_or_its_gap_rate(depth):
    """One mode: the monodromy's eigenvalues are the 2-cycle's multiplier and the L − 1 gaps' factor ρ (all
    gaps share it on the balanced orbit), so the complex-step Jacobian must reproduce max(|m|, |ρ|)."""
    sig, r = 2.0, 1.1
    tc = eos.two_cycle(r, depth=depth, sigma=sig)
    eta = r * eos.eos_thresholds([sig], depth=depth)[0]
    got = eos.aligned_cycle_radius([sig], depth=depth, eta=eta)
    # brentq's root (4 ulps) through a 2-fold product of Jacobians of size L: 1e3 ulps
    assert got == pytest.approx(max(abs(tc.multiplier), abs(tc.gap_rate)), abs=ulps(1000))


#: neutral eigenvalues (hidden-space rotations, frozen gaps) are exactly 1, some in defective blocks whose
#: computed moduli carry ~√eps of rounding: 2^26 ulps ≈ √eps (as verify/test_eos_subspace.py's RADIUS_TOL)
NEUTRAL_TOL = ulps(2**26)


def _fd_radius_depth2(sig, eta):
    """The same monodromy for L = 2, computed independently: the 2-cycle from its closed form (ab = 1/κ,
    a² + b² = 1 + 1/κ, κ = ησ), a mode below its threshold at its minimum, and Jacobians of a hand-written GD
    step by central differences (real arithmetic, no complex step)."""
    sig = np.asarray(sig, dtype=float)
    n = sig.size
    pts = []
    for k in eta * sig:
        u, v = (np.sqrt(1 + 3 / k), np.sqrt(1 - 1 / k)) if k > 1 else (2.0, 0.0)  # a + b, b − a
        pts.append(((u - v) / 2, (u + v) / 2))
    pts = np.sqrt(sig)[:, None] * np.array(pts)
    M, h = np.diag(sig), np.finfo(float).eps ** (1 / 3)

    def step(z):
        W1, W2 = z[: n * n].reshape(n, n), z[n * n:].reshape(n, n)
        R = W2 @ W1 - M
        return np.concatenate([(W1 - eta * W2.T @ R).ravel(), (W2 - eta * R @ W1.T).ravel()])

    J = np.eye(2 * n * n)
    for j in range(2):
        x = np.concatenate([np.diag(pts[:, j]).ravel()] * 2)
        J = np.array([(step(x + h * e) - step(x - h * e)) / (2 * h) for e in np.eye(x.size)]).T @ J
    return float(np.max(np.abs(np.linalg.eigvals(J)))), h


@pytest.mark.parametrize("sig", [[1.0, 0.3], [1.0, 0.9], [2.0, 1.9, 0.5]])
def test_aligned_cycle_radius_matches_finite_differences_and_sees_misalignment_grow(sig):
    eta = 1.1 * eos.eos_thresholds(sig[:1], depth=2)[0]
    got = eos.aligned_cycle_radius(sig, depth=2, eta=eta)
    fd, h = _fd_radius_depth2(sig, eta)
    if sig[1] < 0.5:  # distant modes: only the top mode oscillates, and the radius is the neutral 1
        assert abs(got - 1) <= NEUTRAL_TOL and abs(fd - 1) <= NEUTRAL_TOL
    else:  # close modes: a simple eigenvalue above 1 (misalignment grows)
        assert got > 1 + NEUTRAL_TOL
        # central differences of the cubic GD map err by exactly (h²/6)·(its third derivative, ~6η·σ) with no
        # higher terms, plus rounding ~eps/h = h²: 64 h² covers both through the product of two Jacobians
        assert got == pytest.approx(fd, abs=64 * h * h)
    with pytest.raises(ValueError, match="eta"):
        eos.aligned_cycle_radius(sig, depth=2, eta=0.5 * eta)

"""Theorem 1's recurrences (theory.recurrences) against plain GD on real matrices."""


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import theory
from tests.reference import algorithm1_init, gd
from verify.strategies import depths, epsilons, haar_orthogonal, spectra, step_fractions
from verify.tolerance import ulps


def _gd_modes(sig, *, d, rank_hat, depth, eps, eta, steps, alpha, seed=0):
    U, V = haar_orthogonal(d, seed), haar_orthogonal(d, seed + 1)
    M = (U[:, : sig.size] * sig) @ V[:, : sig.size].T
    Ws = algorithm1_init(U, V, rank_hat, depth, eps)
    scales = [alpha] + [1.0] * (depth - 2) + [alpha]
    out = np.array([U[:, :rank_hat].T @ W @ V[:, :rank_hat] for W in gd(Ws, M, eta=eta, steps=steps, step_scales=scales)])
    return out


@pytest.mark.parametrize("depth", [2, 3, 4])
@pytest.mark.parametrize("alpha", [1.0, 2.5])
def test_recurrence_equals_gd_on_matrices_every_step_every_mode(depth, alpha):
    sig = np.array([3.0, 1.5, 0.7])
    kw = dict(depth=depth, eps=0.3, steps=120, alpha=alpha)
    eta = 0.5 * theory.critical_step_size(sig[0], depth=depth, alpha=alpha, eps=0.3)
    gd_modes = _gd_modes(sig, d=7, rank_hat=5, eta=eta, **kw)
    pred = theory.compressed_spectrum(sig, eta=eta, rank_hat=5, **kw)
    diag = np.diagonal(gd_modes, axis1=1, axis2=2)
    off = gd_modes - np.einsum("ti,ij->tij", diag, np.eye(5))
    scale = sig[0]
    # Rounding: each step commits O(1) ulp per mode and, at 0.5 η_c, the map contracts near
    # its fixed points, so errors grow at most linearly: 120 steps × ~2 ulps = 256 ulps
    # (measured: at most 28 ulps over these six cases).
    assert np.max(np.abs(diag - pred)) <= ulps(256) * scale
    assert np.max(np.abs(off)) <= ulps(256) * scale  # the structure of Theorem 1: diagonal in U*, V*
    assert pred[-1, 0] > 0.5 * sig[0] > 10 * pred[0, 0]  # the run learned the top mode: not a trivial match


@pytest.mark.parametrize("depth", [3, 4])
def test_paper_recurrence_is_not_gd_for_alpha_not_one(depth):
    """Eq. (13) as printed ignores α; for L >= 3 GD on Algorithm 1 departs from it."""
    sig = np.array([2.0])
    eta = 0.3 * theory.critical_step_size(sig[0], depth=depth, alpha=3.0)
    kw = dict(depth=depth, eps=0.3, eta=eta, steps=40)
    gd_modes = _gd_modes(sig, d=4, rank_hat=1, alpha=3.0, **{k: v for k, v in kw.items()})
    paper = theory.compressed_spectrum(sig, alpha=3.0, form="paper", **kw)
    ours = theory.compressed_spectrum(sig, alpha=3.0, **kw)
    assert np.max(np.abs(gd_modes[:, 0, 0] - ours[:, 0])) <= ulps(256) * sig[0]  # as above
    assert np.max(np.abs(gd_modes[:, 0, 0] - paper[:, 0])) >= 1e-2 * sig[0]


def test_mode_step_loop_matches_vectorised_recurrence():
    sig = np.array([4.0, 1.0])
    for alpha in (1.0, 0.6):
        pred = theory.compressed_spectrum(sig, depth=4, eps=0.25, eta=0.01, steps=200, alpha=alpha)
        for i, s in enumerate(sig):
            a = b = 0.25
            for _ in range(200):
                a, b = theory.mode_step(a, b, s, depth=4, eta=0.01, alpha=alpha)
            # same operations in a different association order: a few ulps per step at most
            assert abs(a * a * b * b - pred[-1, i]) <= ulps(200 * 8) * s


def test_batching_and_thinning_are_exact():
    sig = np.array([[3.0, 1.0], [2.0, 0.5]])
    eps = np.array([0.1, 0.2])
    eta = np.array([0.01, 0.02])
    out = theory.compressed_spectrum(sig, depth=3, eps=eps, eta=eta, steps=50, rank_hat=3)
    assert out.shape == (51, 2, 3)
    for k in range(2):
        one = theory.compressed_spectrum(sig[k], depth=3, eps=eps[k], eta=eta[k], steps=50, rank_hat=3)
        assert np.array_equal(out[:, k], one)
    thin = theory.compressed_spectrum(sig, depth=3, eps=eps, eta=eta, steps=50, rank_hat=3, every=7)
    assert np.array_equal(thin, out[::7])


@given(spectra(max_rank=4), depths(), epsilons(0.05, 0.5), step_fractions(0.05, 0.5))
def test_modes_rise_monotonically_and_never_overshoot_below_half_critical(sig, depth, eps, frac):
    """For η <= η_c/2 the map λ ↦ λ(1−η(λ^L−σ)λ^{L−2}) is increasing on [0, σ^{1/L}]
    (its derivative is >= 1 − ηLσ^{2−2/L} >= 0), so modes rise monotonically to σ — no tolerance."""
    eps = min(eps, 0.5 * sig[-1] ** (1 / depth))
    eta = frac * theory.critical_step_size(sig[0], depth=depth)
    out = theory.compressed_spectrum(sig, depth=depth, eps=eps, eta=eta, steps=300, rank_hat=sig.size + 1)
    # exact in real arithmetic; in float64 a converged mode wobbles by 1 ulp around
    # fl(σ^{1/L})^L, hence a 4-ulp slack relative to σ
    assert np.all(np.diff(out[:, : sig.size], axis=0) >= -ulps(4) * sig)
    assert np.all(out[:, : sig.size] <= sig * (1 + ulps(4)))
    assert np.all(np.diff(out[:, -1]) <= 0) and np.all(out[:, -1] > 0)  # β mode decays, stays positive


@given(spectra(max_rank=3), depths(), st.floats(0.2, 0.9))
def test_converges_below_critical(sig, depth, frac):
    eta = frac * theory.critical_step_size(sig[0], depth=depth)
    n = theory.fit_steps(sig, depth=depth, eps=0.3, eta=eta, delta=1e-6, max_steps=200_000)
    assert np.all(n >= 0)


def test_above_critical_warns_and_does_not_converge():
    sig = np.array([2.0])
    eta = 1.5 * theory.critical_step_size(2.0, depth=3)
    with pytest.warns(theory.StepSizeWarning, match=r"critical step size 0\.2"):
        out = theory.compressed_spectrum(sig, depth=3, eps=0.5, eta=eta, steps=2000)
    last = out[-50:, 0]
    assert not np.all(np.abs(last - 2.0) < 1e-3 * 2.0)


def test_beta_mode_is_eq14():
    """β modes (σ = 0) follow Eq. (14) β(t+1) = β(1 − ηβ^{2(L−1)}) for any depth."""
    for L in (2, 3, 5):
        out = theory.compressed_spectrum([1.0], depth=L, eps=0.7, eta=0.05, steps=30, rank_hat=2)
        beta = 0.7
        for t in range(1, 31):
            beta = beta * (1 - 0.05 * beta ** (2 * (L - 1)))
            assert abs(out[t, 1] - beta**L) <= ulps(8 * t) * 0.7**L

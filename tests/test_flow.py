"""Gradient flow (theory.flow): closed forms against solve_ivp, invariants, the O(η) GD gap."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import theory
from verify.strategies import depths, epsilons, spectra
from verify.tolerance import ulps

# The ODE oracle integrates log-variables with rtol = atol = 1e-12 per step; over the steep
# sigmoid of a mode the global error in p is amplified by |dp/dt|·δt to ~1e-10 relative
# (measured: <= 2.1e-10 for L = 2..5 on an Intel CPU). Just past a mode's fit, DOP853 (explicit) runs at
# its stability limit around the fixed point and its step sequence depends on the last bits of exp: on
# an AMD EPYC the error reached 1.2e-7 (L = 4; Radau gives 6e-12 there). The comparison allows 1e-6,
# still 10⁶ below any error in a closed form's formula (O(1) in p).
ODE_CMP = 1e-6


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_closed_forms_match_the_ode(depth):
    sig = np.array([3.0, 2.0, 1.0])
    t = np.linspace(0.0, 4 * theory.fit_time(1.0, depth=depth, eps=0.1), 25)
    closed = theory.flow_spectrum(sig, t, depth=depth, eps=0.1, rank_hat=5)
    ode = theory.flow_spectrum(sig, t, depth=depth, eps=0.1, rank_hat=5, method="ode")
    assert np.all(np.abs(closed - ode) <= ODE_CMP * np.maximum(ode, 1e-300))
    assert closed[-1, 0] > 0.99 * sig[0]  # the interval covers the whole sigmoid


@given(spectra(max_rank=3), depths(), epsilons(0.01, 0.3), st.floats(0.1, 1.0))
def test_flow_time_inverts_the_flow(sig, depth, eps, frac):
    """t ↦ p(t) (bisection on the implicit solution) and p ↦ t(p) (closed form) are inverses."""
    eps = min(eps, 0.5 * sig[-1] ** (1 / depth))
    t = frac * theory.fit_time(sig, depth=depth, eps=eps)
    p = np.diagonal(theory.aligned_mode_flow(sig, eps**depth, t, depth=depth))
    back = theory.flow_time(sig, eps**depth, p, depth=depth)
    # p is exact to ~4 ulps; dt/dp amplifies that by p·dt/dp <= t·L·σ/(σ−p) at most, and p <= 0.99σ
    # (frac <= 1), so 1e-9 relative on t is ample while still catching any real mismatch.
    assert np.allclose(back, t, rtol=1e-9, atol=0)


def test_beta_mode_closed_form_and_alpha_ode():
    t = np.linspace(0, 50, 11)
    for L in (2, 3, 4):
        beta = theory.beta_flow(0.4**L, t, depth=L)
        ode = theory.flow_spectrum([1.0], t, depth=L, eps=0.4, rank_hat=2, method="ode")[:, 1]
        assert np.allclose(beta, ode, rtol=ODE_CMP, atol=0)
    # L = 2, α ≠ 1: the closed form with t → αt agrees with the ODE of both outer layers at αη
    a = theory.flow_spectrum([2.0], t / 10, depth=2, eps=0.3, alpha=3.0, rank_hat=2)
    o = theory.flow_spectrum([2.0], t / 10, depth=2, eps=0.3, alpha=3.0, rank_hat=2, method="ode")
    assert np.allclose(a, o, rtol=ODE_CMP, atol=0)


@pytest.mark.parametrize("depth", [3, 4])
@pytest.mark.parametrize("alpha", [0.5, 4.0])
def test_gd_converges_to_the_flow_at_rate_eta(depth, alpha):
    """Discretisation claim tested as a rate: |GD(T = t/η) − flow(t)| = O(η), slope 1 in log–log."""
    sig = np.array([1.5])
    t_end = 0.8 * theory.fit_time(sig[0], depth=depth, eps=0.3, alpha=alpha)
    etas = t_end / np.array([200, 400, 800, 1600])
    flow = theory.flow_spectrum(sig, [t_end], depth=depth, eps=0.3, alpha=alpha)[0, 0]
    errs = [abs(theory.compressed_spectrum(sig, depth=depth, eps=0.3, eta=e, steps=int(round(t_end / e)),
                                           alpha=alpha)[-1, 0] - flow) for e in etas]
    slope = np.polyfit(np.log(etas), np.log(errs), 1)[0]
    assert 0.9 < slope < 1.1, (slope, errs)


def test_mode_invariant_drifts_at_order_eta_under_gd():
    """a² − αb² is conserved by the flow; GD breaks it by O(η²) per step, O(η) at fixed time."""
    drift = []
    for eta in (0.01, 0.005, 0.0025):
        a = b = 0.3
        for _ in range(int(round(2.0 / eta))):
            a, b = theory.mode_step(a, b, 1.5, depth=3, eta=eta, alpha=2.0)
        drift.append(abs(theory.mode_invariant(a, b, 2.0) - theory.mode_invariant(0.3, 0.3, 2.0)))
    ratios = np.array(drift[:-1]) / np.array(drift[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), drift


def test_balance_invariants_of_matrix_gd_drift_at_order_eta():
    rng = np.random.default_rng(3)
    Ws0 = [0.3 * rng.standard_normal((4, 4)) for _ in range(3)]
    M = rng.standard_normal((4, 4))
    scales = [2.0, 1.0, 2.0]
    c0 = theory.balance_invariants(Ws0, scales)
    drift = []
    for eta in (0.004, 0.002, 0.001):
        Ws = [W.copy() for W in Ws0]
        from tests.reference import gradients
        for _ in range(int(round(0.5 / eta))):
            G = gradients(Ws, M)
            Ws = [W - eta * s * g for W, s, g in zip(Ws, scales, G)]
        drift.append(max(np.max(np.abs(c - c0_)) for c, c0_ in zip(theory.balance_invariants(Ws, scales), c0)))
    ratios = np.array(drift[:-1]) / np.array(drift[1:])
    assert np.all((ratios > 1.8) & (ratios < 2.2)), drift
    with pytest.raises(ValueError, match="step_scales"):
        theory.balance_invariants(Ws0, [1.0, 1.0])


def test_wide_aligned_flow_is_never_below_compressed_under_the_proof_scaling():
    sig = np.array([2.0, 1.0])
    t = np.linspace(0, 300, 40)
    wide = theory.wide_flow_spectrum(sig, t, depth=3, eps=0.1, dim=6)
    comp = theory.flow_spectrum(sig, t, depth=3, eps=0.1, rank_hat=3)
    target = np.concatenate([sig, np.zeros(4)])
    err_w = np.sum((wide - target) ** 2, axis=1)
    err_c = np.sum((comp - target[:3]) ** 2, axis=1) + np.sum(target[3:] ** 2)
    assert np.all(err_w >= err_c)
    eq3 = theory.wide_flow_spectrum(sig, [0.0], depth=3, eps=0.1, dim=6, init="eq3")
    assert np.allclose(eq3, 0.1**1.5, rtol=ulps(4))


def test_bad_times_are_rejected():
    for bad in ([1.0, 0.5], [-1.0], [np.nan]):
        with pytest.raises(ValueError, match="times must be"):
            theory.flow_spectrum([1.0], bad, depth=3, eps=0.1)

"""theorem2-flow: along gradient flow, the wide DLN's error is never below the compressed DLN's."""

import numpy as np
import pytest
from hypothesis import example, given, target
from hypothesis import strategies as st

import theory
from sim.instances import flow_sq_errors, lists, setup, weights_lists
from verify.measures import flow_tie_band
from verify.strategies import seeds, spectra

CLAIM = "theorem2-flow"


def run(sig, *, d, rank_hat, depth, eps, seed, wide_init="orthogonal", alpha=1.0, n=60):
    t_end = 3.0 * theory.fit_time(float(sig.min()), depth=depth, eps=eps) + 1.0
    times = np.concatenate([[0.0], np.geomspace(1e-3 * t_end, t_end, n - 1)])
    _, p, Wc, sc = setup("compressed", sig, d=d, rank_hat=rank_hat, depth=depth, eps=eps, seed=seed, alpha=alpha)
    Wc0 = weights_lists(Wc)
    ec = flow_sq_errors(p, Wc, sc, times)
    _, p, Ww, sw = setup("wide", sig, d=d, rank_hat=rank_hat, depth=depth, eps=eps, seed=seed, init=wide_init)
    Ww0 = weights_lists(Ww)
    ew = flow_sq_errors(p, Ww, sw, times)
    return times, ew, ec, p, Ww0, Wc0


def _counterexample(statement, sig, times, ew, ec, p, Ww0, Wc0, **hyper):
    k = int(np.argmin(ew - ec))
    return {"statement": statement, "M_star": lists(p.target[0]), "wide_layers_W1_to_WL": Ww0,
            "compressed_layers_W1_to_WL": Wc0, **hyper, "loss": "0.5*||W_L...W_1 - M||_F^2, gradient flow",
            "first_violating_time": float(times[np.argmax(ew - ec < 0)]), "worst_time": float(times[k]),
            "wide_error": float(ew[k]), "compressed_error": float(ec[k]), "margin": float(ew[k] - ec[k])}


@pytest.mark.claim(CLAIM)
@given(spectra(max_rank=3, min_gap=0.2, min_value=0.5, max_value=4.0), st.integers(0, 2),
       st.sampled_from([2, 3]), st.floats(0.05, 0.3), seeds)
@example(np.array([3.0, 1.0]), 1, 3, 0.05, 0)
def test_holds_when_rank_hat_equals_rank(record, sig, dpad, depth, eps, seed):
    r = sig.size
    d = max(r + dpad, 2)
    times, ew, ec, *_ = run(sig, d=d, rank_hat=r, depth=depth, eps=eps, seed=seed % 1000)
    scale = float(np.sum(sig**2))
    margin = float(np.min(ew - ec)) / scale
    target(-margin, label="relative violation")
    t = record.tally()
    record.evidence(CLAIM, "r̂ = r: instances searched, all holding", t.count("n"))
    record.evidence(CLAIM, "r̂ = r: smallest (wide − compressed)/‖M*‖² over all times", float(f"{t.min('worst', margin):.3g}"))
    record.evidence(CLAIM, "r̂ = r: sizes (d, r, r̂, L)", t.union("sizes", [(d, r, r, depth)]))
    # both nets integrated by solve_ivp at sim.run_flow's rtol/atol: a tie is within the solver's error
    # on the two squared errors (relative to ‖M*‖², hence scale 1)
    assert margin >= -flow_tie_band(1.0, depth=depth, weight_scale=eps)


@pytest.mark.claim(CLAIM)
@given(spectra(max_rank=2, min_gap=0.2, min_value=0.5, max_value=4.0), st.integers(1, 2), st.integers(0, 2),
       st.sampled_from([2, 3]), st.floats(0.05, 0.3), seeds)
# Smallest counterexample found (hypothesis, then re-checked): d = r̂ = 2, r = 1, σ* = 1, L = 2, ε = 0.25.
@example(np.array([1.0]), 1, 0, 2, 0.25, 0)
def test_with_beta_modes_violations_are_bounded_by_the_beta_error(record, sig, extra, dpad, depth, eps, seed):
    """r̂ > r: the wide net's spurious modes start misaligned and can end up smaller than the
    compressed net's β modes (which decay only like t^{−L/(2L−2)}), so the inequality can fail —
    but never by more than the β modes' own error (r̂ − r)·β(t)^{2L}."""
    r = sig.size
    rh = r + extra
    d = max(rh + dpad, 2)
    times, ew, ec, p, Ww0, Wc0 = run(sig, d=d, rank_hat=rh, depth=depth, eps=eps, seed=seed % 1000)
    beta_err = (rh - r) * theory.beta_flow(eps**depth, times, depth=depth) ** 2
    slack = ew - ec + beta_err
    target(-float(np.min((ew - ec) / np.maximum(beta_err, 1e-300))), label="violation / beta error")
    # the solver's error on the two squared errors (sim.run_flow's rtol/atol) is the tie band
    band = flow_tie_band(float(np.sum(sig**2)), depth=depth, weight_scale=eps)
    assert np.all(slack >= -band)
    viol = bool(np.min(ew - ec) < -band)
    t = record.tally()
    record.evidence(CLAIM, "r̂ > r: instances searched / violating (all within the β-mode error)",
                    f"{t.count('n')} / {t.count('viol', viol)}")
    if d == 2 and rh == 2 and depth == 2 and eps == 0.25 and sig.size == 1 and sig[0] == 1.0 and seed == 0:
        assert viol
        record.counterexample(CLAIM, _counterexample("Theorem 2 with r̂ = 2 > r = 1 (d = 2, L = 2)", sig, times, ew,
                                                     ec, p, Ww0, Wc0, d=2, rank_hat=2, depth=2, eps=0.25,
                                                     alpha=1.0, wide_init_seed=0))


@pytest.mark.claim(CLAIM)
def test_fails_when_rank_hat_is_below_rank(record):
    sig = np.array([1.0, 0.5])
    times, ew, ec, p, Ww0, Wc0 = run(sig, d=2, rank_hat=1, depth=2, eps=0.1, seed=0)
    assert np.min(ew - ec) < -0.1  # the compressed net keeps σ_2*² = 0.25 of error forever
    record.counterexample(CLAIM, _counterexample("Theorem 2 with r̂ = 1 < r = 2", sig, times, ew, ec, p, Ww0, Wc0,
                                                 d=2, rank_hat=1, depth=2, eps=0.1, alpha=1.0))


@pytest.mark.claim(CLAIM)
def test_fails_with_the_literal_eq3_init(record):
    sig = np.array([1.0])
    times, ew, ec, p, Ww0, Wc0 = run(sig, d=2, rank_hat=1, depth=2, eps=0.05, seed=0, wide_init="orthogonal-eq3")
    assert np.min(ew - ec) < -1e-3
    record.counterexample(CLAIM, _counterexample("Theorem 2, wide DLN initialised per Eq. (3) literally (sqrt(eps))",
                                                 sig, times, ew, ec, p, Ww0, Wc0, d=2, rank_hat=1, depth=2, eps=0.05,
                                                 alpha=1.0))

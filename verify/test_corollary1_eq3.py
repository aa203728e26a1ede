"""corollary1-eq3: Corollary 1 with Eq. (3) read literally (per-layer singular values √ε)."""

import numpy as np
import pytest
from hypothesis import example, given, target
from hypothesis import strategies as st

from verify.corollary import instance, pin
from verify.strategies import depths, epsilons, spectra
from verify.tolerance import ulps

CLAIM = "corollary1-eq3"


@pytest.mark.claim(CLAIM)
@given(spectra(max_rank=3, max_value=5.0), st.integers(0, 2), depths(2, 4), epsilons(1e-3, 0.5))
# Smallest counterexample: d = 2, σ* = 1, r̂ = r = 1, L = 2, ε = 0.01, best-aligned init:
# wide 0.9802 < compressed 0.9998.
@example(np.array([1.0]), 1, 2, 0.01)
def test_best_aligned_literal_init_beats_the_compressed_net(record, sig, dpad, depth, eps):
    r = sig.size
    d = max(r + dpad, 2)
    inst = instance(sig, d=d, rank_hat=r, depth=depth, eps=eps, scaling="eq3", aligned=True, seed=0)
    assert abs(inst["gap_measured"] - inst["gap_theory"]) <= ulps(256) * inst["scale"]
    # the literal wide init is ε^{-L/2} times larger: worst-case gap ≈ −2ε^{L/2}Σσ + dε^L < 0 when small
    predicted_fail = inst["theory"].worst_case_gap < 0
    assert (inst["gap_theory"] < 0) == predicted_fail
    target(-inst["gap_theory"], label="violation size")
    t = record.tally()
    record.evidence(CLAIM, "best-aligned literal init: instances searched / failing",
                    f"{t.count('n')} / {t.count('viol', bool(predicted_fail))}")
    if d == 2 and depth == 2 and eps == 0.01 and sig.size == 1 and sig[0] == 1.0:
        pin(record, CLAIM, "Corollary 1, Eq. (3) literally (W^T W = eps I)", inst, sig, d=2, rank_hat=1, depth=2,
            eps=0.01, init="W1 = sqrt(eps)*U V^T, W2 = sqrt(eps)*I (orthogonal, Eq. 3)")


@pytest.mark.claim(CLAIM)
def test_haar_random_literal_inits_fail_about_half_the_time(record):
    sig, kw, draws = np.array([3.0, 2.0]), dict(d=8, rank_hat=2, depth=3, eps=1e-2), 300
    gaps = np.array([instance(sig, scaling="eq3", aligned=False, seed=s, **kw)["gap_theory"] for s in range(draws)])
    frac = float(np.mean(gaps < 0))
    record.evidence(CLAIM, f"Haar-random literal inits violating (d = {kw['d']}, r = {sig.size}, L = {kw['depth']}, "
                           f"ε = {kw['eps']:g}, {draws} draws)", f"{frac:.1%}")
    # mean gap (d ε^L − r̂ ε^{2L} + 2ε^L Σσ) is far below the overlap's spread 2ε^{L/2}‖M*‖_F/√d, so the
    # sign is a coin flip: the share of violating draws lies within 3 standard errors of one half
    assert abs(frac - 0.5) < 3 * np.sqrt(0.25 / gaps.size)

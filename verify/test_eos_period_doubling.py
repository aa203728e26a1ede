"""eos-period-doubling: the balanced mode map's cascade (theory) and GD's periods in each window (sim)."""

import os

import numpy as np
import pytest

from sim.eos import classify
from theory import eos
from verify.eos_bounds import EOS_FEIGENBAUM_TOLERANCE, EOS_MAX_PERIOD
from verify.eos_measures import mode_run, scale_for

CLAIM = "eos-period-doubling"
FEIGENBAUM = 4.669201609102990  # Feigenbaum's δ for maps with a quadratic maximum (a constant, not a fit)
DEEP = os.environ.get("HYPOTHESIS_PROFILE") == "deep"
DEPTHS = [2, 3, 4, 5, 6] if DEEP else [2, 3, 4]


@pytest.mark.claim(CLAIM)
@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6])
def test_the_maps_cascade_approaches_feigenbaum(record, depth):
    r = eos.period_doubling_ratios(depth=depth, count=6)
    d = np.diff(r)
    ratios = d[:-1] / d[1:]
    crisis = eos.positive_crisis_ratio(depth=depth)
    record.evidence(CLAIM, f"L = {depth}: period-doubling points η_k/η_c, k = 0…5", [round(float(x), 7) for x in r])
    record.evidence(CLAIM, f"L = {depth}: gap ratios (r_k − r_(k−1))/(r_(k+1) − r_k)", [round(float(x), 4) for x in ratios])
    record.evidence(CLAIM, f"L = {depth}: crisis r_× (f²(c) = 0)", round(crisis, 6))
    assert np.all(d > 0) and r[-1] < crisis  # an increasing cascade, accumulating before the crisis
    err = np.abs(ratios - FEIGENBAUM)
    assert np.all(np.diff(err) < 0)  # each ratio closer to δ than the one before (tolerance-free)
    assert err[-1] < EOS_FEIGENBAUM_TOLERANCE


@pytest.mark.claim(CLAIM)
@pytest.mark.parametrize("depth", DEPTHS)
def test_gd_has_period_two_to_the_k_in_each_window(record, depth):
    """GD on diag(4, 0) from the sequel's init at the midpoint of each window (r_k, r_{k+1}): period 2^k."""
    r = eos.period_doubling_ratios(depth=depth, count=5)
    seen = {}
    for k in range(4):
        mid = 0.5 * (r[k] + r[k + 1])
        tr, _ = mode_run([4.0], depth=depth, ratio=mid, steps=2000)
        seen[f"{mid:.5f} η_c"] = classify(tr, rank=1, max_period=16)
    below, _ = mode_run([4.0], depth=depth, ratio=0.9, steps=2000)
    seen["0.9 η_c"] = classify(below, rank=1, max_period=16)
    record.evidence(CLAIM, f"GD, L = {depth}, σ* = (4, 0): what the top mode does", seen)
    assert list(seen.values()) == ["period-2", "period-4", "period-8", "period-16", "converged"]


@pytest.mark.claim(CLAIM)
@pytest.mark.parametrize("depth", [2, 3])
def test_past_the_accumulation_point_there_is_no_period_and_orbits_separate(record, depth):
    r_inf = eos.period_doubling_ratios(depth=depth, count=6)[-1]
    ratio = r_inf + 0.3 * (eos.positive_crisis_ratio(depth=depth) - r_inf)
    a, _ = mode_run([4.0], depth=depth, ratio=ratio, steps=3000, keep=4 * EOS_MAX_PERIOD)
    # a second run from an init perturbed by 1e-9 relative: chaos separates them to O(1)
    b, _ = mode_run([4.0], depth=depth, ratio=ratio, steps=3000, scale=scale_for(depth, 4.0) * (1 + 1e-9))
    kind = classify(a, rank=1, max_period=EOS_MAX_PERIOD)
    sep = float(np.max(np.abs(a.singular_values[-200:, 0] - b.singular_values[-200:, 0])))
    record.evidence(CLAIM, f"GD, L = {depth}, η = {ratio:.4f} η_c (past r_∞ = {r_inf:.5f}): classified, "
                           "largest separation of two runs 1e-9 apart", [kind, round(sep, 3)])
    assert a.status == "bounded" and kind == "aperiodic"
    assert sep > 1e-2 * 4.0  # the perturbation grew by more than 7 orders of magnitude: sensitive dependence


@pytest.mark.claim(CLAIM)
def test_what_ends_the_route(record):
    """Just past the crisis (r_× + 0.1): L >= 3 collapses the mode to 0, L = 2 stays bounded (its orbit merges with
    its mirror image); further up (2.6 η_c, past L = 2's r_end = 2) every depth diverges."""
    out = {}
    for depth in (2, 3, 4):
        crisis = eos.positive_crisis_ratio(depth=depth)
        for ratio in (crisis + 0.1, 2.6):
            tr, _ = mode_run([4.0], depth=depth, ratio=ratio, steps=2000)
            out[f"L = {depth}, {ratio:.3f} η_c"] = classify(tr, rank=1, max_period=16)
    record.evidence(CLAIM, "past the crisis (GD, σ* = (4, 0), sequel init)", out)
    for depth in (3, 4):
        assert out[f"L = {depth}, {eos.positive_crisis_ratio(depth=depth) + 0.1:.3f} η_c"] == "collapsed"
    assert out[f"L = 2, {eos.positive_crisis_ratio(depth=2) + 0.1:.3f} η_c"] == "aperiodic"  # bounded, merged
    assert all(out[f"L = {depth}, 2.600 η_c"] == "diverged" for depth in (2, 3, 4))

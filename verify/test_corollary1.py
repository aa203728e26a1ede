"""corollary1: the initial-error inequality under the proof's scaling (ε per layer), r̂ < r included."""

import numpy as np
import pytest
from hypothesis import example, given, target
from hypothesis import strategies as st

from verify.corollary import instance, pin
from verify.strategies import depths, epsilons, seeds, spectra
from verify.tolerance import ulps

CLAIM = "corollary1"


def _check_consistent(inst):
    # measured (matrices) vs theory (algebra): differences of O(‖M*‖²) errors round to ~d ulps of the scale
    assert abs(inst["gap_measured"] - inst["gap_theory"]) <= ulps(256) * inst["scale"]


@pytest.mark.claim(CLAIM)
@given(spectra(max_rank=3, max_value=5.0), st.integers(0, 3), st.integers(0, 2), depths(2, 4),
       epsilons(1e-3, 0.9), st.booleans(), seeds)
def test_holds_for_every_orthogonal_init_when_rank_hat_covers_the_rank(record, sig, extra, dpad, depth, eps,
                                                                     aligned, seed):
    r = sig.size
    d = r + extra + dpad
    inst = instance(sig, d=max(d, 2), rank_hat=r + extra if r + extra <= max(d, 2) else r, depth=depth, eps=eps,
                    scaling="proof", aligned=aligned, seed=seed % 1000)
    _check_consistent(inst)
    target(-inst["gap_theory"], label="minus the gap")
    # the gap can be exactly 0 (k = r̂, best-aligned init); the measured overlap ω carries O(d) ulps of
    # Σσ, which the gap multiplies by 2ε^L
    tol = 2 * eps**depth * ulps(64 * d) * sig.sum()
    assert inst["gap_theory"] >= -tol and inst["gap_measured"] >= -ulps(256) * inst["scale"]
    record.evidence(CLAIM, "r̂ >= r: instances (Haar-random or best-aligned init), all holding", record.tally().count("n"))


@pytest.mark.claim(CLAIM)
@given(spectra(min_rank=2, max_rank=3, max_value=5.0), st.integers(0, 2), depths(2, 4), epsilons(1e-3, 0.9))
# Smallest counterexample: d = 2, σ* = (1, 0.5), r̂ = 1, L = 2, ε = 0.1, best-aligned init:
# gap = (2-1)ε⁴ − 2ε²·0.5 = −0.0099.
@example(np.array([1.0, 0.5]), 0, 2, 0.1)
def test_rank_hat_below_rank_fails_exactly_below_the_line(record, sig, dpad, depth, eps):
    """With r̂ = r − 1 and the best-aligned init, the inequality fails iff ε^L < 2Σ_{i>r̂}σ_i/(k − r̂)."""
    r = sig.size
    d, rh = r + dpad, r - 1
    inst = instance(sig, d=d, rank_hat=rh, depth=depth, eps=eps, scaling="proof", aligned=True, seed=0)
    _check_consistent(inst)
    line = 2 * sig[rh:].sum() / (d - rh)
    margin = eps**depth - line
    if abs(margin) > 1e-9 * line:  # away from the line by more than rounding
        assert (inst["gap_theory"] < 0) == (margin < 0)
        assert (inst["gap_measured"] < 0) == (margin < 0) or abs(inst["gap_measured"]) <= ulps(256) * inst["scale"]
    record.evidence(CLAIM, "r̂ < r, best-aligned init: instances where the sign follows ε^L vs 2Σ_{i>r̂}σ_i/(k−r̂)",
                    record.tally().count("n"))
    if d == 2 and depth == 2 and eps == 0.1 and np.allclose(sig, [1.0, 0.5]):
        pin(record, CLAIM, "Corollary 1 with r̂ = 1 < r = 2 (proof's scaling)", inst, sig, d=2, rank_hat=1, depth=2,
            eps=0.1, init="best-aligned orthogonal: W1 = eps*U V^T, W2 = eps*I")


@pytest.mark.claim(CLAIM)
def test_haar_random_inits_with_rank_hat_below_rank(record):
    """Haar-random layers (the sim's init), r̂ < r: the inequality fails exactly when the overlap
    ω = tr(QᵀM*) exceeds Σ_{i<=r̂}σ_i + (k − r̂)ε^L/2 — a tail event of ω, whose spread is ‖M*‖_F/√k."""
    sig = np.array([3.0, 2.0, 1.0])
    d, rh, L, eps = 6, 1, 3, 0.3
    viol, draws = 0, 200
    line = sig[:rh].sum() + (d - rh) * eps**L / 2
    for seed in range(draws):
        inst = instance(sig, d=d, rank_hat=rh, depth=L, eps=eps, scaling="proof", aligned=False, seed=seed)
        om = (inst["wide"] - d * eps ** (2 * L) - float(np.sum(sig**2))) / (-2 * eps**L)  # from the measured error
        if abs(om - line) > 1e-9 * line:
            assert (inst["gap_measured"] < 0) == (om > line)
        viol += inst["gap_measured"] < 0
    record.evidence(CLAIM, f"r̂ = {rh} < r = {sig.size}, d = {d}, L = {L}, ε = {eps}: Haar-random inits violating "
                           f"(of {draws})",
                    int(viol))


@pytest.mark.claim(CLAIM)
def test_law_on_the_region_map(record):
    """The region map (d = 10 … 200, L = 2 … 4, r̂ − r = −4 … 5, ε = 0.01 … 3, the aligned init and 8–64
    Haar-random inits per cell, measured on matrices): on every row outside the rounding band, the measured
    gap's sign is theory's (Eq. (15) at the row's own overlap ω = tr(QᵀM*)); r̂ >= r holds on every row."""
    import theory
    from verify.sweep_tables import gd_band, sweep_table

    t = sweep_table("corollary1-map")
    df = t.frame
    # verify's GD band on the magnitudes the gap is formed from
    band = gd_band(df, df.wide_sq + df.compressed_sq + 2 * df.diff_norm * df.target_norm)
    sig = {int(d): theory.authors_target(int(d), int(t.spec["rank"]), int(t.spec["target_seed"])).sigma
           for d in df.d.unique()}
    law = np.array([theory.initial_errors(sig[int(x.d)], shape=int(x.d), rank_hat=int(x.rank_hat), depth=int(x.depth),
                                          eps=float(x.eps), overlap=float(x.overlap)).gap for x in df.itertuples()])
    clear = np.abs(df.gap) > band
    assert np.all((df.gap[clear] < 0) == (law[clear] < 0)), "a measured gap's sign differs from Eq. (15)'s"
    ge = df.rank_hat >= df["rank"]
    assert np.all(df.gap[ge] >= -band[ge])
    lt_al = (~ge) & (df.init == "aligned")
    eps_star = np.array([(2 * sig[int(x.d)][int(x.rank_hat):].sum() / (int(x.d) - int(x.rank_hat))) ** (1 / int(x.depth))
                         for x in df[lt_al].itertuples()])
    fails = df.gap[lt_al] < -band[lt_al]
    assert np.all(fails.values == (df.eps[lt_al].values < eps_star)), "aligned r̂ < r: fails iff ε < ε*"
    record.evidence(CLAIM, "region map", t.cite)
    record.evidence(CLAIM, "region map: rows whose sign follows Eq. (15) (outside the rounding band)",
                    f"{int(clear.sum())} of {int(clear.sum())} ({int((~clear).sum())} ties within the band)")
    record.evidence(CLAIM, "region map: r̂ >= r rows holding", f"{int(ge.sum())} of {int(ge.sum())}")
    record.evidence(CLAIM, "region map: aligned r̂ < r cells failing (all with ε < ε* = (2Σ_{i>r̂}σ_i/(d − r̂))^{1/L})",
                    f"{int(fails.sum())} of {int(lt_al.sum())}")
    record.evidence(CLAIM, "region map: Haar-random r̂ < r draws failing (tail events of ω)",
                    f"{int((df.gap[(~ge) & (df.init == 'haar')] < 0).sum())} of {int(((~ge) & (df.init == 'haar')).sum())}")

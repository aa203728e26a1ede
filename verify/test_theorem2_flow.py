"""theorem2-flow: along gradient flow, the wide DLN's error is never below the compressed DLN's."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, target
from hypothesis import strategies as st

import theory
from sim.instances import flow_sq_errors, lists, setup, weights_lists
from verify.measures import flow_tie_band
from verify.strategies import seeds, spectra
from verify.sweep_tables import gd_band, sweep_table

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


# ------------------------------------------------------------------ the law r̂ <= d − r, from the region map
FLOW_MAPS = ("theorem2-flow", "theorem2-flow-L3", "theorem2-flow-eps")


@pytest.mark.claim(CLAIM)
def test_law_on_the_region_maps(record):
    """The region map (d up to 200, 20 Haar-random inits per cell): margin = (d − r − r̂ + c)·p(t)², p(t)² one
    β mode's flow error at the worst step, with the wide net's excess 0 <= c < r for every init. So Theorem 2
    holds for every init when r̂ <= d − r and fails for every init at r̂ = d (asserted on every row)."""
    tables = [sweep_table(n) for n in FLOW_MAPS]
    df = pd.concat([t.frame for t in tables], ignore_index=True)
    band = gd_band(df)
    p2 = np.array([float(theory.beta_flow(float(e) ** int(L), np.array([float(s) * float(h)]), depth=int(L))[0]) ** 2
                   for e, L, s, h in zip(df.eps, df.depth, df.worst_step, df.eta)])
    c = (df.min_margin - band) / p2 - (df.d - df["rank"] - df.rank_hat)  # the excess, rounding counted against it
    c_hi = (df.min_margin + band) / p2 - (df.d - df["rank"] - df.rank_hat)
    low = df.rank_hat <= df.d - df["rank"]
    viol = df.min_margin < -band
    assert np.all(c_hi >= 0), "the wide net's excess c fell below 0"
    assert np.all(c < df["rank"]), "the wide net's excess c reached r"
    assert not viol[low].any()
    assert viol[df.rank_hat == df.d].all()
    cite = "; ".join(t.cite for t in tables)
    record.evidence(CLAIM, "region maps", cite)
    record.evidence(CLAIM, "region maps: sizes", f"d = {int(df.d.min())} … {int(df.d.max())}, r ∈ "
                    f"{sorted(int(x) for x in df['rank'].unique())}, L ∈ {sorted(int(x) for x in df.depth.unique())}, "
                    f"ε = {', '.join(f'{x:g}' for x in sorted(df.eps.unique()))}, "
                    f"{int(df.groupby(['d', 'rank', 'rank_hat', 'depth']).size().min())} inits per cell")
    record.evidence(CLAIM, "region maps: inits violating with r̂ <= d − r / with d − r < r̂ < d / at r̂ = d",
                    f"{int(viol[low].sum())} of {int(low.sum())} / "
                    f"{int(viol[~low & (df.rank_hat < df.d)].sum())} of {int((~low & (df.rank_hat < df.d)).sum())} / "
                    f"{int(viol[df.rank_hat == df.d].sum())} of {int((df.rank_hat == df.d).sum())}")
    record.evidence(CLAIM, "region maps: the wide net's excess c / r (min … max over inits, per L)",
                    {f"L = {int(L)}": [float(f"{(c[g.index] / g['rank']).min():.3g}"),
                                       float(f"{(c[g.index] / g['rank']).max():.3g}")] for L, g in df.groupby("depth")})


@pytest.mark.claim(CLAIM)
@given(spectra(max_rank=2, min_gap=0.2, min_value=0.5, max_value=4.0), st.integers(1, 2), st.integers(0, 1),
       st.sampled_from([2, 3]), st.floats(0.05, 0.3), seeds)
@example(np.array([1.0]), 1, 0, 2, 0.25, 0)  # the r̂ > r counterexample's r and ε, with d = r̂ + r: now it holds
def test_holds_with_beta_modes_when_rank_hat_is_at_most_d_minus_r(record, sig, extra, dpad, depth, eps, seed):
    """The map's law on small instances along the integrated flow: r < r̂ <= d − r holds for every init."""
    r = sig.size
    rh = r + extra
    d = rh + r + dpad
    times, ew, ec, *_ = run(sig, d=d, rank_hat=rh, depth=depth, eps=eps, seed=seed % 1000)
    margin = float(np.min(ew - ec))
    target(-margin / float(np.sum(sig**2)), label="relative violation")
    t = record.tally()
    record.evidence(CLAIM, "r < r̂ <= d − r (flow, small instances): searched, all holding", t.count("n"))
    record.evidence(CLAIM, "r < r̂ <= d − r: sizes (d, r, r̂, L)", t.union("sizes", [(d, r, rh, depth)]))
    assert margin >= -flow_tie_band(float(np.sum(sig**2)), depth=depth, weight_scale=eps)

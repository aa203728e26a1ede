"""sweep.maps' Theorem 2 cells: the wide run shared across r̂, and the margins reduced from whole trajectories."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sweep import maps


def running_stats(ew, ec, beta):
    """The reference: running minima along the run, as a joint loop over both nets computes them, stopping
    once every seed has had a non-finite error."""
    T, B = ew.shape
    worst, worst_step, worst_beta = np.full(B, np.inf), np.zeros(B, int), np.zeros(B)
    slack, first_viol, finite = np.full(B, np.inf), np.full(B, -1), np.ones(B, bool)
    for t in range(T):
        finite &= np.isfinite(ew[t]) & np.isfinite(ec[t])
        with np.errstate(invalid="ignore"):
            m = ew[t] - ec[t]
            mb = m + beta[t]
        better = m < worst
        worst = np.where(better, m, worst)
        worst_step = np.where(better, t, worst_step)
        worst_beta = np.where(better, beta[t], worst_beta)
        slack = np.minimum(slack, mb)
        first_viol = np.where((first_viol < 0) & (m < 0), t, first_viol)
        if not finite.any():
            break
    return dict(min_margin=worst, worst_step=worst_step, beta_error_at_worst=worst_beta,
                min_margin_plus_beta=slack, first_violation_step=first_viol, finite=finite,
                final_wide_error=ew[t], final_compressed_error=ec[t])


# values from a small set, so that ties (several steps at the least margin), sign changes and every kind of
# non-finite number occur often; the shapes include one step and one seed
_values = st.sampled_from([0.0, 1.0, -1.0, 2.5, -0.5, 1e-300, np.inf, -np.inf, np.nan])


@given(st.integers(1, 6), st.integers(1, 4), st.data())
def test_margin_stats_equal_the_running_minima(T, B, data):
    ew, ec, beta = (data.draw(arrays(np.float64, (T, B), elements=_values)) for _ in range(3))
    got, want = maps.margin_stats(ew, ec, beta), running_stats(ew, ec, beta)
    assert got.keys() == want.keys()
    for k in want:  # the same numbers bitwise, NaN where the loop has NaN
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


SPEC = dict(map="theorem2", target_seed=0, eps=0.2, seeds=3, step_fraction=0.1, horizon=0.3)


def test_a_cell_shares_its_wide_run_without_changing_a_number():
    """theorem2_task runs the wide net once for all r̂ of a (d, r, L); each row equals pair_margins run alone
    (wide and compressed together) bitwise, every column but the timing."""
    d, r, L = 6, 2, 3
    rank_hats = maps.theorem2_rank_hats(d, r, dict(rank_hat_minus_rank=[0, 1], rank_hat_around_d_minus_r=[0, 2]))
    assert rank_hats == [2, 3, 4, 6]
    shared = maps.theorem2_task(d, r, rank_hats, L, SPEC)
    assert [x["rank_hat"] for x in shared] == [k for k in rank_hats for _ in range(3)]
    eta, steps = shared[0]["eta"], shared[0]["steps"]
    assert steps > 20  # the horizon covers some steps beyond the fixed 20
    alone = [x for k in rank_hats for x in maps.pair_margins(d, r, k, L, eps=0.2, alpha=1.0, eta=eta, steps=steps,
                                                             seeds=[0, 1, 2], target_seed=0)]
    for a, b in zip(shared, alone):
        assert {k: v for k, v in a.items() if k != "time_s"} == \
            {k: v for k, v in b.items() if k not in ("time_s", "alpha", "finite")}
    # r̂ = d: the compressed net is as wide as the wide one; the margin is not identically zero
    assert any(x["min_margin"] != 0.0 for x in shared)


def test_a_wide_run_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match="wide must hold 11 steps of 2 seeds"):
        maps.pair_margins(4, 1, 2, 2, eps=0.2, alpha=1.0, eta=0.01, steps=10, seeds=[0, 1], target_seed=0,
                          wide=np.zeros((10, 2)))

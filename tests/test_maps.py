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


def joint_margins(d, r, rank_hat, L, *, eps, alpha, eta, steps, seeds, target_seed=0):
    """The reference: both nets stepped together, the margins kept as running minima, stopping once every
    seed has had a non-finite error in either net (the map's loop before the wide run was shared)."""
    import warnings

    import torch

    import theory
    from sim.build import make_problem
    from sim.config import RunConfig
    from sim.gd import end_to_end, gd_step
    from sim.instances import CPU
    from sim.models import init_compressed, init_wide

    sig = theory.authors_target(d, r, target_seed).sigma
    kw = dict(problem="factorization", target="spectrum", spectrum=tuple(float(x) for x in sig), d=d, depth=L,
              eps=eps, loss="sum", eta=1.0, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cw = RunConfig(model="wide", rank_hat=rank_hat, init="orthogonal", **kw)
        cc = RunConfig(model="compressed", rank_hat=rank_hat, alpha=alpha, **kw)
    p = make_problem(cw, seeds, CPU)
    Ww, sw = init_wide(cw, seeds, CPU)
    Wc, sc = init_compressed(cc, make_problem(cc, seeds, CPU), CPU, seeds=seeds)
    U, _, Vh = torch.linalg.svd(p.target)
    U, V, M = U[..., :r], Vh[..., :r, :].transpose(-1, -2), p.target
    ews, ecs, betas = [], [], []
    finite = np.ones(len(seeds), bool)
    with torch.no_grad():
        for t in range(steps + 1):
            P, Pc = end_to_end(Ww), end_to_end(Wc)
            ews.append((torch.linalg.matrix_norm(P - M) ** 2).numpy().copy())
            ecs.append((torch.linalg.matrix_norm(Pc - M) ** 2).numpy().copy())
            betas.append((torch.linalg.matrix_norm(Pc) ** 2
                          - torch.linalg.matrix_norm(U.transpose(-1, -2) @ Pc @ V) ** 2).numpy().copy())
            finite &= np.isfinite(ews[-1]) & np.isfinite(ecs[-1])
            if not finite.any():
                break
            if t < steps:
                gd_step(Ww, sw, eta, p)
                gd_step(Wc, sc, eta, p)
    return running_stats(np.array(ews), np.array(ecs), np.array(betas)), len(ews)


@pytest.mark.parametrize("rank_hat,alpha,eta_over_eta_c,steps", [
    (3, 1.0, 0.1, 60),  # the flow's proxy: nothing leaves the floats
    (6, 1.0, 0.1, 60),  # r̂ = d
    (3, 0.5, 2.5, 400),  # past the wide net's η_c: it leaves the floats, the run stops where both have
    (3, 3.0, 2.5, 400),  # α > 1 at the same step: the compressed net too
])
def test_pair_margins_equal_the_joint_loop(rank_hat, alpha, eta_over_eta_c, steps):
    """pair_margins (the wide run made apart, the compressed one stopped once every wide seed is dead, the
    margins reduced by margin_stats) gives the joint loop's numbers bitwise, diverging runs included."""
    import theory

    d, r, L, seeds = 6, 2, 3, [0, 1, 2]
    sig = theory.authors_target(d, r, 0).sigma
    eta = eta_over_eta_c * theory.critical_step_size(float(sig[0]), depth=L)
    got = maps.pair_margins(d, r, rank_hat, L, eps=0.2, alpha=alpha, eta=eta, steps=steps, seeds=seeds,
                            target_seed=0)
    want, measured = joint_margins(d, r, rank_hat, L, eps=0.2, alpha=alpha, eta=eta, steps=steps, seeds=seeds)
    for i, row in enumerate(got):
        for k, v in want.items():
            assert row[k] == v[i].item() or (np.isnan(row[k]) and np.isnan(v[i])), (k, i, row[k], v[i])
    if eta_over_eta_c > 2:  # the diverging cases do diverge, and the run stops early
        assert not any(row["finite"] for row in got) and measured < steps + 1
    else:
        assert all(row["finite"] for row in got) and measured == steps + 1


SPEC = dict(map="theorem2", target_seed=0, eps=0.2, seeds=3, step_fraction=0.1, horizon=0.3)


def test_a_cell_shares_its_wide_run_without_changing_a_number():
    """theorem2_task runs the wide net once for all r̂ of a (d, r, L); each row equals pair_margins run for that
    r̂ alone bitwise (the wide run made again), every column but the timing."""
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

"""sim.eos: GD through the edge of stability — bounded vs diverged, period, subspace, Lanczos sharpness."""

import numpy as np
import pytest
import torch

from sim import eos
from verify.tolerance import ulps

M = np.diag([4.0, 0.0])


def _eta(r, sig=4.0, L=2):
    return r * 2.0 / (L * sig ** (2 - 2 / L))  # r × the balanced threshold (computed here, not from theory)


def test_sharpness_matches_a_dense_hessian_on_a_tiny_instance():
    rng = np.random.default_rng(3)
    Ws = [rng.normal(size=(2, 2)) for _ in range(3)]
    target = rng.normal(size=(2, 2))

    def f(theta):
        A, B, C = theta[:4].reshape(2, 2), theta[4:8].reshape(2, 2), theta[8:].reshape(2, 2)
        R = C @ B @ A - torch.as_tensor(target)
        return 0.5 * torch.sum(R * R)

    H = torch.func.hessian(f)(torch.as_tensor(np.concatenate([W.ravel() for W in Ws]))).numpy()
    dense = np.linalg.eigvalsh(H)[::-1][:2]
    got = eos.sharpness(Ws, target, k=2)
    # ARPACK at tol = 0 converges to machine precision of ‖H‖; 12 parameters: 64·12 ulps of ‖H‖
    assert np.allclose(got, dense, rtol=0, atol=ulps(64 * 12) * np.max(np.abs(dense)))
    # the balanced scalar minimum x = (2, 2) of ½(x_1x_2 − 4)²: σ²Σ1/x_l² = Lσ^{2−2/L} (here 16·(¼ + ¼))
    assert eos.sharpness([np.array([[2.0]]), np.array([[2.0]])], np.array([[4.0]]))[0] == pytest.approx(
        2 * 4.0 ** (2 - 2 / 2), rel=ulps(8))


def test_the_sequels_init_and_a_bounded_oscillation_is_not_a_divergence():
    tr = eos.run_eos(M, depth=2, eta=_eta(1.1), steps=3000, keep=64)
    assert tr.status == "bounded" and tr.diverged_at is None
    assert eos.detect_period(tr.singular_values[:, :1], max_period=16) == 2 == eos.period_of(tr, rank=1, max_period=16)
    assert eos.oscillating_subspace(tr.tail, 2)[0] == 1
    assert eos.classify(tr, rank=1, max_period=16) == "period-2"
    # the loss alternates between ½σ²(μ²−1)² at the two points of the L = 2 two-cycle, computed here from its
    # closed form (ab = 1/κ, a² + b² = 1 + 1/κ, κ = ησ): far above the minimum's 0, yet bounded. The orbit
    # attracts (multiplier 9 − 2(1+κ)² = 0.18), so μ is at a few ulps of rounding, and the loss's relative error
    # is that times d log(loss)/d log μ = 4μ²/|μ² − 1| (≈ 20 here): 16 ulps of μ
    k = _eta(1.1) * 4.0
    u, v = np.sqrt(1 + 3 / k), np.sqrt(1 - 1 / k)
    mus = np.array([(u - v) / 2, (u + v) / 2])
    want = np.sort(0.5 * 16.0 * (mus**2 - 1) ** 2)
    assert np.allclose(np.sort(tr.loss[-2:]), want, rtol=ulps(16) * np.max(4 * mus**2 / np.abs(mus**2 - 1)), atol=0)


def test_divergence_is_classified_not_raised():
    tr = eos.run_eos(M, depth=2, eta=_eta(3.0), steps=500)
    assert tr.status == "diverged" and tr.diverged_at is not None and tr.diverged_at < 500
    assert eos.classify(tr, rank=1) == "diverged"
    with pytest.raises(ValueError, match=r"trace: GD diverged at step \d+ \(eta = "):
        eos.period_of(tr, rank=1)
    with pytest.raises(ValueError, match="diverged"):
        eos.detect_period(np.full((300, 1), np.inf))


def test_below_the_threshold_it_converges_and_the_subspace_is_empty():
    tr = eos.run_eos(M, depth=2, eta=_eta(0.9), steps=3000, keep=8)
    assert eos.detect_period(tr.singular_values[:, :1], max_period=2) == 1
    assert eos.oscillating_subspace(tr.tail, 1) == (0, pytest.approx(np.zeros((2, 0))))


def test_compressed_init_refuses_a_cut_inside_a_repeated_value_and_completes_the_null_space():
    with pytest.raises(ValueError, match="rank_hat"):
        eos.init_layers(np.diag([2.0, 1.0, 1.0]), depth=3, init="compressed", rank_hat=2)
    Ws = eos.init_layers(np.diag([2.0, 0.0, 0.0]), depth=3, init="compressed", rank_hat=2, scale=0.5)
    assert [W.shape for W in Ws] == [(2, 3), (2, 2), (3, 2)]
    assert np.allclose(Ws[-1].T @ Ws[-1], 0.25 * np.eye(2), atol=ulps(16))


@pytest.mark.parametrize("kw,arg", [
    (dict(max_period=40), "values"),
])
def test_a_period_search_on_too_short_a_run_is_refused(kw, arg):
    tr = eos.run_eos(M, depth=2, eta=_eta(1.1), steps=50)
    with pytest.raises(ValueError, match=arg):
        eos.detect_period(tr.singular_values, **kw)


@pytest.mark.parametrize("kw,arg", [
    (dict(eta=-1.0), "eta"), (dict(depth=1), "depth"), (dict(init="zeros"), "init"), (dict(loss="max"), "loss"),
    (dict(gap_rank=0), "gap_rank"),
])
def test_run_eos_bad_input(kw, arg):
    base = dict(depth=2, eta=0.1, steps=5)
    with pytest.raises(ValueError, match=arg):
        eos.run_eos(M, **{**base, **kw})


def test_mean_loss_is_the_sum_loss_at_eta_times_n():
    a = eos.run_eos(M, depth=3, eta=0.01, steps=40, scale=0.3)
    b = eos.run_eos(M, depth=3, eta=0.01 * M.size, steps=40, loss="mean", scale=0.3)
    # the same iterates up to rounding of the scaled step (a few ulps a step, 40 steps)
    assert np.allclose(a.singular_values, b.singular_values, rtol=0, atol=ulps(8 * 40) * 4.0)


def test_gap_rank_logs_the_top_k_block_and_the_whole_tied_space_where_the_cut_is_tied():
    M3 = np.diag([4.0, 1.0, 0.0])
    full = eos.run_eos(M3, depth=2, eta=0.01, steps=2, keep=2)
    top = eos.run_eos(M3, depth=2, eta=0.01, steps=2, keep=2, gap_rank=1)
    # step 0 of the sequel's init: W_2 = 0.01·I, every value tied, so no top direction is defined and the whole
    # gap (√3·1e-4) is logged, never LAPACK's pick of one direction (1e-4); V_kᵀDV_k rounds at a few ulps
    assert top.gap[0, 0] == pytest.approx(full.gap[0, 0], rel=ulps(16))
    # distinct values: exactly the top mode's s_2² − s_1² (diagonal layers, top right singular vector e_1)
    layers = [np.diag([1.0, 0.5, 0.2]), np.diag([2.0, 0.3, 0.1])]
    t = eos.run_eos(M3, depth=2, eta=0.01, steps=1, keep=2, layers=layers, gap_rank=1)
    assert t.gap[0, 0] == pytest.approx(2.0**2 - 1.0**2, rel=ulps(8))


@pytest.mark.parametrize("kw,arg", [
    (dict(target=np.array([1.0, 2.0])), "target"),
    (dict(target=np.diag([np.nan, 1.0])), "target"),
    (dict(layers=[np.eye(2), np.eye(3)]), "layers"),
    (dict(layers=[np.eye(2), np.eye(2), np.eye(2)]), "layers"),
    (dict(gap_rank=3), "gap_rank"),
])
def test_run_eos_refuses_a_bad_target_or_layers_before_any_step(kw, arg):
    args = dict(target=M, depth=2, eta=0.1, steps=5)
    args.update(kw)
    with pytest.raises(ValueError, match=arg):
        eos.run_eos(args.pop("target"), **args)


@pytest.mark.parametrize("call,arg", [
    (lambda: eos.sharpness([np.eye(2), np.eye(3)], np.eye(2)), "weights"),
    (lambda: eos.sharpness([np.eye(2), np.eye(2)], np.eye(3)), "weights"),
    (lambda: eos.detect_period(np.zeros((30, 1)), max_period=4, rtol=-1.0), "rtol"),
    (lambda: eos.oscillating_subspace(np.zeros((2, 2, 2)), 2, rtol=0.0), "rtol"),
])
def test_sharpness_and_the_period_tools_refuse_bad_input(call, arg):
    with pytest.raises(ValueError, match=arg):
        call()

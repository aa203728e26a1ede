"""The GD engine (sim): gradients vs autograd, batching, determinism, divergence, Theorem 1's structure."""

import numpy as np
import pytest
import torch

import sim
import theory
from verify.tolerance import ulps

SMALL = dict(d=12, rank=2, rank_hat=4, eps=0.3, steps=40, log_every=10)


def _autograd_loss(Ws, p):
    W = Ws[0]
    for X in Ws[1:]:
        W = X @ W
    if p.kind == "sensing":
        r = torch.einsum("bmk,bk->bm", p.A, W.reshape(W.shape[0], -1)) - p.y
        loss = 0.5 * (r**2).sum(1)
    else:
        D = W - p.target
        if p.mask is not None:
            D = D * p.mask
        loss = 0.5 * (D**2).sum((1, 2))
    return loss / p.normaliser


@pytest.mark.parametrize("problem", ["factorization", "completion", "sensing"])
@pytest.mark.parametrize("model", ["wide", "compressed"])
@pytest.mark.parametrize("loss", ["sum", "mean"])
def test_explicit_gradients_match_autograd(problem, model, loss):
    cfg = sim.RunConfig(problem=problem, model=model, loss=loss, d=9, d2=7, rank=2, rank_hat=3, depth=4,
                        measurements=80, seeds=2, eps=0.5)
    p = sim.make_problem(cfg, cfg.seed_list, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    widths = sim.widths_of(cfg)
    Ws = [torch.randn((2, widths[l + 1], widths[l]), generator=g, dtype=torch.float64) for l in range(len(widths) - 1)]
    loss_e, grads = sim.gradients(Ws, p)
    leaves = [W.clone().requires_grad_(True) for W in Ws]
    loss_a = _autograd_loss(leaves, p)
    ga = torch.autograd.grad(loss_a.sum(), leaves)
    assert torch.allclose(loss_e, loss_a.detach(), rtol=1e-13, atol=0)
    for a, b in zip(grads, ga):
        # two association orders of the same O(d·L) products: ~1e-15 relative, 1e-12 as issued
        assert torch.linalg.norm(a - b) <= 1e-12 * torch.linalg.norm(b)


@pytest.mark.parametrize("problem,model", [("completion", "wide"), ("factorization", "compressed"),
                                           ("sensing", "compressed")])
def test_batched_equals_sequential_bitwise(problem, model):
    kw = dict(SMALL, d=24, rank_hat=4, measurements=100)
    cfg = sim.RunConfig(problem=problem, model=model, seeds=3, eta=3.0, **kw)
    cpu = torch.device("cpu")
    init = (lambda c, p, s: sim.init_wide(c, s, cpu)) if model == "wide" else (lambda c, p, s: sim.init_compressed(c, p, cpu))
    p = sim.make_problem(cfg, cfg.seed_list, cpu)
    Ws, sc = init(cfg, p, cfg.seed_list)
    if problem == "factorization":
        assert sim.uses_factored_step(Ws, p)
    for _ in range(30):
        sim.gd_step(Ws, sc, cfg.eta, p)
    for k, s in enumerate(cfg.seed_list):
        one = sim.RunConfig(problem=problem, model=model, seed=s, eta=3.0, **kw)
        p1 = sim.make_problem(one, [s], cpu)
        W1, _ = init(one, p1, [s])
        for _ in range(30):
            sim.gd_step(W1, sc, cfg.eta, p1)
        assert all(torch.equal(a[k], b[0]) for a, b in zip(Ws, W1))


def test_same_seed_same_numbers():
    cfg = sim.RunConfig(problem="sensing", model="compressed", measurements=200, eta=1.0, alpha=2.0, **SMALL)
    a, _ = sim.execute(cfg)
    b, _ = sim.execute(cfg)
    for k in a.metrics:
        assert np.array_equal(np.stack(a.metrics[k]), np.stack(b.metrics[k]))
    c, _ = sim.execute(sim.RunConfig(problem="sensing", model="compressed", measurements=200, eta=1.0, alpha=2.0,
                                     seed=1, **SMALL))
    assert not np.array_equal(np.stack(a.metrics["train_loss"]), np.stack(c.metrics["train_loss"]))


def test_divergence_stops_at_once_with_step_loss_and_stable_step():
    cfg = sim.RunConfig(problem="factorization", model="compressed", loss="sum", eta=50.0, d=10, rank=2,
                        rank_hat=2, eps=0.5, steps=10_000, log_every=1000)
    with pytest.raises(sim.DivergenceError) as e:
        sim.execute(cfg)
    err = e.value
    assert err.step < 30 and (not np.isfinite(err.loss) or err.loss > 1e6)
    p = sim.make_problem(cfg, [0], torch.device("cpu"))
    assert err.eta_stable == pytest.approx(theory.critical_step_size(p.sigma_max(), depth=3), rel=1e-12)
    assert f"{err.eta_stable:.6g}" in str(err) and f"step {err.step}" in str(err)


def test_oracle_compressed_net_stays_diagonal_and_follows_theorem1():
    """Algorithm 1 on U*, V* (factorization): U*ᵀ W V* is diagonal at every step and equals the
    recurrence — the sim side of Theorem 1 (verify/ compares them as a claim)."""
    cfg = sim.RunConfig(problem="factorization", model="compressed", init="oracle", loss="sum", d=10, rank=2,
                        rank_hat=4, eps=0.4, alpha=2.0)
    p = sim.make_problem(cfg, [0], torch.device("cpu"))
    eta = 0.4 * theory.critical_step_size(p.sigma_max(), depth=3, alpha=2.0, eps=0.4)
    Ws, sc = sim.init_compressed(cfg, p, torch.device("cpu"))
    (U,), (V,) = p.spectral_factors(4, [0], oracle=True)  # the basis the init used: U*, V*, then a fixed completion
    Vh = V.T
    pred = theory.compressed_spectrum(p.sigma[0].numpy(), depth=3, eps=0.4, eta=eta, steps=80, alpha=2.0, rank_hat=4)
    for t in range(1, 81):
        sim.gd_step(Ws, sc, eta, p)
        D = U[:, :4].T @ sim.end_to_end(Ws)[0].numpy() @ Vh[:4].T
        # rounding only: O(1) ulp per step per entry, contracting at 0.4 η_c (see test_recurrences)
        assert np.max(np.abs(D - np.diag(np.diag(D)))) <= ulps(256) * p.sigma_max()
        assert np.max(np.abs(np.diag(D) - pred[t])) <= ulps(256) * p.sigma_max()


@pytest.mark.parametrize("init,scale", [("orthogonal", 0.2), ("orthogonal-eq3", np.sqrt(0.2))])
def test_wide_orthogonal_inits_have_the_stated_singular_values(init, scale):
    cfg = sim.RunConfig(model="wide", init=init, d=8, d2=5, width=6, rank=2, rank_hat=2, eps=0.2, depth=3)
    Ws, _ = sim.init_wide(cfg, [0], torch.device("cpu"))
    assert [tuple(W.shape[1:]) for W in Ws] == [(6, 5), (6, 6), (8, 6)]
    for W in Ws:
        s = torch.linalg.svdvals(W[0])
        assert torch.allclose(s, torch.full_like(s, scale), rtol=ulps(32), atol=0)


@pytest.mark.parametrize("init", ["gaussian", "uniform"])
def test_random_inits_are_frobenius_matched(init):
    cfg = sim.RunConfig(model="wide", init=init, d=30, rank=2, rank_hat=2, eps=0.1, depth=3, seeds=40)
    Ws, _ = sim.init_wide(cfg, cfg.seed_list, torch.device("cpu"))
    fro2 = torch.linalg.matrix_norm(Ws[1]) ** 2  # 40 draws of ‖W‖²: mean ε²·30, relative sd ~ sqrt(2/900)/sqrt(40)
    assert float(fro2.mean()) == pytest.approx(0.1**2 * 30, rel=0.03)


def test_float32_tracks_float64():
    kw = dict(problem="factorization", model="compressed", eta=10.0, alpha=2.0, **SMALL)
    a, _ = sim.execute(sim.RunConfig(dtype="float64", **kw))
    b, _ = sim.execute(sim.RunConfig(dtype="float32", **kw))
    # 40 steps at float32: ~1e-6 relative drift is expected; 1e-4 would flag a real difference
    assert np.allclose(np.stack(a.metrics["recovery_error"]), np.stack(b.metrics["recovery_error"]), rtol=1e-4)


def test_gradient_flow_mode_matches_theory_flow():
    """Integrating all weights (sim, solve_ivp rtol 1e-10) vs theory's closed-form mode flow."""
    cfg = sim.RunConfig(problem="factorization", model="compressed", init="oracle", loss="sum", mode="flow",
                        d=8, rank=2, rank_hat=3, eps=0.3, eta=0.05, steps=400, log_every=50)
    tr, _ = sim.execute(cfg)
    p = sim.make_problem(cfg, [0], torch.device("cpu"))
    pred = theory.flow_spectrum(p.sigma[0].numpy(), tr.flow_times, depth=3, eps=0.3, rank_hat=3)
    got = np.stack(tr.singular_values)[:, 0, :3]
    # solver tolerance 1e-10 relative, amplified by the sigmoid's sensitivity (≤ ~100 here)
    assert np.allclose(np.sort(got, axis=1), np.sort(pred, axis=1), rtol=1e-7, atol=1e-12)


def test_altmin_recovers_an_easy_completion_problem():
    cfg = sim.RunConfig(problem="completion", model="altmin", d=30, rank=2, rank_hat=2, observed=0.5, steps=30,
                        log_every=10)
    tr, _ = sim.execute(cfg)
    # exact recovery: the LS iterations converge linearly to rounding level (exact minimum-norm least squares)
    assert tr.metrics["recovery_error"][-1][0] < 1e-8 < tr.metrics["recovery_error"][0][0]


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_factored_step_equals_the_residual_step(depth):
    cfg = sim.RunConfig(problem="factorization", model="compressed", loss="mean", d=24, d2=20, rank=2,
                        rank_hat=5, depth=depth, seeds=2, eps=0.4)
    p = sim.make_problem(cfg, cfg.seed_list, torch.device("cpu"))
    Ws, sc = sim.init_compressed(cfg, p, torch.device("cpu"))
    g = torch.Generator().manual_seed(1)
    Ws = [W + 0.3 * torch.randn(W.shape, generator=g, dtype=W.dtype) for W in Ws]
    assert sim.uses_factored_step(Ws, p)
    A = [W.clone() for W in Ws]
    B = [W.clone() for W in Ws]
    la = sim.gd_step(A, sc, 5.0, p, factored=True)
    lb = sim.gd_step(B, sc, 5.0, p, factored=False)
    # same algebra, different association: O(d) ulps relative to the terms (here ~1e-14)
    assert torch.allclose(la, lb, rtol=1e-12, atol=0)
    for a, b, W in zip(A, B, Ws):
        assert torch.linalg.norm(a - b) <= 1e-12 * torch.linalg.norm(W - b)


def test_a_diverging_seed_of_a_batch_gets_its_own_runs_stable_step_size():
    """The hint of a DivergenceError is theory's η_c of the diverging instance's own target (its σ_max), as its
    single run's, not of the batch's largest σ_max: here the instance with the smaller target diverges."""
    from sim.gd import _diverged

    cfg = sim.RunConfig(problem="factorization", model="wide", d=6, rank=2, rank_hat=2, depth=2, eps=0.1, loss="sum",
                        eta=0.1, steps=10)
    sig = {s: float(np.max(theory.authors_target(6, 2, s).sigma)) for s in range(4)}
    big, small = max(sig, key=sig.get), min(sig, key=sig.get)
    cpu = torch.device("cpu")
    p = sim.make_problem(cfg, [big, small], cpu)
    loss, limit = torch.tensor([0.0, float("inf")], dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    err = _diverged(loss, limit, 5, p, [big, small], [0.1, 0.1], 2, [1.0, 1.0], "sum")
    alone = _diverged(loss[1:], limit[1:], 5, sim.make_problem(cfg, [small], cpu), [small], [0.1], 2, [1.0], "sum")
    assert err.seed == small and err.eta_stable == alone.eta_stable
    assert err.eta_stable > float(theory.critical_step_size(sig[big], depth=2))  # not the big target's hint

"""The fast paths equal the eager reference bitwise (CPU, float64): the fused chunks of ``run_gd``
(TorchScript and its Python fallback) against the eager step loop, a batch of configs that differ in η, α, ε
against each config's single run, and the exact first diverging step either way. No timing is asserted."""

from __future__ import annotations

import dataclasses
import re
import warnings

import numpy as np
import pytest
import torch

import sim
from sim import fused as fused_mod
from sim.gd import CHUNK, run_gd
from sim.many import common_config, execute_many, run_many

CASES = {
    "compressed-factored-L3": dict(model="compressed", d=30, rank=3, rank_hat=6, eta=0.5, alpha=3.0, depth=3),
    "compressed-factored-L2": dict(model="compressed", d=30, rank=3, rank_hat=6, eta=0.5, alpha=3.0, depth=2),
    "compressed-factored-L4": dict(model="compressed", d=30, rank=3, rank_hat=6, eta=0.5, alpha=3.0, depth=4),
    # the bench's shapes: MKL's packed kernels (the small ones above also take ATen's naive loop, < 400 MACs)
    "compressed-d100": dict(model="compressed", d=100, rank=5, rank_hat=20, eta=0.5, alpha=2.0, eps=0.1),
    "wide-d40": dict(model="wide", d=40, rank=4, rank_hat=4, eta=0.5, eps=0.3),
    "wide-residual": dict(model="wide", d=12, rank=2, rank_hat=2, eta=1.0, eps=0.1),
    "wide-sum": dict(model="wide", d=12, rank=2, rank_hat=2, eta=0.05, eps=0.1, loss="sum"),
    # Bernoulli masks with the mean loss: N varies per instance (the per-instance 1/N branch)
    "completion-varying-n": dict(problem="completion", model="compressed", d=20, rank=2, rank_hat=4, eta=2.0, eps=0.1),
    "completion-wide": dict(problem="completion", model="wide", d=12, rank=2, rank_hat=2, eta=1.0, eps=0.1,
                            sampling="fixed"),
    "sensing-eager": dict(problem="sensing", model="compressed", d=10, rank=2, rank_hat=3, eta=0.5, measurements=200),
}


# the fused form each case must take (sim.problems.Problem.fused_terms): None = the eager loop on both sides
KIND = {"compressed-factored-L3": "factored", "compressed-factored-L2": "factored", "compressed-factored-L4": "factored",
        "compressed-d100": "factored", "wide-d40": "residual", "wide-residual": "residual", "wide-sum": "residual",
        "completion-varying-n": "residual", "completion-wide": "residual", "sensing-eager": None}


def _cfg(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return sim.RunConfig(**{"steps": 77, "log_every": 25, "seeds": 3, **kw})


def _gd(cfg, fused=True, **kw):
    dev = cfg.resolved_device()
    p = sim.make_problem(cfg, cfg.seed_list, dev)
    Ws, sc = sim.init_wide(cfg, cfg.seed_list, dev) if cfg.model == "wide" else sim.init_compressed(cfg, p, dev)
    kw = {"eta": cfg.eta, "alpha": cfg.alpha, **kw}
    tr = run_gd(p, Ws, sc, steps=cfg.steps, log_every=cfg.log_every, seeds=cfg.seed_list,
                depth=cfg.depth, loss_name=cfg.loss, n_sv=5, fused=fused, **kw)
    return Ws, tr


def _same_trace(a, b) -> bool:
    lists = ("singular_values", "align_u", "align_v", "outer_align")
    return (a.steps == b.steps and a.stopped == b.stopped and a.metrics.keys() == b.metrics.keys()
            and all(np.array_equal(np.stack(a.metrics[k]), np.stack(b.metrics[k])) for k in a.metrics)
            and all(len(getattr(a, n)) == len(getattr(b, n)) and all(np.array_equal(x, y) for x, y in
                                                                   zip(getattr(a, n), getattr(b, n))) for n in lists))


def _spy(monkeypatch):
    """Records what every fused_chunk call of run_gd returned (True: the fused path ran)."""
    calls = []

    def spy(*a, **kw):
        calls.append(fused_mod.fused_chunk(*a, **kw))
        return calls[-1]

    monkeypatch.setattr(sim.gd, "fused_chunk", spy)
    return calls


def _capture_weights(monkeypatch, module) -> list:
    """Every run_gd called through ``module`` appends its final weights (run_gd works in place)."""
    seen = []
    real = module.run_gd

    def wrapped(problem, Ws, *a, **kw):
        out = real(problem, Ws, *a, **kw)
        seen.append([W.clone() for W in Ws])
        return out

    monkeypatch.setattr(module, "run_gd", wrapped)
    return seen


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_chunks_equal_the_eager_loop_bitwise(name, monkeypatch):
    cfg = _cfg(**CASES[name])
    calls = _spy(monkeypatch)
    Wf, tf = _gd(cfg, fused=True)
    # the fused path really ran (or, for a kind without one, really did not): else this compares eager with eager
    assert calls and set(calls) == {KIND[name] is not None}
    p = sim.make_problem(cfg, cfg.seed_list, torch.device("cpu"))
    assert (p.fused_terms(Wf) or (None,))[0] == KIND[name]
    We, te = _gd(cfg, fused=False)
    assert all(torch.equal(a, b) for a, b in zip(Wf, We)) and _same_trace(tf, te)


@pytest.mark.parametrize("name", ["compressed-factored-L3", "wide-residual", "sensing-eager"])
def test_gd_steps_equals_that_many_gd_step_calls(name):
    cfg = _cfg(**CASES[name])
    dev = torch.device("cpu")
    p = sim.make_problem(cfg, cfg.seed_list, dev)
    Ws, sc = sim.init_wide(cfg, cfg.seed_list, dev) if cfg.model == "wide" else sim.init_compressed(cfg, p, dev)
    W2 = [W.clone() for W in Ws]
    with torch.no_grad():
        ref = torch.stack([sim.gd_step(Ws, sc, cfg.eta, p) for _ in range(40)])
    got = sim.gd_steps(W2, sc, cfg.eta, p, 40)
    assert torch.equal(ref, got) and all(torch.equal(a, b) for a, b in zip(Ws, W2))
    with pytest.raises(ValueError, match="n must be an integer >= 0, got -1"):
        sim.gd_steps(W2, sc, cfg.eta, p, -1)


@pytest.mark.parametrize("name", ["compressed-factored-L3", "wide-residual", "completion-varying-n"])
def test_a_batch_run_tile_by_tile_is_the_same_computation(name, monkeypatch):
    """Tiles of one instance (and of two, across a mixed-η batch): every instance's arithmetic is its own."""
    cfg = _cfg(**CASES[name])
    We, te = _gd(cfg, fused=False)
    monkeypatch.setattr(fused_mod, "TILE_BYTES", 1)  # one instance per tile
    Wf, tf = _gd(cfg)
    assert all(torch.equal(a, b) for a, b in zip(Wf, We)) and _same_trace(tf, te)
    cfgs = _mixed(CASES[name])
    monkeypatch.setattr(fused_mod, "_tile", lambda Ws, M: 2)
    batch_W = _capture_weights(monkeypatch, sim.many)
    single_W = _capture_weights(monkeypatch, sim.results)
    for k, (c, (tr, _)) in enumerate(zip(cfgs, execute_many(cfgs))):
        assert _same_trace(tr, sim.execute(c)[0])
        assert all(torch.equal(Wb[k:k + 1], Ws) for Wb, Ws in zip(batch_W[0], single_W[k]))


@pytest.mark.parametrize("kw,needle", [({"eta": [0.5, 0.5]}, r"eta must give one value per instance of the batch \(3\), got 2"),
                                       ({"alpha": [1.0]}, r"alpha must give one value per instance of the batch \(3\), got 1")])
def test_run_gd_refuses_per_instance_lists_of_the_wrong_length(kw, needle):
    cfg = _cfg(**CASES["compressed-factored-L3"])
    with pytest.raises(ValueError, match=needle):
        _gd(cfg, **kw)


@pytest.mark.parametrize("name", ["compressed-factored-L3", "wide-residual", "completion-varying-n"])
def test_the_python_fallback_of_a_chunk_is_the_same_computation(name, monkeypatch):
    """Where TorchScript is unavailable the Python functions run: the same ops, the same bits (against the
    scripted chunk and the eager loop; the factored step, the residual step and its per-instance 1/N)."""
    cfg = _cfg(**CASES[name])
    if not isinstance(fused_mod._scripted(KIND[name]), torch.jit.ScriptFunction):
        pytest.skip("TorchScript does not compile here: the scripted chunk is the Python one already")
    Ws, tr = _gd(cfg)
    We, te = _gd(cfg, fused=False)
    monkeypatch.setattr(fused_mod, "_SCRIPTED", {"factored": fused_mod._factored, "residual": fused_mod._residual})
    calls = _spy(monkeypatch)
    Wp, tp = _gd(cfg)
    assert calls and all(calls)
    for W in (Ws, We):
        assert all(torch.equal(a, b) for a, b in zip(W, Wp))
    assert _same_trace(tr, tp) and _same_trace(te, tp)


def test_a_divergence_inside_a_chunk_is_reported_at_its_exact_first_step():
    cfg = _cfg(model="compressed", d=20, rank=2, rank_hat=4, eps=0.1, eta=1000.0, steps=200, log_every=100)
    errs = []
    for fused in (True, False):
        with pytest.raises(sim.DivergenceError) as exc:
            _gd(cfg, fused=fused)
        errs.append(exc.value)
    (f, e) = errs
    assert (f.step, f.loss, f.seed, f.eta, f.eta_stable) == (e.step, e.loss, e.seed, e.eta, e.eta_stable)
    assert 0 < f.step < CHUNK  # inside the first chunk, not at a chunk's end


def test_a_divergence_in_a_later_chunk_is_reported_at_its_exact_first_step():
    """Past the first chunk: the step is the first whose loss (the loss *before* it, of the weights after that
    many steps) exceeds the limit, found here by plain gd_step calls; fused and eager loops both report it."""
    kw = {"model": "compressed", "d": 20, "rank": 2, "rank_hat": 4, "eps": 0.1, "steps": 300, "log_every": 300, "seeds": 1}
    cfg = None
    # the first that diverges after the first chunk, off a chunk's boundary; which one does is chaotic (it
    # changes with the BLAS's rounding: 40 on one Intel CPU, 30 on an AMD EPYC), hence several candidates
    for eta in (40.0, 35.0, 45.0, 30.0, 28.0, 25.0, 32.0, 38.0):
        c = _cfg(**kw, eta=eta)
        dev = torch.device("cpu")
        p = sim.make_problem(c, c.seed_list, dev)
        Ws, sc = sim.init_compressed(c, p, dev)
        with torch.no_grad():
            limit = 1e8 * float(p.log_state(Ws, 5)["metrics"]["train_loss"][0])
            first = next((t for t in range(c.steps) if not float(sim.gd_step(Ws, sc, c.eta, p)[0]) <= limit), None)
        if first is not None and first > CHUNK and first % CHUNK:
            cfg, expected = c, first
            break
    assert cfg is not None, "no step size in the list diverges after the first chunk"
    errs = []
    for fused in (True, False):
        with pytest.raises(sim.DivergenceError) as exc:
            _gd(cfg, fused=fused)
        errs.append(exc.value)
    assert errs[0].step == errs[1].step == expected and errs[0].loss == errs[1].loss


def _mixed(base_kw):
    base = _cfg(**{**base_kw, "seeds": 1, "steps": 60, "log_every": 20})
    grid = [(0, 0.5, 1.0, 1e-3), (1, 0.3, 3.0, 0.1), (0, 0.5, 3.0, 0.1), (2, 0.2, 1.0, 1e-2)]
    return [dataclasses.replace(base, seed=s, eta=e, alpha=a, eps=ep) for s, e, a, ep in grid]


@pytest.mark.parametrize("name", ["compressed-factored-L3", "wide-residual", "completion-varying-n", "sensing-eager"])
def test_each_config_of_a_mixed_batch_equals_its_single_run_bitwise(name, monkeypatch):
    """Logged metrics and final weights, instance by instance."""
    cfgs = _mixed(CASES[name])
    batch_W = _capture_weights(monkeypatch, sim.many)
    single_W = _capture_weights(monkeypatch, sim.results)
    out = execute_many(cfgs)
    for k, (c, (tr, summary)) in enumerate(zip(cfgs, out)):
        single, _ = sim.execute(c)
        assert _same_trace(tr, single) and summary["batch_size"] == len(cfgs)
        assert all(torch.equal(Wb[k:k + 1], Ws) for Wb, Ws in zip(batch_W[0], single_W[k]))


def test_a_diverging_config_leaves_the_rest_of_its_batch_as_their_single_runs():
    base = _cfg(model="compressed", d=20, rank=2, rank_hat=4, eps=0.1, seeds=1, steps=60, log_every=20)
    cfgs = [dataclasses.replace(base, seed=s, eta=e) for s, e in [(0, 2.0), (1, 1000.0), (1, 2.0)]]
    out = execute_many(cfgs)
    assert isinstance(out[1], sim.DivergenceError) and out[1].index == 1
    with pytest.raises(sim.DivergenceError) as exc:
        sim.execute(cfgs[1])
    e = exc.value
    assert (out[1].step, out[1].loss, out[1].seed, out[1].eta) == (e.step, e.loss, e.seed, e.eta)
    assert (e.seed, e.eta) == (cfgs[1].seed, cfgs[1].eta)
    assert out[1].eta_stable == e.eta_stable  # theory's hint for this config alone, not the batch's σ_max
    for k in (0, 2):
        assert _same_trace(out[k][0], sim.execute(cfgs[k])[0])


def test_run_many_stores_nothing_of_a_diverged_config(tmp_path):
    base = _cfg(model="compressed", d=20, rank=2, rank_hat=4, eps=0.1, seeds=1, steps=60, log_every=20)
    cfgs = [dataclasses.replace(base, seed=s, eta=e) for s, e in [(0, 2.0), (1, 1000.0)]]
    runs = run_many(cfgs, root=tmp_path)
    assert isinstance(runs[1], sim.DivergenceError) and isinstance(runs[0], sim.Run)
    assert [p.name for p in tmp_path.iterdir()] == [cfgs[0].key()]  # no folder, no temporary left behind


def test_run_many_stores_each_config_under_its_single_key(tmp_path):
    cfgs = _mixed(CASES["compressed-factored-L3"])
    runs = run_many(cfgs, root=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(c.key() for c in cfgs)
    assert all(r.config["key"] == c.key() and not r.cached for r, c in zip(runs, cfgs))
    again = run_many(cfgs, root=tmp_path)
    assert all(r.cached for r in again)
    assert sim.run(cfgs[1], root=tmp_path).cached  # what `cdln run` of that config finds


def test_a_batch_of_configs_must_agree_on_everything_but_seed_eta_alpha_eps():
    a = _cfg(model="compressed", d=20, rank=2, rank_hat=4, seeds=1)
    with pytest.raises(ValueError, match="rank_hat is 4 in one and 5 in another"):
        common_config([a, dataclasses.replace(a, rank_hat=5)])
    with pytest.raises(ValueError, match="tol = 0"):
        common_config([dataclasses.replace(a, tol=1e-3)])
    with pytest.raises(ValueError, match="at least 1 config"):
        common_config([])
    # a field the problem ignores (factorization has no sampling) does not split a batch: the sweep pools by key
    other = dataclasses.replace(a, sampling="fixed", eta=0.5)
    assert other.key() != a.key() and common_config([a, other]) == a


# ------------------------------------------------------------------ the bench's report (no timing asserted)
def _fake_bench(peer: bool) -> dict:
    step = lambda model, d, s: {"model": model, "d": d, "factored": model == "compressed", "flops": 1e6,  # noqa: E731
                                "ours_s": s, "gflops": 1e6 / s / 1e9, "fraction_of_matmul": 1e6 / s / 1e9 / 90.0,
                                "eager_s": 1.5 * s, "numpy_s": 1.1 * s, "autograd_s": 2 * s, "kernels_s": 0.8 * s,
                                "numpy_kernel_s": 0.5 * s,
                                **({"jax_s": 0.9 * s} if peer else {})}
    batch = lambda model, d, B: {"model": model, "d": d, "flops_per_run_step": 1e6,  # noqa: E731
                                 "run_steps_per_s": {1: 1e4, B: 4e4}, "matmul_fraction": {1: 0.1, B: 0.6},
                                 "speedup_vs_sequential": {1: 1.0, B: 4.0},
                                 "kernels": {"B": B, "run_steps_per_s": 5e4, "matmul_fraction": 0.65},
                                 "numpy_kernel": {"run_steps_per_s": {1: 2e4, B: 8e4}, "matmul_fraction": {1: 0.2, B: 0.75},
                                                  "kernels": {"B": B, "run_steps_per_s": 9e4, "matmul_fraction": 0.8}},
                                 **({"jax": {"B": B, "run_steps_per_s": 3e4, "matmul_fraction": 0.4}} if peer else {})}
    return {"device": "cpu", "gpu": None, "dtype": "float64", "threads": 2, "torch": "x", "matmul_gflops": 90.0,
            "matmul_n": 2000, "peer": "jax" if peer else None, "peer_version": "jax 0 (cpu)",
            "peer_skipped": None if peer else "JAX is not installed (no module)",
            "steps": [step("wide", 100, 2e-4), step("compressed", 100, 1e-4), step("wide", 500, 1e-2)],
            "batched": [batch("compressed", 100, 64), batch("wide", 20, 1024)],
            "sensing": [{"model": "wide", "d": 100, "m": 2000, "operator_mb": 160.0, "ours_s": 0.016, "ours_gb_per_s": 10.0,
                         "numpy_kernel_s": 0.008, "numpy_kernel_gb_per_s": 20.0}]}


def test_the_bench_report_prints_the_peer_table_fractions_and_targets():
    from sim.bench import format_bench, targets

    out = format_bench(_fake_bench(peer=True))
    assert "| compressed r̂ = 20, d = 100 | 0.100 ms | 0.050 ms | 0.090 ms | 1.11 | 0.56 |" in out
    assert "B=64: 40,000 (60%)" in out and "jax vmap B=1024: 30,000 (40%)" in out
    assert "kernel numpy: B=1: 20,000 (20%)  B=64: 80,000 (75%);  its matmuls alone, B=64: 90,000 (80%)" in out
    sensing = next(line for line in out.splitlines() if line.strip().startswith("wide") and " 2000 " in line)
    assert sensing.split() == ["wide", "100", "2000", "160", "16.00", "10.0", "8.00", "20.0", "2.00x"]
    names = {n: ok for n, ok, _ in targets(_fake_bench(peer=True))}
    assert names["compressed d=100 step at most 1.2x JAX's (kernel torch)"]
    assert names["compressed d=100 step at most 1.2x JAX's (kernel numpy)"]
    assert not names["B=64 compressed d=100 >= 70% of the matmul rate (kernel torch)"]
    assert names["B=64 compressed d=100 >= 70% of the matmul rate (kernel numpy)"]
    assert names["B=1024 wide d=20 >= 50% of the matmul rate (kernel torch)"]
    assert names["B=1024 wide d=20 faster than JAX's vmap (kernel numpy)"]


def test_the_bench_without_jax_says_so_in_one_line():
    from sim.bench import format_bench

    out = format_bench(_fake_bench(False))
    assert out.count("peer skipped: JAX is not installed") == 1 and "cdln / JAX" not in out


@pytest.mark.parametrize("kw,needle", [({"peer": "torch"}, "peer must be None or 'jax', got 'torch'"),
                                       ({"threads": 0}, "threads must be an integer >= 1, got 0"),
                                       ({"dtype": "float16"}, "dtype must be 'float64' or 'float32', got 'float16'"),
                                       ({"matmul_n": 0}, "matmul_n must be an integer >= 1, got 0"),
                                       ({"device": "tpu"}, "device must be 'cpu' or 'cuda[:i]', got 'tpu'")])
def test_the_bench_refuses_bad_arguments_before_any_work(kw, needle):
    from sim.bench import run_bench

    with pytest.raises(ValueError, match=re.escape(needle)):
        run_bench(**kw)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", ["compressed-factored-L3", "wide-residual", "completion-varying-n"])
def test_cuda_fused_chunks_equal_the_cuda_eager_loop(name):
    cfg = _cfg(**CASES[name], device="cuda")
    Wf, tf = _gd(cfg, fused=True)
    We, te = _gd(cfg, fused=False)
    assert all(torch.equal(a, b) for a, b in zip(Wf, We)) and _same_trace(tf, te)


def test_the_jax_peer_says_in_one_line_why_it_cannot_run(monkeypatch):
    import sys

    from sim.peer_jax import available

    monkeypatch.setitem(sys.modules, "jax", None)  # as if not installed
    msg = available()
    assert msg.startswith("JAX is not installed") and "cdln[peers]" in msg and "\n" not in msg

"""kernel="numpy" (sim.fused_np): the fused chunks on NumPy's BLAS, checked against the torch step with the
rounding bound its module docstring derives, along real GD trajectories, on every fused path, both by
the compiled loop (sim.fused_nb) and by the NumPy calls it falls back to."""

import numpy as np
import pytest
import torch

import sim
from sim import RunConfig, init_compressed, init_wide, make_problem
from sim.fused import Coefficients, fused_chunk
from sim.gd import _eager_step
from sim import fused_nb, fused_np
from sim.fused_np import _openblas, blas_threads, numpy_chunk

CPU = torch.device("cpu")
COMPILED = fused_nb.available(np.float64) and fused_nb.available(np.float32)


@pytest.fixture(params=["compiled", "numpy calls"])
def path(request, monkeypatch):
    """Each test below runs on both of the numpy kernel's paths (sim.fused_np.COMPILED)."""
    if request.param == "compiled" and not COMPILED:
        pytest.skip("NumPy's BLAS is not its bundled OpenBLAS: the compiled loop does not apply")
    monkeypatch.setattr(fused_np, "COMPILED", request.param == "compiled")
    return request.param

CASES = {  # every fused path: factored (L = 2, 3, 4), residual, masked with a per-instance 1/N, float32
    "factored L=3": dict(problem="factorization", model="compressed", d=30, rank=3, rank_hat=6, loss="sum"),
    "factored L=2": dict(problem="factorization", model="compressed", d=24, d2=18, rank=2, rank_hat=4, depth=2,
                         loss="mean"),
    "factored L=4": dict(problem="factorization", model="compressed", d=20, rank=2, rank_hat=4, depth=4, loss="sum"),
    "residual wide": dict(problem="factorization", model="wide", d=16, rank=2, rank_hat=4, loss="sum"),
    "residual masked, per-instance 1/N": dict(problem="completion", model="wide", d=16, rank=2, rank_hat=4, loss="mean",
                                             observed=0.5),
    "masked compressed, fixed mask": dict(problem="completion", model="compressed", d=20, rank=2, rank_hat=4,
                                          loss="mean", observed=0.5, sampling="fixed"),
    "factored float32": dict(problem="factorization", model="compressed", d=30, rank=3, rank_hat=6, loss="sum",
                             dtype="float32"),
    "residual L=2, one η": dict(problem="factorization", model="wide", d=16, rank=2, rank_hat=4, depth=2, loss="sum"),
    "factored L=3, one η": dict(problem="factorization", model="compressed", d=30, rank=3, rank_hat=6, loss="sum"),
    "masked float32": dict(problem="completion", model="wide", d=16, rank=2, rank_hat=4, loss="mean", observed=0.5,
                           dtype="float32"),
    # sensing: its own step (A read once, in blocks of rows: sim.fused_nb.sensing); m = 150 rows of d² = 100
    "sensing compressed": dict(problem="sensing", model="compressed", d=10, rank=2, rank_hat=4, measurements=150,
                               loss="mean"),
    "sensing wide L=2": dict(problem="sensing", model="wide", d=8, rank=1, rank_hat=2, depth=2, measurements=90,
                             loss="sum"),
}
ETAS = {"sum": [0.02, 0.01, 0.015], "mean": [2.0, 1.0, 1.5], "sensing sum": [0.002, 0.001, 0.0015],
        "sensing mean": [0.2, 0.1, 0.15]}  # a different η per instance: per-instance coefficients
ONE_ETA = {"residual L=2, one η", "factored L=3, one η"}  # one η for the batch: the uniform update `W -= c g`


def _setup(kw, seeds=3):
    cfg = RunConfig(seeds=seeds, eps=0.3, **kw)
    p = make_problem(cfg, cfg.seed_list, CPU)
    Ws, sc = init_wide(cfg, cfg.seed_list, CPU) if cfg.model == "wide" else init_compressed(cfg, p, CPU)
    return cfg, p, Ws, sc


def _torch_steps(p, Ws, co, n, buf):
    """n steps of the torch reference: its fused chunk, or the eager step where it has none (sensing)."""
    if not fused_chunk(p, Ws, co, n, buf):
        for i in range(n):
            buf[i] = _eager_step(Ws, co, p)
    return True


def _abs_gradients(Wa, p, kind):
    """g_abs of the bound (sim.fused_np docstring): the step's chain of products on |W_l|, |M*|, every
    difference a sum, in float64 (its own rounding is below the bound's O(ε²) term)."""
    Wa = [np.abs(W.numpy()).astype(np.float64) for W in Wa]
    M = np.abs(p.target.numpy()).astype(np.float64)
    L = len(Wa)
    P = [Wa[0]]
    for l in range(1, L - 1):
        P.append(Wa[l] @ P[-1])
    tr = lambda a: a.transpose(0, 2, 1)  # noqa: E731
    grads = [None] * L
    if kind == "sensing":  # g = Aᵀ(A vec(W_L P) − y) on |A|, |W|, |y|
        A, y = np.abs(p.A.numpy()).astype(np.float64), np.abs(p.y.numpy()).astype(np.float64)
        E = Wa[-1] @ P[-1]
        r = A @ E.reshape(E.shape[0], -1, 1) + y[..., None]
        Bm = (tr(A) @ r).reshape(E.shape)
        top = L - 1
    elif kind == "factored":
        WL, PL = Wa[-1], P[-1]
        grads[-1] = WL @ (PL @ tr(PL)) + tr(PL @ tr(M))
        Bm = (tr(WL) @ WL) @ PL + tr(WL) @ M
        top = L - 2
    else:
        Bm = Wa[-1] @ P[-1] + M
        if p.mask is not None:
            Bm = Bm * p.mask.numpy()
        if p.uniform_scale is None:
            Bm = Bm * p._inv_n.numpy()[:, None, None]
        top = L - 1
    for l in range(top, 0, -1):
        grads[l] = Bm @ tr(P[l - 1])
        Bm = tr(Wa[l]) @ Bm
    grads[0] = Bm
    return grads


def _check_one_step(p, Ws, sc, etas):
    """One step from ``Ws`` by both kernels; |W_numpy − W_torch| within the bound, entry by entry."""
    B = Ws[0].shape[0]
    u = p.uniform_scale if p.uniform_scale is not None else 1.0
    kind = p.numpy_terms(Ws)[0]
    Wt, Wn = [W.clone() for W in Ws], [W.clone() for W in Ws]
    ct, cn = Coefficients(etas, sc, u, B, Ws[0]), Coefficients(etas, sc, u, B, Ws[0])
    lt, ln = (torch.empty((1, B), dtype=Ws[0].dtype) for _ in range(2))
    with torch.no_grad():
        assert _torch_steps(p, Wt, ct, 1, lt) and numpy_chunk(p, Wn, cn, 1, ln)
    eps = torch.finfo(Ws[0].dtype).eps
    K = max(max(W.shape[1:]) for W in Ws)  # the longest sum inside any product of the step
    if kind == "sensing":  # A vec(W) sums n1·n2 terms, Aᵀ r sums m
        K = max(K, *p.A.shape[1:])
    m = 2 * len(Ws) + 2  # operations chained into one gradient: at most L - 2 prefix products, the residual's
    #                      product and sum (or the factored form's 3), the 1/N, and L - 1 backward products
    gamma = K * eps / (1 - K * eps)  # Higham's γ_K: one BLAS's error in a K-term sum, relative to Σ|a||b|
    worst = 0.0
    for l, g_abs in enumerate(_abs_gradients(Ws, p, kind)):
        c = np.abs(ct.neg[l].numpy()).astype(np.float64)  # |c_l| per instance, (B, 1, 1)
        W0 = np.abs(Ws[l].numpy()).astype(np.float64)
        # both kernels' gradient errors (2 m γ_K g_abs), scaled by |c|, plus the update's roundings: torch's
        # fused multiply-add rounds once, NumPy's c·g then W − c·g twice, each at most ε/2·(|W| + |c g|)
        bound = c * 2 * m * gamma * g_abs + 2 * eps * (W0 + c * g_abs)
        diff = np.abs(Wn[l].numpy().astype(np.float64) - Wt[l].numpy().astype(np.float64))
        assert np.all(diff <= bound), (l, float(np.max(diff - bound)))
        worst = max(worst, float(np.max(diff / np.maximum(bound, np.finfo(np.float64).tiny))))
    # the losses (used only to catch a divergence): each term of either form (½‖W_L P − M‖², or the factored
    # ½(‖W_L P‖² − 2⟨W_L P, M⟩ + ‖M‖²)) is at most ½(‖|W_L||P|‖ + ‖M‖)², each from products of K terms and a
    # final sum of n1·n2 (or fewer) terms: 2(mγ_K + γ_{n1 n2}) of that scale, doubled for the two kernels
    Wa = [np.abs(W.numpy()).astype(np.float64) for W in Ws]
    E = Wa[0]
    for W in Wa[1:]:
        E = W @ E
    Mn = np.abs(p.target.numpy()).astype(np.float64)
    n_rm = Mn.shape[1] * Mn.shape[2]
    if kind == "sensing":  # ½‖A vec(E) − y‖²: the same form, with A|E| and |y| for |E| and |M*|, m terms summed
        A = np.abs(p.A.numpy()).astype(np.float64)
        E = (A @ E.reshape(B, -1, 1)).reshape(B, -1, 1)
        Mn = np.abs(p.y.numpy()).astype(np.float64).reshape(B, -1, 1)
        n_rm = Mn.shape[1]
    w = np.full(B, u) if p.uniform_scale is not None else p._inv_n.numpy()
    scale = w * 0.5 * (np.linalg.norm(E, axis=(1, 2)) + np.linalg.norm(Mn, axis=(1, 2))) ** 2
    lbound = 4 * (m * gamma + n_rm * eps / (1 - n_rm * eps)) * scale
    assert np.all(np.abs(ln.numpy()[0].astype(np.float64) - lt.numpy()[0].astype(np.float64)) <= lbound)
    return worst


@pytest.mark.parametrize("name", list(CASES))
def test_numpy_step_within_the_rounding_bound_of_the_torch_step_along_a_trajectory(name, path):
    """From the initialisation, through the escape and near the end (the torch run's own states), one
    NumPy step lands within the stated bound of the torch step, every entry of every layer."""
    kw = CASES[name]
    cfg, p, Ws, sc = _setup(kw)
    etas = ETAS[("sensing " if cfg.problem == "sensing" else "") + cfg.loss]
    etas = etas[0] if name in ONE_ETA else etas
    u = p.uniform_scale if p.uniform_scale is not None else 1.0
    co = Coefficients(etas, sc, u, cfg.seeds, Ws[0])
    worst, first = [], None
    for n in (0, 10, 20, 70, 200):  # states after 0, 10, 30, 100 and 300 torch steps
        if n:
            buf = torch.empty((n, cfg.seeds), dtype=Ws[0].dtype)
            with torch.no_grad():
                _torch_steps(p, Ws, co, n, buf)
            assert bool(torch.isfinite(buf).all())
            first = buf[0] if first is None else first
        worst.append(_check_one_step(p, Ws, sc, etas))
    assert float(buf[-1].max()) < float(first.max())  # it was learning: the states checked are not all alike
    # the kernels did differ (NumPy's BLAS really ran), by at most the bound (docs/simulation.md quotes the
    # observed share of it)
    assert 0 < max(worst) <= 1, worst


def test_the_sensing_step_read_in_many_uneven_blocks_stays_within_the_bound(monkeypatch):
    """The compiled sensing step's block loop over A's rows (sim.fused_nb.SENSING_BLOCK_BYTES): blocks of 7
    rows of 100 (the last one of 3), one step at three states of a trajectory, within the bound."""
    if not COMPILED:
        pytest.skip("NumPy's BLAS is not its bundled OpenBLAS: the compiled loop does not apply")
    monkeypatch.setattr(fused_nb, "SENSING_BLOCK_BYTES", 7 * 100 * 8)
    kw = CASES["sensing compressed"]  # m = 150 = 21·7 + 3
    cfg, p, Ws, sc = _setup(kw)
    etas = ETAS["sensing mean"]
    co = Coefficients(etas, sc, p.uniform_scale, cfg.seeds, Ws[0])
    worst = []
    for n in (0, 30, 100):
        if n:
            with torch.no_grad():
                _torch_steps(p, Ws, co, n, torch.empty((n, cfg.seeds), dtype=Ws[0].dtype))
        worst.append(_check_one_step(p, Ws, sc, etas))
    assert 0 < max(worst) <= 1, worst


def test_a_batch_equals_its_single_runs_bitwise_whatever_the_tiles_and_threads(path):
    """Each instance is its own product in every tiling: a batch of 3 mixed-η instances, one tile or three
    tiles over two threads, equals each instance run alone."""
    kw = CASES["factored L=3"]
    cfg, p, Ws, sc = _setup(kw)
    etas = ETAS["sum"]
    outs = []
    for tile, threads in ((None, 1), (1, 2)):
        W = [x.clone() for x in Ws]
        buf = torch.empty((20, 3), dtype=torch.float64)
        with torch.no_grad():
            assert numpy_chunk(p, W, Coefficients(etas, sc, 1.0, 3, W[0]), 20, buf, tile=tile, threads=threads)
        outs.append((W, buf))
    (Wa, la), (Wb, lb) = outs
    assert all(torch.equal(a, b) for a, b in zip(Wa, Wb)) and torch.equal(la, lb)
    for k, s in enumerate(cfg.seed_list):
        one = RunConfig(seeds=1, seed=s, eps=0.3, **kw)
        p1 = make_problem(one, [s], CPU)
        W1, sc1 = init_compressed(one, p1, CPU)
        buf = torch.empty((20, 1), dtype=torch.float64)
        with torch.no_grad():
            numpy_chunk(p1, W1, Coefficients([etas[k]], sc1, 1.0, 1, W1[0]), 20, buf)
        assert all(torch.equal(a[0], b[k]) for a, b in zip(W1, outs[0][0])) and torch.equal(buf[:, 0], outs[0][1][:, k])


def test_a_numpy_kernel_run_is_its_own_identity_and_agrees_with_the_torch_run():
    base = dict(problem="factorization", model="compressed", d=30, rank=3, rank_hat=6, eps=0.3, eta=0.02, loss="sum",
                steps=300, log_every=100)
    ref, fast = RunConfig(**base), RunConfig(**base, kernel="numpy")
    assert "kernel" not in ref.identity() and RunConfig(**base, kernel="torch").key() == ref.key()
    assert fast.identity()["kernel"] == "numpy" and fast.key() != ref.key()
    a, b = sim.execute(ref)[0], sim.execute(fast)[0]
    assert a.steps == b.steps
    ea, eb = (np.asarray(t.metrics["recovery_error"]) for t in (a, b))
    # per step the kernels differ by ~2mγ_K ≈ 1e-13 relative; 300 steps of a GD that contracts towards the
    # target add these up at most linearly (3e-11); 1e-9 leaves a factor 30 for the growth of a
    # perturbation during the escape from the small initialisation
    assert np.allclose(ea, eb, rtol=1e-9, atol=0), float(np.max(np.abs(ea - eb) / ea))


def test_the_numpy_kernel_leaves_numpys_blas_threads_as_it_found_them(path):
    fns = _openblas()
    if fns is None:
        pytest.skip("NumPy's BLAS is not its bundled OpenBLAS: its threads are never touched")
    before = int(fns[1]())
    cfg, p, Ws, sc = _setup(CASES["factored L=3"])
    for tile, threads in ((1, 2), (None, 2), (None, 1)):  # tiles on a pool (OpenBLAS held at 1), one tile, one thread
        with torch.no_grad():
            numpy_chunk(p, Ws, Coefficients(ETAS["sum"], sc, 1.0, 3, Ws[0]), 2,
                        torch.empty((2, 3), dtype=torch.float64), tile=tile, threads=threads)
        assert int(fns[1]()) == before
    with blas_threads(before + 1):
        assert int(fns[1]()) == before + 1
    assert int(fns[1]()) == before


def test_bad_kernel_arguments_are_refused_before_any_work():
    with pytest.raises(ValueError, match="kernel"):
        RunConfig(kernel="jax")
    with pytest.raises(ValueError, match="kernel 'numpy' runs on the CPU only"):
        RunConfig(kernel="numpy", device="auto")
    cfg, p, Ws, sc = _setup(CASES["factored L=3"])
    buf = torch.empty((1, 3), dtype=torch.float64)
    co = Coefficients(ETAS["sum"], sc, 1.0, 3, Ws[0])
    for kw, msg in ((dict(tile=0), "tile must be"), (dict(threads=0), "threads must be"),
                    (dict(threads=True), "threads must be")):
        with pytest.raises(ValueError, match=msg):
            numpy_chunk(p, Ws, co, 1, buf, **kw)
    with pytest.raises(ValueError, match="kernel must be one of torch, numpy"):
        sim.run_gd(p, Ws, sc, eta=0.01, steps=1, log_every=1, seeds=cfg.seed_list, depth=3, alpha=1.0,
                   loss_name="sum", n_sv=1, kernel="jax")


def test_problems_without_a_fused_step_run_torchs_eager_step_whatever_the_kernel():
    """Sparse storage has no fused form: kernel numpy changes nothing (and so is not part of its identity)."""
    base = dict(problem="completion", storage="sparse", model="compressed", d=12, rank=1, rank_hat=2, observed=0.5,
                eps=0.3, eta=0.01, loss="sum", steps=20, log_every=10)
    assert RunConfig(**base, kernel="numpy").key() == RunConfig(**base).key()
    a, b = sim.execute(RunConfig(**base))[0], sim.execute(RunConfig(**base, kernel="numpy"))[0]
    assert np.array_equal(np.asarray(a.metrics["recovery_error"]), np.asarray(b.metrics["recovery_error"]))


def test_the_compiled_loop_takes_exactly_the_layouts_its_gemm_calls_read_and_is_used_where_it_applies():
    """sim.fused_nb.fits reads the strides themselves: C-contiguous or exactly a transpose's, no empty axis.
    A chunk whose weights it refuses (a strided view) takes the NumPy calls and still moves the weights
    the same way within rounding; with a settable OpenBLAS the compiled loop is what runs by default."""
    a = np.zeros((2, 3, 4))
    assert fused_nb.fits([a, a.transpose(0, 2, 1)])
    assert not fused_nb.fits([a[:, :, ::2]]) and not fused_nb.fits([np.zeros((2, 0, 4))])
    assert not fused_nb.fits([np.zeros((3, 4))]) and not fused_nb.fits([a[:, ::2, :]])
    cfg, p, Ws, sc = _setup(CASES["residual wide"])
    kind, tt = p.fused_terms(Ws)
    view = lambda v: v.numpy() if isinstance(v, torch.Tensor) else v  # noqa: E731
    assert fused_np._compiled(kind, [W.numpy() for W in Ws], {k: view(v) for k, v in tt.items()}) == COMPILED
    big = [torch.zeros((W.shape[0], W.shape[1], 2 * W.shape[2]), dtype=W.dtype) for W in Ws]
    strided = [b[:, :, ::2] for b in big]  # every other column: not a layout a gemm call reads
    for s_, W in zip(strided, Ws):
        s_.copy_(W)
    assert not fused_np._compiled(kind, [W.numpy() for W in strided], {k: view(v) for k, v in tt.items()})
    co = Coefficients(ETAS["sum"], sc, 1.0, 3, Ws[0])
    ref = [W.clone() for W in Ws]
    with torch.no_grad():
        assert numpy_chunk(p, strided, co, 5, torch.empty((5, 3), dtype=torch.float64))
        assert fused_chunk(p, ref, Coefficients(ETAS["sum"], sc, 1.0, 3, Ws[0]), 5, torch.empty((5, 3), dtype=torch.float64))
    # 5 steps, each within ~2mγ_K ≈ 1e-14 relative of the torch step (the bound test above): 1e-12 is room
    # for their sum and its growth over 5 contracting steps
    assert all(float(torch.linalg.norm(a_ - b_)) <= 1e-12 * float(torch.linalg.norm(b_)) for a_, b_ in zip(strided, ref))


def test_a_sensing_run_with_the_numpy_kernel_is_its_own_identity_and_agrees_with_the_torch_run():
    """Sensing now has a numpy-kernel step (its operator read once a step): its own key, the same curve to
    rounding."""
    base = dict(problem="sensing", model="compressed", d=8, rank=1, rank_hat=2, measurements=60, eps=0.3, eta=0.01,
                loss="sum", steps=200, log_every=50)
    ref, fast = RunConfig(**base), RunConfig(**base, kernel="numpy")
    assert fast.identity()["kernel"] == "numpy" and fast.key() != ref.key()
    a, b = sim.execute(ref)[0], sim.execute(fast)[0]
    ea, eb = (np.asarray(t.metrics["recovery_error"]) for t in (a, b))
    assert ea[-1] < ea[0]  # it learned: the curves compared are not flat
    # as for factorization above: ~1e-14 relative a step, summed over 200 contracting steps
    assert np.allclose(ea, eb, rtol=1e-9, atol=0), float(np.max(np.abs(ea - eb) / ea))

"""Sparse completion: observations, the matrix-free kernels, the sparse step against the dense one, metrics
from factors, the ARPACK init, sparse AltMin, ratings files, storage choice and the memory refusal."""

import json
import warnings

import numpy as np
import pytest
import torch

import sim
import theory
from sim import sparse_ops
from sim.build import _mask
from sim.linalg import least_squares_columns
from sim.observations import Observations, sample_entries, seeded_split
from sim.sparse_completion import factor_norm, factored_svd

CPU = torch.device("cpu")
EPS = np.finfo(np.float64).eps


def _obs(n1=30, n2=20, count=200, seed=0):
    lin = sample_entries((n1, n2), count, [seed, 2])
    vals = np.random.default_rng(seed).standard_normal(lin.size)
    return Observations.from_triples(lin // n2, lin % n2, vals, (n1, n2))


# --------------------------------------------------------------------------- observations
@pytest.mark.parametrize("rows,cols,vals,msg", [
    ([0, 1, 0], [1, 2, 1], [1.0, 2.0, 3.0], r"entry \(row 0, column 1\) is given more than once"),
    ([0, 5], [0, 0], [1.0, 2.0], r"row index 5 is out of range \[0, 4\]"),
    ([0, 1], [-1, 0], [1.0, 2.0], r"column index -1 is out of range \[0, 3\]"),
    ([0, 1], [0, 1], [1.0, np.nan], r"value nan at entry 1 \(row 1, column 1\) is not finite"),
    ([], [], [], r"no entries"),
    ([0.5, 1.0], [0, 1], [1.0, 2.0], r"row indices must be integers"),
])
def test_bad_observations_are_refused_with_the_offending_entry(rows, cols, vals, msg):
    with pytest.raises(ValueError, match=msg):
        Observations.from_triples(np.array(rows), np.array(cols, dtype=int), np.array(vals), (5, 4))


def test_observations_keep_both_orders_and_allow_empty_rows_and_columns():
    obs = Observations.from_triples([3, 0, 3, 1], [2, 2, 0, 0], [1.0, 2.0, 3.0, 4.0], (5, 4))
    assert obs.rows.tolist() == [0, 1, 3, 3] and obs.cols.tolist() == [2, 0, 0, 2]  # CSR: row-major order
    assert obs.row_counts().tolist() == [1, 1, 0, 2, 0] and obs.col_counts().tolist() == [2, 0, 2, 0]
    assert obs.rows_t.tolist() == [1, 3, 0, 3] and obs.vals[obs.perm].tolist() == [4.0, 3.0, 2.0, 1.0]


def test_sparse_sampling_draws_the_dense_fixed_masks_entries():
    cfg = sim.RunConfig(problem="completion", d=40, d2=30, rank=3, rank_hat=4, observed=0.25, sampling="fixed")
    dense = _mask(cfg, 7, cfg.shape)
    lin = sample_entries(cfg.shape, round(0.25 * 1200), [7, 2])
    assert np.array_equal(np.flatnonzero(dense.ravel()), lin)


def test_seeded_split_is_a_partition_and_reproducible():
    obs = _obs(count=300)
    tr, te = seeded_split(obs, 0.2, [3, 4])
    tr2, te2 = seeded_split(obs, 0.2, [3, 4])
    assert te.nnz == 60 and tr.nnz == 240 and np.array_equal(te.vals, te2.vals) and np.array_equal(tr.rows, tr2.rows)
    key = lambda o: set(zip(o.rows.tolist(), o.cols.tolist()))  # noqa: E731
    assert key(tr) | key(te) == key(obs) and not key(tr) & key(te)


# --------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("backend", sparse_ops.BACKENDS)
def test_kernels_equal_the_dense_products_within_the_rounding_bound(backend):
    obs, k = _obs(60, 40, 900), 7
    g = torch.Generator().manual_seed(0)
    A = torch.randn(60, k, generator=g, dtype=torch.float64)
    B = torch.randn(40, k, generator=g, dtype=torch.float64)
    M, mask = (torch.as_tensor(x) for x in obs.to_dense())
    R = (A @ B.T - M) * mask
    vals = obs.values(torch.float64, CPU)
    r = sparse_ops.sddmm(obs, A, B, vals, backend=backend)
    # a k-term dot product minus a value: |error| <= γ_{k+1}(|A||B|ᵀ + |M|) (Higham's dot-product bound)
    gam = lambda n: n * EPS / (1 - n * EPS)  # noqa: E731
    bound_r = gam(k + 1) * ((A.abs() @ B.abs().T + M.abs()) * mask)
    assert torch.all((r - R[obs.rows, obs.cols]).abs() <= bound_r[obs.rows, obs.cols])
    n_row, n_col = int(obs.row_counts().max()), int(obs.col_counts().max())
    # R·B sums at most n_row products of a rounded residual: γ_{n_row}|R||B| plus the residual's own error
    Rabs = R.abs() + bound_r
    assert torch.all((sparse_ops.spmm_rows(obs, r, B, backend=backend) - R @ B).abs()
                     <= gam(n_row + 1) * (Rabs @ B.abs()) + bound_r @ B.abs())
    assert torch.all((sparse_ops.spmm_cols(obs, r, A, backend=backend) - R.T @ A).abs()
                     <= gam(n_col + 1) * (Rabs.T @ A.abs()) + bound_r.T @ A.abs())
    r2, G = sparse_ops.residual_and_rows(obs, A, B, vals, 0.5, backend=backend)
    assert torch.allclose(r2, 0.5 * r, rtol=4 * EPS, atol=0) and torch.allclose(G, sparse_ops.spmm_rows(obs, r2, B),
                                                                                   rtol=0, atol=1e-12)


def test_numba_kernels_do_not_depend_on_the_thread_count():
    import numba

    obs = _obs(300, 200, 20000)
    A, B = torch.randn(300, 9, dtype=torch.float64), torch.randn(200, 9, dtype=torch.float64)
    vals = obs.values(torch.float64, CPU)
    outs = []
    for n in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(n)
        r, G = sparse_ops.residual_and_rows(obs, A, B, vals)
        outs.append((r, G, sparse_ops.spmm_cols(obs, r, A)))
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert all(torch.equal(a, b) for a, b in zip(*outs))  # one thread per output element, in index order


def test_metrics_from_factors_equal_the_dense_ones():
    rng = np.random.default_rng(2)
    F, G = rng.standard_normal((50, 6)), rng.standard_normal((40, 6))
    W = F @ G.T
    # QR-based norm: backward stable, so within a few eps of the norm itself
    assert abs(factor_norm(F, G) - np.linalg.norm(W)) <= 64 * EPS * np.linalg.norm(W)
    U, S, V = factored_svd(F, G)
    assert np.allclose(S, np.linalg.svd(W, compute_uv=False)[:6], rtol=0, atol=64 * EPS * S[0])
    assert np.allclose((U * S) @ V.T, W, rtol=0, atol=64 * EPS * S[0])


# --------------------------------------------------------------------------- sparse runs against dense runs
BASE = dict(problem="completion", d=200, d2=160, rank=4, rank_hat=8, eps=0.1, eta=2.0, sampling="fixed", observed=0.3,
            loss="mean", alpha=2.0, target="authors")


def _pair(**kw):
    cfg = {**BASE, **kw}
    return sim.RunConfig(storage="dense", **cfg), sim.RunConfig(storage="sparse", **cfg)


@pytest.mark.parametrize("model", ["compressed", "wide"])
def test_the_sparse_step_equals_the_dense_step_to_rounding(model):
    kw = dict(model=model) if model == "compressed" else dict(model="wide", d=30, d2=25, rank=3, rank_hat=5)
    cd, cs = _pair(**kw)
    pd, ps = sim.make_problem(cd, [0], CPU), sim.make_problem(cs, [0], CPU)
    Ws, sc = (sim.init_compressed(cd, pd, CPU) if model == "compressed" else sim.init_wide(cd, [0], CPU))
    Wd, Wsp = [W.clone() for W in Ws], [W.clone() for W in Ws]
    for _ in range(5):
        ld = sim.gd_step(Wd, sc, 2.0, pd)
        ls = sim.gd_step(Wsp, sc, 2.0, ps)
        # reordered sums of ~|Ω_i| + k terms a step: a few hundred eps of each layer's scale
        assert torch.allclose(ls, ld, rtol=256 * EPS, atol=0)
        for a, b in zip(Wd, Wsp):
            assert torch.allclose(a, b, rtol=0, atol=256 * EPS * float(a.abs().max()))


@pytest.mark.parametrize("model", ["compressed", "altmin"])
def test_sparse_and_dense_runs_agree(model):
    steps = 30 if model == "compressed" else 4
    cd, cs = _pair(model=model, steps=steps, log_every=steps // 2 if model == "compressed" else 1)
    td, _ = sim.execute(cd)
    ts, _ = sim.execute(cs)
    assert list(td.metrics) == list(ts.metrics)
    # compressed: reordered sums only (<= 1e3 eps a step); AltMin also starts from ARPACK's U_0, which
    # differs from the dense SVD's by its residual (checked <= 1e-8 relative; seen ~1e-15), times the
    # least-squares conditioning over the iterations: 1e-8 relative
    rtol = 1e3 * EPS * steps if model == "compressed" else 1e-8
    for k in td.metrics:
        assert np.allclose(np.stack(ts.metrics[k]), np.stack(td.metrics[k]), rtol=rtol, atol=0), k
    assert np.allclose(np.stack(ts.singular_values), np.stack(td.singular_values), rtol=0,
                       atol=rtol * float(np.max(td.singular_values)))


def test_sparse_altmin_half_step_equals_the_dense_one():
    cd, cs = _pair(model="altmin")
    pd, ps = sim.make_problem(cd, [0], CPU), sim.make_problem(cs, [0], CPU)
    U = torch.as_tensor(np.linalg.qr(np.random.default_rng(1).standard_normal((200, 8)))[0])[None]
    mask, MM = pd.altmin_data()
    Vd = least_squares_columns(U, mask, MM)
    Vs = ps.least_squares(U, "cols")
    # the same k×k systems, Grams summed in another order: conditioning × |Ω_j| eps
    assert torch.allclose(Vs, Vd, rtol=1e-10, atol=1e-12)


def test_a_batch_of_sparse_runs_equals_its_single_runs_bitwise():
    cfg = sim.RunConfig(**{**BASE, "storage": "sparse", "model": "compressed", "steps": 6, "log_every": 3, "seeds": 2})
    tb, _ = sim.execute(cfg)
    for i, s in enumerate(cfg.seed_list):
        t1, _ = sim.execute(sim.RunConfig(**{**cfg.to_dict(), "seed": s, "seeds": 1}))
        for k in tb.metrics:
            assert np.array_equal(np.stack(tb.metrics[k])[:, i], np.stack(t1.metrics[k])[:, 0], equal_nan=True)


def test_rows_and_columns_without_observations():
    """GD leaves a row of W_L with no observation at its initial value exactly (zero gradient); AltMin sets
    it to exactly 0 (minimum norm), never asking a solver."""
    obs = Observations.from_triples([0, 0, 1, 2, 2], [0, 1, 1, 0, 2], [1.0, 2.0, 3.0, 4.0, 5.0], (4, 4))
    p = sim.sparse_completion.SparseCompletion([obs], "sum", dtype=torch.float64, device=CPU)
    Ws = [torch.randn(1, 2, 4, dtype=torch.float64), torch.randn(1, 4, 2, dtype=torch.float64)]
    W0 = Ws[1].clone()
    sim.gd_step(Ws, [1.0, 1.0], 0.1, p)
    assert torch.equal(Ws[1][0, 3], W0[0, 3])  # row 3 has no entry
    V = p.least_squares(torch.randn(1, 4, 2, dtype=torch.float64), "cols")
    assert torch.equal(V[0, 3], torch.zeros(2, dtype=torch.float64))  # column 3 has no entry


def test_sparse_movielens_reproduces_the_dense_curve():
    kw = dict(problem="movielens", model="compressed", rank_hat=5, eps=0.1, eta=1.0, steps=6, log_every=3)
    td, _ = sim.execute(sim.RunConfig(storage="dense", **kw))
    ts, _ = sim.execute(sim.RunConfig(storage="sparse", **kw))
    for k in ("train_loss", "test_error", "test_rmse"):  # the same split, init to ARPACK's accuracy
        assert np.allclose(np.stack(ts.metrics[k]), np.stack(td.metrics[k]), rtol=1e-9, atol=0), k


def test_arpack_init_agrees_with_the_dense_svd():
    cd, cs = _pair(model="compressed")
    pd, ps = sim.make_problem(cd, [0], CPU), sim.make_problem(cs, [0], CPU)
    (Ud,), (Vd,) = pd.spectral_factors(8, [0])
    (Us,), (Vs,) = ps.spectral_factors(8, [0])
    assert ps.spectral_residual <= 1e-8
    # the same singular vectors up to sign (gaps of the surrogate's spectrum are O(1) here)
    assert np.allclose(np.abs(np.sum(Ud * Us, axis=0)), 1.0, rtol=0, atol=1e-10)
    assert np.allclose(np.abs(np.sum(Vd * Vs, axis=0)), 1.0, rtol=0, atol=1e-10)


# --------------------------------------------------------------------------- ratings files, storage, memory
def _write_ratings(tmp_path):
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((60, 3)), rng.standard_normal((45, 3))
    lin = sample_entries((60, 45), 900, [0, 2])
    r, c = lin // 45, lin % 45
    v = np.sum(X[r] * Y[c], axis=1)
    np.savez(tmp_path / "r.npz", row=r, col=c, value=v)
    with open(tmp_path / "r.csv", "w") as fh:
        fh.write("user,item,rating\n")
        for a, b, x in zip(r, c, v):
            fh.write(f"{a + 1},{b + 101},{float(x)!r}\n")  # 1-based ids with an offset: re-indexed
    return r, c, v


def test_ratings_files_load_reindex_and_run(tmp_path, capsys):
    r, c, v = _write_ratings(tmp_path)
    a = sim.data.load_ratings_file(tmp_path / "r.npz")
    b = sim.data.load_ratings_file(tmp_path / "r.csv")
    assert a[3] == b[3] == (60, 45) and np.array_equal(a[2], b[2]) and np.array_equal(a[0], b[0])
    cfg = sim.RunConfig(problem="ratings", ratings_file=str(tmp_path / "r.csv"), model="compressed", rank_hat=3,
                        eps=0.3, eta=1.0, loss="mean", alpha=2.0, steps=40, log_every=20)
    assert cfg.shape == (60, 45) and cfg.storage == "dense"
    cs = sim.RunConfig(**{**cfg.to_dict(), "storage": "sparse"})
    assert cs.key() != cfg.key()
    tr, _ = sim.execute(cs)
    err = np.stack(tr.metrics["test_error"])[:, 0]
    assert err[-1] < err[0]  # the held-out entries are learned
    from cdln.cli import main

    assert main(["run", "--quiet", "--problem", "ratings", "--ratings-file", str(tmp_path / "r.npz"), "--storage",
                 "sparse", "--rank-hat", "3", "--steps", "2", "--out", str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o" / "config.json").read_text())["identity"]["ratings_file"].startswith("sha256:")
    np.savez(tmp_path / "dup.npz", row=np.array([0, 0]), col=np.array([1, 1]), value=np.array([1.0, 2.0]))
    with pytest.raises(SystemExit) as exc:
        main(["run", "--quiet", "--problem", "ratings", "--ratings-file", str(tmp_path / "dup.npz"), "--storage",
              "sparse", "--rank-hat", "1", "--out", str(tmp_path / "o2")])
    assert exc.value.code == 2 and "more than once" in capsys.readouterr().err


def test_storage_auto_and_the_memory_refusal(capsys):
    big = sim.RunConfig(problem="completion", model="compressed", d=100_000, rank=10, observed=0.001)
    assert (big.storage, big.target) == ("sparse", "authors-asymptotic")  # dense: 8 arrays of 10^10 values
    assert sim.RunConfig(problem="completion").storage == "dense"
    with pytest.raises(ValueError, match=r"storage 'sparse' applies to problems completion, movielens, ratings"):
        sim.RunConfig(problem="factorization", storage="sparse")
    with pytest.raises(MemoryError, match=r"this run needs [0-9.]+ GiB \(.*wide DLN layers [0-9.]+ GiB\).*--model compressed"):
        sim.make_problem(sim.RunConfig(problem="completion", model="wide", d=100_000, rank=10, observed=0.001),
                         [0], CPU)
    from cdln.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["run", "--quiet", "--problem", "completion", "--model", "wide", "--d", "100000", "--observed", "0.001"])
    assert exc.value.code == 2 and "wide DLN layers" in capsys.readouterr().err


def test_authors_spectrum_in_its_large_d_limit():
    """Within 3% of the mean of three draws at d = 300: the top value's Tracy–Widom fluctuation is
    O(d^{-2/3}) ≈ 2%, the bulk's O(d^{-1/2}) smaller still."""
    draws = np.mean([theory.authors_target(300, 10, s).sigma for s in range(3)], axis=0)
    assert np.allclose(theory.authors_spectrum_asymptotic(300, 10), draws, rtol=0.03, atol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = theory.authors_spectrum_asymptotic((200, 300), 5)
    assert np.all(np.diff(s) < 0) and s[0] < np.sqrt(300) + np.sqrt(200)  # below the MP edge


@pytest.mark.parametrize("side", ["rows", "cols"])
def test_altmin_normal_equations_agree_across_backends_and_with_numpy(side):
    obs = _obs(60, 40, 500)
    X = torch.randn(40 if side == "rows" else 60, 5, dtype=torch.float64)
    (Gn, bn), (Gt, bt) = (sparse_ops.normal_equations(obs, X, 3, 30, side=side, backend=b) for b in sparse_ops.BACKENDS)
    M, mask = obs.to_dense()
    if side == "cols":
        M, mask = M.T, mask.T
    Xn = X.numpy()
    for t, i in enumerate(range(3, 30)):
        on = mask[i] != 0  # a row (column) with no entry: G = 0, b = 0 exactly
        G = Xn[on].T @ Xn[on]
        b = Xn[on].T @ M[i, on]
        # sums of at most |Ω_i| products, in another order: γ_n of the sum of magnitudes
        tol = (on.sum() + 1) * EPS * (np.abs(Xn[on]).T @ np.abs(Xn[on]) + 1e-300)
        assert np.all(np.abs(Gn[t].numpy() - G) <= tol) and np.all(np.abs(Gt[t].numpy() - G) <= tol)
        assert np.allclose(bn[t].numpy(), b, rtol=0, atol=(on.sum() + 1) * EPS * (np.abs(Xn[on]).T @ np.abs(M[i, on]) + 1e-300).max())

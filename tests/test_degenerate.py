"""Degenerate inputs (issue 10, item 1): no result may depend on how a LAPACK treats a zero or
singular system, an empty row or a repeated singular value. Each case is either refused with a
ValueError before any work, or computed explicitly; where a LAPACK has freedom (signs, a null-space
basis) the tests hand the code a *different* but equally valid LAPACK answer and check that
nothing changes."""

import numpy as np
import pytest
import torch

import sim
import theory
from sim.altmin import least_squares_columns, spectral_init
from sim.nonlinear.models import Penultimate, orthonormal_completion
from sim.data import _movielens_split
from sim.linalg import orthonormal_columns
from sim.problems import Completion, Factorization
from verify.tolerance import ulps

CPU = torch.device("cpu")


# --------------------------------------------------------------------------- helpers
def _reference_ls(F, mask, M, rtol_k=None):
    """NumPy reference for one instance: per column, explicit handling of each case, then the
    minimum-norm solution by NumPy's pinv (an SVD, a different LAPACK path from the code's)."""
    F, mask, M = (np.asarray(a, dtype=float) for a in (F, mask, M))
    k = F.shape[1]
    out = np.zeros((mask.shape[1], k))
    for j in range(mask.shape[1]):
        rows = np.flatnonzero(mask[:, j])
        if rows.size == 0:
            continue  # no observation: exactly zero
        Fo = F[rows]
        G, b = Fo.T @ Fo, Fo.T @ M[rows, j]
        out[j] = np.linalg.pinv(G, rcond=max(rows.size, k) * np.finfo(float).eps) @ b
    return out


def _ragged_mask(rng, n, m, k):
    """A MovieLens-like 0/1 mask: an empty row and column, columns with 1..k-1 observations, the rest dense."""
    mask = (rng.random((n, m)) < 0.6).astype(float)
    mask[0, :] = 0.0              # a user with no rating
    mask[:, 0] = 0.0              # an item with no rating
    for j, c in zip(range(1, k), range(1, k)):   # items with fewer ratings than r̂
        mask[:, j] = 0.0
        mask[rng.choice(np.arange(1, n), size=c, replace=False), j] = 1.0
    return mask


def _t(a):
    return torch.as_tensor(np.asarray(a, dtype=float))[None]


# --------------------------------------------------------------------------- AltMin least squares
def test_unobserved_rows_and_columns_get_exact_zeros_and_never_reach_the_solver(monkeypatch):
    rng = np.random.default_rng(0)
    n, m, k = 12, 15, 3
    mask = _ragged_mask(rng, n, m, k)
    M = rng.standard_normal((n, k)) @ rng.standard_normal((k, m))
    F = rng.standard_normal((n, k))
    seen = []
    real = torch.linalg.cholesky_ex
    monkeypatch.setattr(torch.linalg, "cholesky_ex", lambda G: (seen.append(G.clone()), real(G))[1])
    x = least_squares_columns(_t(F), _t(mask), _t(M * mask))[0]
    assert torch.all(torch.isfinite(x))
    # exact zeros, not "small": the solver would return whatever its LAPACK makes of a zero matrix
    assert torch.equal(x[0], torch.zeros(k, dtype=x.dtype))
    # the zero Gram of column 0 never reached Cholesky: it was replaced by the identity
    assert torch.equal(seen[0][0, 0], torch.eye(k, dtype=torch.float64))
    # the other side: the user with no rating gets an exactly zero factor row
    y = least_squares_columns(_t(M.T[:, :k]), _t(mask.T), _t((M * mask).T))[0]
    assert torch.equal(y[0], torch.zeros(k, dtype=y.dtype)) and torch.all(torch.isfinite(y))


def test_rank_deficient_columns_are_the_minimum_norm_solution():
    """Columns with 1..r̂-1 observations: rank G_j < r̂. The answer is G_j^+ b_j (NumPy pinv via an SVD
    as the reference), lies in the row space of the observed F rows, and solves the normal equations."""
    rng = np.random.default_rng(1)
    n, m, k = 14, 12, 4
    mask = _ragged_mask(rng, n, m, k)
    M = rng.standard_normal((n, m))
    F = rng.standard_normal((n, k))
    x = least_squares_columns(_t(F), _t(mask), _t(M * mask))[0].numpy()
    ref = _reference_ls(F, mask, M)
    for j in range(m):
        rows = np.flatnonzero(mask[:, j])
        if rows.size == 0:
            assert np.array_equal(x[j], np.zeros(k))
            continue
        Fo = F[rows]
        s = np.linalg.svd(Fo, compute_uv=False)
        cond = s[0] / s[-1] if rows.size >= k else s[0] / s[min(rows.size, k) - 1]
        # two backward-stable routes to the same solution: forward error <= O(k) eps · cond² relative
        # (normal equations square the condition number); 64 covers k = 4 with margin
        tol = ulps(64) * cond**2 * np.linalg.norm(ref[j])
        assert np.linalg.norm(x[j] - ref[j]) <= tol, (j, rows.size)
        if rows.size < k:  # minimum norm: no component in the null space of F_obs
            null = np.linalg.svd(Fo)[2][rows.size:]
            assert np.linalg.norm(null @ x[j]) <= tol


def test_singular_gram_with_many_observations_takes_the_explicit_path(monkeypatch):
    """|Ω_j| >= r̂ but F's observed rows span fewer than r̂ directions (F has two equal columns):
    G_j is exactly singular, so its Cholesky has a zero pivot; the code must detect it and give the
    minimum-norm solution, whatever the LAPACK would have returned for the singular system."""
    rng = np.random.default_rng(2)
    n, m, k = 20, 6, 3
    F = rng.standard_normal((n, k))
    F[:, 2] = F[:, 1]
    mask = np.ones((n, m))
    M = rng.standard_normal((n, m))
    calls = []
    real = torch.linalg.eigh
    monkeypatch.setattr(torch.linalg, "eigh", lambda G: (calls.append(G.shape[0]), real(G))[1])
    x = least_squares_columns(_t(F), _t(mask), _t(M))[0].numpy()
    assert calls == [m]  # every column was sent to the eigen path
    # minimum norm ⇒ equal weights on the two equal columns, to rounding (cond of the rank-2 part)
    s = np.linalg.svd(F, compute_uv=False)
    tol = ulps(64) * (s[0] / s[1]) ** 2 * np.abs(x).max()
    assert np.max(np.abs(x[:, 1] - x[:, 2])) <= tol
    assert np.allclose(x, _reference_ls(F, mask, M), rtol=0, atol=tol)


def test_eigen_path_does_not_depend_on_the_lapacks_null_space_basis(monkeypatch):
    """Hand the code another valid eigh (null eigenvectors rotated, every sign flipped): same answer."""
    rng = np.random.default_rng(3)
    n, m, k = 10, 9, 4
    mask = _ragged_mask(rng, n, m, k)
    F, M = rng.standard_normal((n, k)), rng.standard_normal((n, m))
    x0 = least_squares_columns(_t(F), _t(mask), _t(M * mask))[0]
    real = torch.linalg.eigh

    def other_lapack(G):
        w, Q = real(G)
        Q = -Q.clone()
        for i in range(G.shape[0]):
            z = w[i] <= max(n, k) * torch.finfo(G.dtype).eps * w[i, -1]
            j = int(z.sum())
            if j >= 2:  # a different orthonormal basis of the (numerical) null space
                R = torch.linalg.qr(torch.randn(j, j, generator=torch.Generator().manual_seed(i), dtype=G.dtype))[0]
                Q[i][:, :j] = Q[i][:, :j] @ R
        return w, Q

    monkeypatch.setattr(torch.linalg, "eigh", other_lapack)
    x1 = least_squares_columns(_t(F), _t(mask), _t(M * mask))[0]
    # the dropped eigenvectors are multiplied by exactly 0; the kept part agrees to rounding of
    # Q diag(1/λ) Qᵀ b with cond(kept) <= 1e3 here: 64·eps·cond relative
    s = max(float(torch.linalg.matrix_norm(x0)), 1.0)
    assert torch.allclose(x0, x1, rtol=0, atol=ulps(64) * 1e3 * s)


def test_altmin_with_empty_rows_and_columns_runs_finite_and_batch_equals_single():
    rng = np.random.default_rng(4)
    n, m, r = 16, 18, 2
    masks, targets = [], []
    for _ in range(2):
        masks.append(_ragged_mask(rng, n, m, r + 1))
        targets.append(rng.standard_normal((n, r)) @ rng.standard_normal((r, m)))
    T, Mk = torch.as_tensor(np.stack(targets)), torch.as_tensor(np.stack(masks))
    p = Completion(T, "sum", mask=Mk, surrogate=T * Mk)
    tr = sim.run_altmin(p, rank_hat=r + 1, steps=4, log_every=2, n_sv=3)
    for v in tr.metrics.values():
        assert np.all(np.isfinite(np.stack(v)))
    for b in range(2):
        p1 = Completion(T[b:b + 1], "sum", mask=Mk[b:b + 1], surrogate=(T * Mk)[b:b + 1])
        t1 = sim.run_altmin(p1, rank_hat=r + 1, steps=4, log_every=2, n_sv=3)
        for key in tr.metrics:
            assert all(np.array_equal(a[b], c[0]) for a, c in zip(tr.metrics[key], t1.metrics[key])), key


def test_altmin_batch_of_seeds_equals_its_single_runs_bitwise():
    kw = dict(problem="completion", model="altmin", d=20, rank=2, rank_hat=3, observed=0.4, steps=6, log_every=3)
    tr, _ = sim.execute(sim.RunConfig(seeds=3, **kw))
    for k in range(3):
        t1, _ = sim.execute(sim.RunConfig(seed=k, **kw))
        for key in tr.metrics:
            assert all(np.array_equal(a[k], b[0]) for a, b in zip(tr.metrics[key], t1.metrics[key])), key


def test_altmin_factorization_with_rank_hat_above_the_rank():
    """rank M* = 2 < r̂ = 5: U_0's last columns are a fixed completion (not the LAPACK's null vectors)
    and every U-step meets a rank-2 Gram matrix; the fit is still exact and finite."""
    cfg = sim.RunConfig(problem="factorization", model="altmin", d=12, rank=2, rank_hat=5, steps=3, log_every=1)
    tr, _ = sim.execute(cfg)
    err = np.stack(tr.metrics["recovery_error"])[:, 0]
    # U Vᵀ = M* P_V is exact up to rounding of a few d-term sums: 64 eps relative
    assert np.all(np.isfinite(err)) and np.all(err <= ulps(64) * 12)


def test_spectral_init_ignores_the_lapacks_null_vectors_and_signs(monkeypatch):
    rng = np.random.default_rng(5)
    M = rng.standard_normal((10, 2)) @ rng.standard_normal((2, 8))    # rank 2, r̂ = 4
    U0 = spectral_init(M, M.size, 4)
    assert np.allclose(U0.T @ U0, np.eye(4), rtol=0, atol=ulps(32))  # orthonormal to rounding (d=10 sums)
    real = np.linalg.svd

    def other_lapack(A, full_matrices=True, **kw):
        U, S, Vt = real(A, full_matrices=full_matrices, **kw)
        U, Vt = -U, -Vt                                            # every pair's sign flipped
        U[:, 2:] = U[:, 2:] @ np.linalg.qr(rng.standard_normal((U.shape[1] - 2,) * 2))[0]
        return U, S, Vt

    monkeypatch.setattr(np.linalg, "svd", other_lapack)
    U1 = spectral_init(M, M.size, 4)
    # the signal columns may flip sign (AltMin is sign-equivariant bitwise); the completion is fixed
    assert np.allclose(np.abs(U0[:, :2]), np.abs(U1[:, :2]), rtol=0, atol=ulps(64))
    assert np.allclose(U0[:, 2:], U1[:, 2:], rtol=0, atol=ulps(64))


def test_movielens_items_without_training_ratings_get_zero_factors(monkeypatch):
    R = sim.load_movielens()
    tr, _ = _movielens_split(R, 0)
    empty = np.flatnonzero(tr.sum(0) == 0)
    assert empty.size > 0  # the split leaves some movies unrated: the case that failed under MKL
    rng = np.random.default_rng(0)
    F = np.linalg.qr(rng.standard_normal((R.shape[0], 10)))[0]
    seen = []
    real = torch.linalg.cholesky_ex
    monkeypatch.setattr(torch.linalg, "cholesky_ex", lambda G: (seen.append(G.clone()), real(G))[1])
    V = least_squares_columns(_t(F), _t(tr), _t(R * tr))[0]
    assert torch.all(torch.isfinite(V))
    assert torch.equal(V[empty], torch.zeros((empty.size, 10), dtype=V.dtype))
    # their zero Gram matrices never reached the solver (whose answer for them is vendor-dependent)
    eye = torch.eye(10, dtype=torch.float64)
    assert len(seen) == 1 and all(torch.equal(seen[0][0, j], eye) for j in empty)


# --------------------------------------------------------------------------- problems
def test_zero_target_is_refused():
    Z = torch.zeros(1, 4, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^target of instance 0 is the zero matrix \(0 nonzero entries\)"):
        Factorization(Z, "sum")


def test_empty_or_non_binary_mask_is_refused():
    T = torch.ones(2, 3, 3, dtype=torch.float64)
    mask = torch.ones_like(T)
    mask[1] = 0.0
    with pytest.raises(ValueError, match=r"^mask of instance 1 observes 0 entries; it must observe between 1 and 9$"):
        Completion(T, "mean", mask=mask)
    with pytest.raises(ValueError, match=r"^mask entries must be 0 or 1, got 0\.5$"):
        Completion(T, "mean", mask=0.5 * torch.ones_like(T))
    cfg = sim.RunConfig(problem="completion", d=2, rank=1, rank_hat=1, observed=1e-9)
    with pytest.raises(ValueError, match=r"^observed = 1e-09 drew 0 observed entries of the 2x2 target for seed 0"):
        sim.make_problem(cfg, [0], CPU)


def test_all_observed_completion_has_nan_unobserved_error():
    cfg = sim.RunConfig(problem="completion", d=6, rank=1, rank_hat=2, observed=1.0)
    p = sim.make_problem(cfg, [0], CPU)
    assert bool(torch.all(p.mask == 1))
    e = p.errors(torch.zeros_like(p.target))
    assert torch.isnan(e["unobserved_error"]).all()     # defined as NaN: no unobserved entry
    assert torch.equal(e["recovery_error"], torch.ones(1, dtype=torch.float64))  # ‖0 − M*‖/‖M*‖ = 1 exactly
    # a partially observed instance in the same call keeps its finite value
    mask = p.mask.clone().repeat(2, 1, 1)
    mask[1, 0, 0] = 0.0
    q = Completion(p.target.repeat(2, 1, 1), "sum", mask=mask)
    u = q.errors(torch.zeros_like(q.target))["unobserved_error"]
    assert torch.isnan(u[0]) and u[1] == 1.0


def test_movielens_split_needs_a_test_and_a_training_rating():
    R = np.zeros((3, 3))
    R[0, 0] = 4.0
    R[1, 2] = 2.0
    with pytest.raises(ValueError, match=r"^test_fraction = 0\.2 of 2 ratings gives 0 test ratings"):
        _movielens_split(R, 0)
    tr, te = _movielens_split(R, 0, test_fraction=0.5)
    assert tr.sum() == 1 and te.sum() == 1 and not np.any(tr * te)


# --------------------------------------------------------------------------- QR and orthonormal bases
def test_qr_of_a_rank_deficient_matrix_is_refused():
    A = np.random.default_rng(6).standard_normal((6, 3))
    A[:, 2] = A[:, 0] - A[:, 1]
    with pytest.raises(ValueError, match=r"^A must have full column rank 3 for a unique orthonormal basis"):
        orthonormal_columns(A)
    with pytest.raises(ValueError, match=r"^A must have full column rank 2"):
        orthonormal_columns(np.zeros((4, 2)))


def test_orthonormal_columns_do_not_depend_on_the_householder_sign_convention(monkeypatch):
    A = np.random.default_rng(7).standard_normal((7, 4))
    Q0 = orthonormal_columns(A)
    real = np.linalg.qr
    D = np.array([-1.0, 1.0, -1.0, -1.0])
    monkeypatch.setattr(np.linalg, "qr", lambda X: (lambda Q, R: (Q * D, D[:, None] * R))(*real(X)))
    # another LAPACK's equally valid QR (signs flipped): the same Q, bitwise (sign flips are exact)
    assert np.array_equal(orthonormal_columns(A), Q0)
    R = Q0.T @ A
    assert np.all(np.diag(R) > 0)


def test_sign_fix_keeps_the_haar_draws_bitwise():
    rng1, rng2 = np.random.default_rng(8), np.random.default_rng(8)
    Q, R = np.linalg.qr(rng1.standard_normal((9, 5)))
    assert np.array_equal(sim.build._haar(rng2, 9, 5), Q * np.sign(np.diag(R)))  # former formula


def test_nonlinear_completion_refuses_a_rank_deficient_lead():
    lead = torch.zeros(6, 2, dtype=torch.float64)
    lead[0, 0] = lead[0, 1] = 1.0
    with pytest.raises(ValueError, match=r"^lead and the random completion must have full column rank 4"):
        orthonormal_completion(lead, 6, 4, torch.Generator().manual_seed(0))


def test_cdln_spectral_init_ignores_the_lapacks_null_vectors(monkeypatch):
    """M^corr with a class absent (zero row) and rank 2 < d_y: only the 2 defined directions lead V;
    a LAPACK with another null-space basis, or other signs of the defined ones, gives the same layers."""
    rng = np.random.default_rng(9)
    M = torch.as_tensor(rng.standard_normal((4, 2)) @ rng.standard_normal((2, 12)))
    M[3] = 0.0
    pen0 = Penultimate(12, 12, "cdln", rank_hat=5, eps=0.5, gen=torch.Generator().manual_seed(0))
    pen0.spectral_init(M, gen=torch.Generator().manual_seed(1))
    real = torch.linalg.svd

    def other_lapack(A, full_matrices=True):
        U, S, Vh = real(A, full_matrices=full_matrices)
        Vh = Vh.clone()
        Vh[2:] = torch.as_tensor(np.linalg.qr(rng.standard_normal((Vh.shape[0] - 2,) * 2))[0]) @ Vh[2:]
        Vh[:2] = -Vh[:2]  # the other sign of each defined pair (U's columns flip with them)
        return -U, S, Vh

    monkeypatch.setattr(torch.linalg, "svd", other_lapack)
    pen1 = Penultimate(12, 12, "cdln", rank_hat=5, eps=0.5, gen=torch.Generator().manual_seed(0))
    pen1.spectral_init(M, gen=torch.Generator().manual_seed(1))
    for a, b in zip(pen0.factors, pen1.factors):
        # the same input to the QR: bitwise-equal layers (0 ulps)
        assert torch.equal(a.weight, b.weight)


# --------------------------------------------------------------------------- theory at its boundaries
@pytest.mark.parametrize("kw,msg", [
    (dict(sigma=0.0, p_from=0.1, p_to=0.2), r"^sigma must be finite and in \(0, inf\), got 0\.0$"),
    (dict(sigma=1.0, p_from=0.0, p_to=0.2), r"^p_from must be finite and in \(0, inf\), got 0\.0$"),
    (dict(sigma=1.0, p_from=0.3, p_to=0.2), r"^p_to must be >= p_from, got p_to = 0\.2 < p_from = 0\.3$"),
    (dict(sigma=1.0, p_from=0.1, p_to=1.0), r"^p_to must be < sigma \(the flow reaches sigma only as t -> inf\)"),
    (dict(sigma=1.0, p_from=0.1, p_to=1.0, q_to=0.0), r"^q_to must be in \(0, 1\] with p_to <= sigma, got q_to = 0\.0$"),
])
def test_flow_time_refuses_its_boundaries(kw, msg):
    with pytest.raises(ValueError, match=msg):
        theory.flow_time(depth=3, **kw)


def test_beta_flow_at_zero_is_exactly_zero():
    for L in (2, 3, 5):
        out = theory.beta_flow(np.array([0.0, 0.2]), np.array([[0.0], [1.0]]), depth=L)
        assert np.array_equal(out[:, 0], np.zeros(2)) and np.all(out[:, 1] > 0)
    with pytest.raises(ValueError, match=r"^p0 must be finite and in \[0, inf\), got -0\.1$"):
        theory.beta_flow(-0.1, [1.0], depth=3)


def test_flows_refuse_an_initial_value_that_underflows():
    with pytest.raises(ValueError, match=r"^eps = 1e-200 gives eps\*\*3 = 0 in float64 \(underflow\)"):
        theory.flow_spectrum([1.0], [0.0, 1.0], depth=3, eps=1e-200)
    with pytest.raises(ValueError, match=r"^eps = 1e-200 gives eps\*\*3 = 0 in float64"):
        theory.fit_time(1.0, depth=3, eps=1e-200)
    with pytest.raises(ValueError, match=r"^p0 must be finite and in \(0, inf\), got 0\.0$"):
        theory.aligned_mode_flow([1.0], 0.0, [1.0], depth=3)
    with pytest.raises(ValueError, match=r"^sigma_star must be finite and in \[0, inf\), got -1\.0$"):
        theory.aligned_mode_flow([-1.0], 0.1, [1.0], depth=3)


@pytest.mark.parametrize("call,msg", [
    (lambda: theory.critical_step_size(0.0, depth=3), r"^sigma_max must be finite and in \(0, inf\), got 0\.0$"),
    (lambda: theory.normaliser("completion", 5, n_observed=0), r"^n_observed must be an integer >= 1, got 0$"),
    (lambda: theory.curvature_scale("completion", 5, n_observed=0), r"^n_observed must be an integer >= 1, got 0$"),
    (lambda: theory.convert_step_size(1.0, 0, frm="mean", to="sum"), r"^n must be an integer >= 1, got 0$"),
    (lambda: theory.fit_time(0.0, depth=3, eps=0.1), r"^sigma_star must be finite and in \(0, inf\), got 0\.0$"),
    (lambda: theory.compressed_spectrum([0.0], depth=3, eps=0.1, eta=0.1, steps=1),
     r"^sigma_star must be finite and in \(0, inf\), got 0\.0$"),
])
def test_theory_refuses_zero_scales(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_compressed_init_past_the_targets_rank_does_not_take_the_lapacks_null_basis(monkeypatch):
    """Oracle init with r̂ = 4 > r = 2: the columns past rank 2 are a fixed completion, so another LAPACK's
    basis of the null space (here: a rotation of NumPy's) gives bitwise the same initial layers."""
    cfg = sim.RunConfig(problem="factorization", model="compressed", init="oracle", d=9, rank=2, rank_hat=4, eps=0.3)
    p = sim.make_problem(cfg, [0], torch.device("cpu"))
    W0 = sim.init_compressed(cfg, p, torch.device("cpu"))[0]
    real = np.linalg.svd
    rot = np.linalg.qr(np.random.default_rng(5).standard_normal((7, 7)))[0]

    def other_lapack(M, full_matrices=True, **kw):
        U, S, Vt = real(M, full_matrices=full_matrices, **kw)
        U, Vt = U.copy(), Vt.copy()
        U[:, 2:] = U[:, 2:] @ rot
        Vt[2:] = rot.T @ Vt[2:]
        return U, S, Vt

    monkeypatch.setattr(np.linalg, "svd", other_lapack)
    W1 = sim.init_compressed(cfg, p, torch.device("cpu"))[0]
    assert all(torch.equal(a, b) for a, b in zip(W0, W1))


def test_logging_survives_an_svd_that_fails_to_converge(monkeypatch):
    """gesdd can fail on many repeated singular values (seen: a wide net at d = 200, L = 2, ε = 0.03 in a
    sweep). The failing instance is computed by gesvd instead: the same singular values to rounding."""
    cfg = sim.RunConfig(problem="completion", model="wide", d=12, rank=2, rank_hat=3, eps=0.2, seeds=3)
    p = sim.make_problem(cfg, cfg.seed_list, torch.device("cpu"))
    Ws, _ = sim.init_wide(cfg, cfg.seed_list, torch.device("cpu"))
    ref = p.log_state(Ws, 5)
    calls = {"failed": 0}

    def failing_gesdd(A, full_matrices=True):  # a LAPACK whose gesdd fails on every one of these inputs
        calls["failed"] += 1
        raise torch.linalg.LinAlgError("linalg.svd: The algorithm failed to converge (error code: 1).")

    monkeypatch.setattr(torch.linalg, "svd", failing_gesdd)
    got = p.log_state(Ws, 5)
    assert calls["failed"] > 0
    # singular values are well conditioned: gesvd and gesdd agree to a few eps of the largest one
    s0 = float(ref["singular_values"].max())
    eps = np.finfo(np.float64).eps
    assert torch.allclose(got["singular_values"], ref["singular_values"], rtol=0, atol=64 * eps * s0)
    for k in ref["metrics"]:
        assert torch.equal(got["metrics"][k], ref["metrics"][k])  # the metrics never went through the SVD

"""Corollary 1 (theory.corollary) against explicit matrices."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import theory
from tests.reference import product
from verify.strategies import depths, epsilons, haar_orthogonal, seeds, spectra
from verify.tolerance import ulps


def _matrices(sig, d, rank_hat, depth, eps, scaling, seed):
    U, V = haar_orthogonal(d, seed), haar_orthogonal(d, seed + 1)
    M = (U[:, : sig.size] * sig) @ V[:, : sig.size].T
    s = eps if scaling == "proof" else np.sqrt(eps)
    wide = product([s * haar_orthogonal(d, seed + 2 + l) for l in range(depth)], 1, depth, d)
    comp = product([eps * V[:, :rank_hat].T] + [eps * np.eye(rank_hat)] * (depth - 2) + [eps * U[:, :rank_hat]], 1, depth, d)
    return M, wide, comp


@given(spectra(max_rank=4, max_value=5.0), depths(2, 4), epsilons(0.05, 0.9), st.integers(1, 6),
       st.sampled_from(["proof", "eq3"]), seeds)
def test_errors_match_explicit_matrices(sig, depth, eps, rank_hat, scaling, seed):
    d = 6
    M, W, Wc = _matrices(sig, d, rank_hat, depth, eps, scaling, seed % 10_000)
    e0 = theory.initial_errors(sig, shape=d, rank_hat=rank_hat, depth=depth, eps=eps, scaling=scaling)
    Q = W / e0.wide_scale
    e = theory.initial_errors(sig, shape=d, rank_hat=rank_hat, depth=depth, eps=eps, scaling=scaling,
                              overlap=float(np.trace(Q.T @ M)))
    scale = np.sum(sig**2) + d
    # Frobenius norms of 6×6 products of L <= 4 factors: O(d·L) ulps of the scale
    assert e.wide == pytest.approx(np.sum((W - M) ** 2), abs=ulps(64) * scale)
    assert e.compressed == pytest.approx(np.sum((Wc - M) ** 2), abs=ulps(64) * scale)
    assert e.gap == pytest.approx(np.sum((W - M) ** 2) - np.sum((Wc - M) ** 2), abs=ulps(128) * scale)
    assert e.wide >= e.wide_lower_bound - ulps(64) * scale  # Lemma 1 (von Neumann)


def test_lemma1_bound_is_attained_by_the_aligned_initialisation():
    sig = np.array([3.0, 1.0])
    d, L, eps = 5, 3, 0.4
    U, V = haar_orthogonal(d, 1), haar_orthogonal(d, 2)
    M = (U[:, :2] * sig) @ V[:, :2].T
    Q = U @ V.T  # best-aligned orthogonal matrix: tr(QᵀM*) = ‖M*‖_*
    e = theory.initial_errors(sig, shape=d, rank_hat=2, depth=L, eps=eps, overlap=float(np.trace(Q.T @ M)))
    assert e.wide == pytest.approx(e.wide_lower_bound, abs=ulps(32) * 10)


def test_proof_scaling_gap_and_where_it_breaks():
    sig = np.array([3.0, 2.0, 1.0])
    # r̂ >= r: worst-case gap is exactly (k − r̂) ε^{2L} >= 0
    e = theory.initial_errors(sig, shape=10, rank_hat=4, depth=3, eps=0.1)
    assert e.worst_case_gap == pytest.approx(6 * 0.1**6, rel=ulps(16))
    # r̂ < r: worst case (k − r̂) ε^{2L} − 2 ε^L Σ_{i>r̂} σ_i, negative for small ε
    e = theory.initial_errors(sig, shape=10, rank_hat=2, depth=3, eps=0.1)
    assert e.worst_case_gap == pytest.approx(8 * 0.1**6 - 2 * 0.1**3 * 1.0, rel=ulps(16))
    assert e.worst_case_gap < 0
    # Eq. (3) literal: the wide net starts at ε^{L/2} ≫ ε^L, worst case negative for small ε
    e = theory.initial_errors(sig, shape=10, rank_hat=4, depth=3, eps=0.01, scaling="eq3")
    assert e.worst_case_gap < 0 < e.mean_gap


def test_haar_overlap_std():
    sig = np.array([2.0, 1.0])
    d = 8
    U, V = haar_orthogonal(d, 0), haar_orthogonal(d, 1)
    M = (U[:, :2] * sig) @ V[:, :2].T
    om = np.array([np.trace(haar_orthogonal(d, 100 + k).T @ M) for k in range(4000)])
    e = theory.initial_errors(sig, shape=d, rank_hat=2, depth=2, eps=0.1)
    # 4000 draws: the sample sd has relative standard error ~ 1/sqrt(2·4000) ≈ 1.1%; allow 5 σ
    assert om.std() == pytest.approx(e.overlap_std, rel=0.056)
    assert abs(om.mean()) < 5 * e.overlap_std / np.sqrt(4000)

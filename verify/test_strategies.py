"""The strategies themselves: they must build what they promise (the verify suite's inputs)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import theory
from verify.strategies import alphas, epsilons, haar_orthogonal, monotone_steps, seeds, spectra, step_fractions
from verify.tolerance import ulps


@given(st.data(), st.integers(1, 6), st.floats(0.01, 0.5))
def test_spectra_have_the_promised_gaps_and_range(data, max_rank, gap):
    s = data.draw(spectra(max_rank=max_rank, min_gap=gap, min_value=0.5, max_value=50.0))
    assert s.size >= 1 and s.size <= max_rank
    # 8 ulps: the construction multiplies at most a handful of positive floats
    assert np.all(s >= 0.5 * (1 - ulps(8))) and np.all(s <= 50.0 * (1 + ulps(8)))
    assert np.all(s[:-1] / s[1:] >= (1 + gap) * (1 - ulps(8)))


@given(seeds, st.integers(1, 12))
def test_haar_orthogonal_is_orthogonal_and_seeded(seed, n):
    Q = haar_orthogonal(n, seed)
    # QR of an n×n Gaussian: orthogonality error is O(n) ulps
    assert np.max(np.abs(Q.T @ Q - np.eye(n))) <= ulps(16 * n)
    assert np.array_equal(Q, haar_orthogonal(n, seed))


@given(step_fractions(), epsilons(), alphas())
def test_hyperparameters_are_in_range(f, eps, alpha):
    assert 0.05 <= f <= 0.9 and 1e-3 * (1 - ulps(8)) <= eps <= 0.3 * (1 + ulps(8))
    assert 0.5 * (1 - ulps(8)) <= alpha <= 10 * (1 + ulps(8))


@given(st.data(), st.floats(0.5, 3.0), st.sampled_from([2, 3]), st.floats(0.05, 0.3), st.sampled_from([0.45, 0.9]))
def test_monotone_steps_keep_the_compressed_step_where_promised(data, smax, depth, eps, share):
    frac, alpha = data.draw(monotone_steps(smax, depth, eps, share=share))
    crit_c = theory.critical_step_size(smax, depth=depth, alpha=alpha, eps=eps)
    assert alpha >= 1.0 and alpha <= 8.0 * (1 + ulps(8)) and 0.05 <= frac <= 0.9
    # η = frac·η_c(wide) <= share·η_c(α, ε): 8 ulps for the products and quotient that built frac
    assert frac * theory.critical_step_size(smax, depth=depth) <= share * crit_c * (1 + ulps(8))

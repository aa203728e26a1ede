"""Parameter and MAC counts (theory.cost) against a counted GD step."""

import numpy as np
import pytest

import theory
from tests.reference import counting_factored_step, counting_gd_step


@pytest.mark.parametrize("shape,depth,rank_hat", [(12, 2, 3), (12, 3, 4), ((9, 14), 4, 5), (100, 3, 20)])
def test_macs_match_a_counted_step_and_params_match_the_paper(shape, depth, rank_hat):
    rng = np.random.default_rng(0)
    for widths in (theory.wide_widths(shape, depth), theory.compressed_widths(shape, depth, rank_hat)):
        Ws = [rng.standard_normal((widths[l], widths[l - 1])) for l in range(1, len(widths))]
        M = rng.standard_normal((widths[-1], widths[0]))
        new, macs = counting_gd_step(Ws, M, 1e-3)
        assert macs == theory.gd_step_macs(widths)
        new_f, macs_f = counting_factored_step(Ws, M, 1e-3)
        assert macs_f == theory.gd_step_macs(widths, factored=True)
        # the two schemes are the same step: equal up to rounding of O(d) products (1e3 ulps)
        assert all(np.allclose(a, b, rtol=0, atol=1e3 * np.finfo(float).eps * np.abs(a).max()) for a, b in zip(new, new_f))
        assert sum(W.size for W in Ws) == theory.param_count(widths)
    c = theory.compare_costs(shape, depth=depth, rank_hat=rank_hat)
    if isinstance(shape, int):
        assert c.wide_params == depth * shape**2
        assert c.compressed_params == 2 * shape * rank_hat + (depth - 2) * rank_hat**2  # Section 2.2
        assert c.wide_macs == 3 * (depth - 1) * shape**3
        assert c.compressed_macs == 3 * shape**2 * rank_hat + 3 * (depth - 2) * shape * rank_hat**2


def test_compression_is_cheaper_in_every_measure():
    c = theory.compare_costs(100, depth=3, rank_hat=20)
    assert c.param_ratio > 1 and c.mac_ratio > 1 and c.memory_ratio > 1
    assert theory.gd_step_memory_bytes((4, 2, 4), dtype_bytes=4) * 2 == theory.gd_step_memory_bytes((4, 2, 4))

"""theorem1: GD on Algorithm 1 (oracle init, factorization, α = 1) equals Eqs. (13)–(14) at every step."""

import numpy as np
import pytest
from hypothesis import example, given, target
from hypothesis import strategies as st

from verify.claims import THEOREM1_MAX_STEP_FRACTION, THEOREM1_STEPS
from verify.measures import ROUNDING_ULPS, deviation
from verify.strategies import depths, epsilons, spectra, step_fractions

CLAIM = "theorem1"
STEPS = THEOREM1_STEPS
# the rounding budget (ROUNDING_ULPS, THEOREM1_ULPS_PER_STEP a step) is reasoned in verify/measures.py;
# GD is measured in the basis Algorithm 1's init used (verify.measures.init_basis)
DEPTHS, EPS_RANGE, EXTRA_RANK = (2, 4), (0.05, 0.6), 2


@pytest.mark.claim(CLAIM)
@given(spectra(max_rank=3, min_value=0.5, max_value=5.0), depths(*DEPTHS), epsilons(*EPS_RANGE),
       step_fractions(0.05, THEOREM1_MAX_STEP_FRACTION), st.integers(0, EXTRA_RANK), st.integers(0, 3))
@example(np.array([3.0, 1.0]), 3, 0.3, 0.5, 1, 1)  # the README's instance: two signal modes + one β mode
def test_gd_on_matrices_equals_the_recurrence(record, sig, depth, eps, frac, extra, dpad):
    worst, first, (d, rh, eta, _) = deviation(sig, depth, eps, frac, extra, dpad)
    target(worst, label="deviation in ulps of sigma_1")
    t = record.tally()
    record.evidence(CLAIM, "max_deviation_ulps_of_sigma1", round(t.max("ulps", worst), 1))
    record.evidence(CLAIM, "instances", t.count("n"))
    record.evidence(CLAIM, "sizes (d, r̂, L)", t.union("sizes", [(d, rh, depth)]))
    record.evidence(CLAIM, "steps per instance", STEPS)
    record.evidence(CLAIM, "region searched", f"L = {DEPTHS[0]}…{DEPTHS[1]}, ε in [{EPS_RANGE[0]}, {EPS_RANGE[1]}], "
                                               f"r̂ − r = 0…{EXTRA_RANK}, η/η_c in [0.05, {THEOREM1_MAX_STEP_FRACTION}]")
    assert worst <= ROUNDING_ULPS, f"GD departs from Theorem 1 at step {first[0]}: {first[1]:.0f} ulps"

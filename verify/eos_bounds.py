"""The bounds the sequel's claim tests assert and verify/claims_sequel.py's conditions quote (one place, no imports).

Kept apart from claims_sequel.py, which needs verify.claims.Claim and so can only be imported after
verify/claims.py; the tests import these directly.
"""

#: eos-period-doubling: the last computed ratio of successive period-doubling gaps is within this of δ = 4.6692…
#: (δ_k − δ = O(δ^{−k}); from 2^6-cycles the measured gap to δ is ~3e-3)
EOS_FEIGENBAUM_TOLERANCE = 0.01
#: eos-period-doubling: the longest period searched in GD's iterates (past the accumulation point: none found)
EOS_MAX_PERIOD = 64
#: eos-subspace / eos-shallow: searched modes keep |η/η_{c,i} − 1| >= this (closer, the multiplier nears ±1 and
#: no finite run settles on its orbit)
EOS_SUBSPACE_MARGIN = 0.03
#: eos-balancing: |measured per-period gap factor / theory's ρ − 1| (first-order in the gap, ~1e-6 where measured)
EOS_GAP_RATE_TOLERANCE = 1e-4
#: eos-shallow: grid points keep |η/η_c − r_×(L)| >= this from the crisis (the window's upper end)
EOS_WINDOW_MARGIN = 0.05


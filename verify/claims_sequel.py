"""The sequel's claims (Ghosh, Kwon, Wang, Ravishankar, Qu 2025: GD on DLNs beyond the edge of stability).

Each is a :class:`verify.claims.Claim` with ``paper="eos"``; its tests are ``verify/test_<id>.py``.
The statements are the sequel's abstract (arXiv 2502.20531), the only text of it at hand; the
conditions are what the tests establish. As in ``verify/claims.py``, every number a condition quotes
is a bound of verify/eos_bounds.py that the tests import and assert with, or a formula; measurements go
to the evidence. (The tests import the bounds from there: this module can only be imported after
verify/claims.py, which imports it at its bottom.)

(Imported at the bottom of verify/claims.py, after Claim is defined: the import below is not circular.)
"""

from __future__ import annotations

from verify.claims import Claim
from verify.eos_bounds import (
    EOS_FEIGENBAUM_TOLERANCE,
    EOS_GAP_RATE_TOLERANCE,
    EOS_MAX_PERIOD,
    EOS_SUBSPACE_MARGIN,
    EOS_WINDOW_MARGIN,
)

_MAP = "μ ↦ μ − κμ^{L−1}(μ^L − 1), κ = ησ^{2−2/L}"



def _eos(id: str, claim: str, verdict: str, conditions: str) -> Claim:
    return Claim(id, claim, verdict, conditions, paper="eos")


SEQUEL_CLAIMS: list = [
    _eos("eos-period-doubling",
          "Beyond the edge of stability (η > η_c), the loss oscillations of GD on deep matrix factorization "
          "follow a period-doubling route to chaos.",
          "holds-with-conditions",
          f"Each mode follows the balanced map {_MAP} (Eq. (13) rescaled), whose period doubles at η = r_k(L)·η_c(σ) "
          "with r_0 = 1 and, for L = 2, r_1 = √5 − 1 (sympy closed form); the r_k are the same for every σ (values "
          "for L = 2…6 in the evidence) and their gap ratios approach Feigenbaum's δ (the last within "
          f"{EOS_FEIGENBAUM_TOLERANCE:g}). GD on the matrix problem (sim, the sequel's init) has period 2^k at the "
          "midpoint of each window (r_k, r_{k+1}), k <= 3, and past the accumulation point r_∞ (L = 2, 3, at one η "
          f"between r_∞ and the crisis; in the evidence) no period up to {EOS_MAX_PERIOD}, with runs 1e-9 apart "
          "separating to O(σ): chaos — not everywhere past r_∞, which has periodic windows (periods 6 and 3 in the "
          "eos-bifurcation figure). The route ends at the crisis r_×(L) where the critical orbit reaches 0 "
          "(f²(c) = 0; values in the evidence): just past it GD with L >= 3 (L = 3, 4 checked) collapses the mode to "
          "the saddle W_{L:1} = 0 (it unlearns it), while L = 2 keeps a bounded oscillation; further up (2.6 η_c) "
          "every depth checked diverges (measured). With several modes each follows its own r_k at η/η_{c,i}."),
    _eos("eos-subspace",
          "In the 2-period regime the oscillations stay inside a small subspace whose dimension is set precisely "
          "by the learning rate.",
          "holds-with-conditions",
          "While the top mode is 2-periodic (η_{c,1} < η < r_1(L)·η_{c,1}) and the aligned orbit attracts, "
          "successive iterates of W_{L:1} differ exactly in the span of the top k singular vectors of M*, "
          "k = #{i : η > 2/(Lσ_i^{2−2/L})} (sum loss; η/N for the mean loss): for the sequel's init, Haar-orthogonal "
          "inits and Algorithm 1 with α = 1 (searched, every mode at least "
          f"{EOS_SUBSPACE_MARGIN:.0%} from its threshold; ranges in the evidence). Zero-target modes never oscillate. "
          "'Attracts' is a condition the per-mode picture misses: the monodromy of GD around the aligned, balanced "
          "orbit (theory.eos.aligned_cycle_radius) has cross-mode (misalignment) directions that grow once two "
          "oscillating or nearby modes are close — for the sequel's own spectrum from one η_× on (in the evidence; "
          "between η_{c,1} and η_{c,2}, attracting below it), e.g. at η = 0.034 and 0.036. "
          "The sequel's scripts escape this only because a diagonal target with a diagonal init keeps every "
          "misalignment exactly 0; with the same spectrum on Haar singular vectors GD leaves the 2-cycle "
          "(aperiodic or diverging; counterexample). For Algorithm 1 with α ≠ 1 the count must use α^{2/L}η (its "
          "outer layers' larger step): with η alone it is wrong (counterexample)."),
    _eos("eos-balancing",
          "The balancing gap between layers' singular values, conserved by gradient flow, breaks at the edge of "
          "stability and then decays monotonically to zero (an implicit bias toward the flattest minima).",
          "holds-with-conditions",
          "Per mode and step GD multiplies the gap x_{l+1}² − x_l² by exactly 1 − η²e²∏_{j≠l,l+1}x_j² "
          "(e = ∏x_j − σ; verified on GD to rounding), so it moves whenever e ≠ 0 — below η_c too, where it "
          "freezes at a nonzero value once GD converges. It decays to zero only in modes that keep oscillating "
          "(η > η_{c,i}): on the 2-cycle by ρ = ∏(1 − κ²(μ^L − 1)²μ^{2(L−2)}) per period (L = 2: ρ = 3 − 2κ), measured "
          f"within a relative {EOS_GAP_RATE_TOLERANCE:g}. Zero-target modes' gaps never move, so the network's gap "
          "‖W_{l+1}ᵀW_{l+1} − W_lW_lᵀ‖ does not vanish in the sequel's own setting. |gap| never grows iff "
          "η|e_t|∏_{j≠l,l+1}|x_j| <= √2 at every step: true in the 2-period regime (searched, L = 2…6), false for L = 2 once "
          "ησ_1 > √2 (the first steps from a small init, e ≈ −σ_1; counterexample). From an unbalanced init below "
          "η_c whose minimum is sharper than 2/η, GD oscillates, the gap shrinks and stops at a nonzero value once "
          "the sharpness is <= 2/η (counterexample to 'to zero')."),
    _eos("eos-depth",
          "Depth raises the edge-of-stability threshold through the depth-dependent sharpness of the minima.",
          "holds-with-conditions",
          "Read as: the sharpness of the flattest minimum, Lσ_1^{2−2/L} (Lanczos on GD's minima equals σ²Σ1/x_l² "
          "of GD's own layers and is never below the balanced value), grows with depth, so the step size at which "
          "EoS begins, 2/(Lσ_1^{2−2/L}), falls. From L to L + 1 this holds iff σ_1 > (L/(L+1))^{L(L+1)/2} — for "
          "every L when σ_1 > 8/27 (at σ_1 = 8/27, L = 2 and 3 tie); for smaller σ_1 the deeper minimum is flatter and the threshold rises "
          "(counterexample)."),
    _eos("eos-shallow",
          "Shallow models and simple targets need not show edge-of-stability behaviour at all.",
          "holds-with-conditions",
          "GD shows EoS behaviour (a bounded oscillation that does not converge) exactly when "
          "1 < η/η_c(L, σ_1) < r_end(L): the crisis r_× of eos-period-doubling for L >= 3, and exactly 2 for L = 2 "
          "(the odd cubic map's own crisis, f²(c) = −f(c) at κ = 2; GD diverges past it). At a "
          "fixed η a shallow net or a target with small σ_1 lies below that window and converges, as stated; but "
          "a deep net can lie above it and collapse the mode or diverge instead (L >= 3), so 'no EoS' is not only "
          "shallow. "
          "Checked on a grid of (L = 2…6, η) for σ_1 = 10 and 0.1 (sim against the window, points at least "
          f"{EOS_SUBSPACE_MARGIN:g} from its lower end and {EOS_WINDOW_MARGIN:g} from its upper one); for σ_1 < "
          "(L/(L+1))^{L(L+1)/2} the order in depth reverses."),
]

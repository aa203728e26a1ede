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

_MAP = r"$\mu \mapsto \mu - \kappa\mu^{L-1}(\mu^L - 1)$, $\kappa = \eta\sigma^{2-2/L}$"
#: the depth line of eos-depth and eos-shallow, in LaTeX
_DEPTH_LINE = r"(L/(L+1))^{L(L+1)/2}"


def _eos(id: str, claim: str, verdict: str, conditions: str, **texts) -> Claim:
    return Claim(id, claim, verdict, conditions, paper="eos", **texts)


SEQUEL_CLAIMS: list = [
    _eos("eos-period-doubling",
          r"Beyond the edge of stability ($\eta > \eta_c$), the loss oscillations of GD on deep matrix factorization "
          "follow a period-doubling route to chaos.",
          "holds-with-conditions",
          f"Each mode follows the balanced map {_MAP} (Eq. (13) rescaled), whose period doubles at "
          r"$\eta = r_k(L)\,\eta_c(\sigma)$ with $r_0 = 1$ and, for $L = 2$, $r_1 = \sqrt5 - 1$ (sympy closed form); "
          r"the $r_k$ are the same for every $\sigma$ (values for $L = 2 \dots 6$ in the evidence) and their gap "
          r"ratios approach Feigenbaum's $\delta$ (the last within "
          f"{EOS_FEIGENBAUM_TOLERANCE:g}). GD on the matrix problem (sim, the sequel's init) has period $2^k$ at the "
          r"midpoint of each window $(r_k, r_{k+1})$, $k \le 3$, and past the accumulation point $r_\infty$ "
          r"($L = 2, 3$, at one $\eta$ between $r_\infty$ and the crisis; in the evidence) no period up to "
          f"{EOS_MAX_PERIOD}, " r"with runs $10^{-9}$ apart separating to $O(\sigma)$: chaos — not everywhere past "
          r"$r_\infty$, which has periodic windows (periods 6 and 3 in the eos-bifurcation figure). The route ends "
          r"at the crisis $r_\times(L)$ where the critical orbit reaches 0 ($f^2(c) = 0$; values in the evidence): "
          r"just past it GD with $L \ge 3$ ($L = 3, 4$ checked) collapses the mode to the saddle $W_{L:1} = 0$ "
          r"(it unlearns it), while $L = 2$ keeps a bounded oscillation; further up ($2.6\,\eta_c$) every depth "
          r"checked diverges (measured). With several modes each follows its own $r_k$ at $\eta/\eta_{c,i}$.",
          short=r"Sequel: past $\eta_c$, GD's loss oscillations period-double into chaos",
          line=r"each mode's balanced map: doublings at $r_k(L)\,\eta_c$ (Feigenbaum), up to a crisis $r_\times(L)$",
          formula=r"\mu \;\mapsto\; \mu - \kappa\,\mu^{L-1}(\mu^L - 1), \qquad \kappa = \eta\,\sigma^{2-2/L}"),
    _eos("eos-subspace",
          "In the 2-period regime the oscillations stay inside a small subspace whose dimension is set precisely "
          "by the learning rate.",
          "holds-with-conditions",
          r"While the top mode is 2-periodic ($\eta_{c,1} < \eta < r_1(L)\,\eta_{c,1}$) and the aligned orbit "
          r"attracts, successive iterates of $W_{L:1}$ differ exactly in the span of the top $k$ singular vectors of "
          r"$M^*$, $k = \#\{i : \eta > 2/(L\sigma_i^{2-2/L})\}$ (sum loss; $\eta/N$ for the mean loss): for the "
          r"sequel's init, Haar-orthogonal inits and Algorithm 1 with $\alpha = 1$ (searched, every mode at least "
          f"{EOS_SUBSPACE_MARGIN:.0%} from its threshold; ranges in the evidence). Zero-target modes never oscillate. "
          "'Attracts' is a condition the per-mode picture misses: the monodromy of GD around the aligned, balanced "
          "orbit (`theory.eos.aligned_cycle_radius`) has cross-mode (misalignment) directions that grow once two "
          r"oscillating or nearby modes are close — for the sequel's own spectrum from one $\eta_\times$ on (in the "
          r"evidence; between $\eta_{c,1}$ and $\eta_{c,2}$, attracting below it), e.g. at $\eta = 0.034$ and "
          r"$0.036$. The sequel's scripts escape this only because a diagonal target with a diagonal init keeps "
          "every misalignment exactly 0; with the same spectrum on Haar singular vectors GD leaves the 2-cycle "
          r"(aperiodic or diverging; counterexample). For Algorithm 1 with $\alpha \ne 1$ the count must use "
          r"$\alpha^{2/L}\eta$ (its outer layers' larger step): with $\eta$ alone it is wrong (counterexample).",
          short=r"Sequel: 2-period oscillations stay in a subspace whose dimension $\eta$ sets",
          line=r"$\dim = \#\{i : \eta > \eta_{c,i}\}$ while the aligned 2-cycle attracts; not off the diagonal",
          formula=r"\dim = \#\{\, i : \eta > 2/(L\,\sigma_i^{2-2/L}) \,\}"),
    _eos("eos-balancing",
          "The balancing gap between layers' singular values, conserved by gradient flow, breaks at the edge of "
          "stability and then decays monotonically to zero (an implicit bias toward the flattest minima).",
          "holds-with-conditions",
          r"Per mode and step GD multiplies the gap $x_{l+1}^2 - x_l^2$ by exactly "
          r"$1 - \eta^2 e^2 \prod_{j \ne l,l+1} x_j^2$ ($e = \prod_j x_j - \sigma$; verified on GD to rounding), so "
          r"it moves whenever $e \ne 0$ — below $\eta_c$ too, where it freezes at a nonzero value once GD converges. "
          r"It decays to zero only in modes that keep oscillating ($\eta > \eta_{c,i}$): on the 2-cycle by "
          r"$\rho = \prod(1 - \kappa^2(\mu^L - 1)^2\mu^{2(L-2)})$ per period ($L = 2$: $\rho = 3 - 2\kappa$), measured "
          f"within a relative {EOS_GAP_RATE_TOLERANCE:g}. Zero-target modes' gaps never move, so the network's gap "
          r"$\lVert W_{l+1}^\top W_{l+1} - W_l W_l^\top\rVert$ does not vanish in the sequel's own setting. "
          r"$\lvert\mathrm{gap}\rvert$ never grows iff $\eta\lvert e_t\rvert\prod_{j\ne l,l+1}\lvert x_j\rvert \le "
          r"\sqrt2$ at every step: true in the 2-period regime (searched, $L = 2 \dots 6$), false for $L = 2$ once "
          r"$\eta\sigma_1 > \sqrt2$ (the first steps from a small init, $e \approx -\sigma_1$; counterexample). From "
          r"an unbalanced init below $\eta_c$ whose minimum is sharper than $2/\eta$, GD oscillates, the gap shrinks "
          r"and stops at a nonzero value once the sharpness is $\le 2/\eta$ (counterexample to 'to zero').",
          short="Sequel: the balancing gap breaks at the edge of stability, then decays to zero",
          line="moves whenever the error is nonzero; decays to zero only in modes that keep oscillating",
          formula=r"x_{l+1}^2 - x_l^2 \;\leftarrow\; \Big(1 - \eta^2 e^2 \prod_{j \ne l, l+1} x_j^2\Big)"
                  r"\,(x_{l+1}^2 - x_l^2), \qquad e = \prod_j x_j - \sigma"),
    _eos("eos-depth",
          "Depth raises the edge-of-stability threshold through the depth-dependent sharpness of the minima.",
          "holds-with-conditions",
          r"Read as: the sharpness of the flattest minimum, $L\sigma_1^{2-2/L}$ (Lanczos on GD's minima equals "
          r"$\sigma^2\sum_l 1/x_l^2$ of GD's own layers and is never below the balanced value), grows with depth, so "
          r"the step size at which EoS begins, $2/(L\sigma_1^{2-2/L})$, falls. From $L$ to $L + 1$ this holds iff "
          f"$\\sigma_1 > {_DEPTH_LINE}$ — " r"for every $L$ when $\sigma_1 > 8/27$ (at $\sigma_1 = 8/27$, $L = 2$ "
          r"and 3 tie); for smaller $\sigma_1$ the deeper minimum is flatter and the threshold rises "
          "(counterexample).",
          short="Sequel: depth raises the EoS threshold through the minima's sharpness",
          line=r"sharpness $L\sigma_1^{2-2/L}$ grows with $L$ iff " f"$\\sigma_1 > {_DEPTH_LINE}$",
          formula=r"\lambda_{\max}\big(\nabla^2 \mathcal{L}\big) = L\,\sigma_1^{2-2/L} \quad \text{at the flattest "
                  r"minimum}, \qquad \eta_{\mathrm{EoS}} = \frac{2}{L\,\sigma_1^{2-2/L}}"),
    _eos("eos-shallow",
          "Shallow models and simple targets need not show edge-of-stability behaviour at all.",
          "holds-with-conditions",
          r"GD shows EoS behaviour (a bounded oscillation that does not converge) exactly when "
          r"$1 < \eta/\eta_c(L, \sigma_1) < r_{\mathrm{end}}(L)$: the crisis $r_\times$ of eos-period-doubling for "
          r"$L \ge 3$, and exactly 2 for $L = 2$ (the odd cubic map's own crisis, $f^2(c) = -f(c)$ at $\kappa = 2$; "
          r"GD diverges past it). At a fixed $\eta$ a shallow net or a target with small $\sigma_1$ lies below that "
          r"window and converges, as stated; but a deep net can lie above it and collapse the mode or diverge "
          r"instead ($L \ge 3$), so 'no EoS' is not only shallow. Checked on a grid of ($L = 2 \dots 6$, $\eta$) for "
          r"$\sigma_1 = 10$ and $0.1$ (sim against the window, points at least "
          f"{EOS_SUBSPACE_MARGIN:g} from its lower end and {EOS_WINDOW_MARGIN:g} from its upper one); for "
          f"$\\sigma_1 < {_DEPTH_LINE}$ the order in depth reverses.",
          short="Sequel: shallow models and simple targets need not show EoS",
          line=r"EoS exactly when $1 < \eta/\eta_c < r_{\mathrm{end}}(L)$; a deep net can overshoot the window",
          formula=r"1 \;<\; \eta/\eta_c(L, \sigma_1) \;<\; r_{\mathrm{end}}(L)"),
]

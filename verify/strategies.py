"""Hypothesis strategies that build well-posed instances *by construction* (no filtering).

- ``spectra``: strictly decreasing singular values with a guaranteed minimum relative gap.
- ``depths``, ``epsilons``, ``alphas``: the hyperparameters Algorithm 1 allows.
- ``step_fractions``: step sizes as a fraction of theory's critical step size.
- ``monotone_steps``: (η/η_c, α) pairs whose compressed step is inside its monotone regime.
- ``haar_orthogonal``: a Haar-random orthogonal matrix from an explicit seed.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

import theory


@st.composite
def spectra(draw, *, min_rank: int = 1, max_rank: int = 5, min_gap: float = 0.1,
            min_value: float = 0.5, max_value: float = 10.0) -> np.ndarray:
    """σ_1 > … > σ_r in [min_value, max_value] with σ_i / σ_{i+1} >= 1 + min_gap."""
    r = draw(st.integers(min_rank, max_rank))
    if r == 1:
        return np.array([draw(st.floats(min_value, max_value))])
    room = (max_value / min_value) ** (1.0 / (r - 1))
    if room < 1 + min_gap:
        raise ValueError(f"cannot fit {r} values with gap {min_gap} in [{min_value}, {max_value}]")
    ratios = np.array([draw(st.floats(1 + min_gap, room)) for _ in range(r - 1)])
    # scale the ratios down (keeping each >= 1 + min_gap) so that their product fits the range
    excess = np.prod(ratios) / (max_value / min_value)
    if excess > 1:
        logs = np.log(ratios) - np.log(1 + min_gap)
        ratios = np.exp(np.log(1 + min_gap) + logs * (1 - np.log(excess) / logs.sum()))
    bottom = draw(st.floats(min_value, max_value / np.prod(ratios)))
    return bottom * np.concatenate([np.cumprod(ratios[::-1])[::-1], [1.0]])


def depths(lo: int = 2, hi: int = 5):
    return st.integers(lo, hi)


def epsilons(lo: float = 1e-3, hi: float = 0.3):
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda x: float(10.0**x))


def alphas(lo: float = 0.5, hi: float = 10.0):
    return st.floats(np.log10(lo), np.log10(hi)).map(lambda x: float(10.0**x))


def step_fractions(lo: float = 0.05, hi: float = 0.9):
    """η / η_c, drawn below the critical step size."""
    return st.floats(lo, hi)


@st.composite
def monotone_steps(draw, sigma_max: float, depth: int, eps: float, *, share: float, max_alpha: float = 8.0,
                   lo: float = 0.05, hi: float = 0.9):
    """(frac, α) with α in [1, max_alpha] and η = frac·η_c (the wide net's, α = 1) at most
    share·η_c(α, ε), the compressed net's: α is drawn first (capped where no frac in [lo, ·] would
    fit, η_c(α) falling as α grows), then frac in [lo, min(hi, share·η_c(α, ε)/η_c)]."""
    crit = theory.critical_step_size(sigma_max, depth=depth)

    def top(a):
        return min(hi, share * theory.critical_step_size(sigma_max, depth=depth, alpha=a, eps=eps) / crit)

    if top(1.0) < lo:
        raise ValueError(f"no step fraction >= {lo} is below {share} η_c(α = 1) here")
    a_lo, a_hi = 0.0, float(np.log(max_alpha))
    if top(max_alpha) < lo:  # bisect log α for the largest α that still leaves room: top(α) >= lo
        for _ in range(40):
            mid = 0.5 * (a_lo + a_hi)
            a_lo, a_hi = (mid, a_hi) if top(float(np.exp(mid))) >= lo else (a_lo, mid)
        a_cap = a_lo
    else:
        a_cap = a_hi
    alpha = float(np.exp(draw(st.floats(0.0, a_cap))))
    return draw(st.floats(lo, max(lo, top(alpha)))), alpha


def haar_orthogonal(n: int, seed: int) -> np.ndarray:
    """An n×n Haar-distributed orthogonal matrix (QR of a Gaussian with the sign fix)."""
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


seeds = st.integers(0, 2**32 - 1)

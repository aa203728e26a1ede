r"""Transverse stability of the aligned, balanced orbit: what the per-mode picture of :mod:`theory.eos` leaves out.

On the aligned set every mode follows its own scalar map; off it, GD also moves the cross-mode (misalignment)
entries of the layers. Their linearisation around the aligned orbit decides whether an init that is not exactly
aligned (a rotated target, random layers) settles on the per-mode orbit at all (the sequel's ``eos-subspace``).
Re-exported as :func:`theory.eos.aligned_cycle_radius`.
"""

from __future__ import annotations

import numpy as np

from . import checks
from .eos import eos_thresholds, period_doubling_ratios, two_cycle

__all__ = ["aligned_cycle_radius"]


def _gd_map(Ws, M, eta):
    """One GD step of ½‖W_L⋯W_1 − M‖² (explicit products; analytic, so complex steps differentiate it)."""
    L = len(Ws)
    pre = [Ws[0]]
    for W in Ws[1:]:
        pre.append(W @ pre[-1])
    B = pre[-1] - M
    out = [None] * L
    for l in range(L - 1, -1, -1):
        out[l] = Ws[l] - eta * (B @ pre[l - 1].T if l > 0 else B)
        B = Ws[l].T @ B
    return out


def aligned_cycle_radius(sigma_star, *, depth: int, eta) -> float:
    r"""Spectral radius of GD's linearisation around the aligned, balanced orbit of all modes at once.

    Every mode sits on its balanced minimum (η < η_i) or on its 2-cycle (:func:`two_cycle`); the layers are
    diagonal, :math:`W_l=\mathrm{diag}(\sigma_i^{1/L}\mu_i)`. The monodromy :math:`J(x_b)J(x_a)` of the full
    matrix GD map (Jacobian by complex steps: exact to rounding, as the map is a polynomial) holds the
    modes' own multipliers, the gaps' factors, neutral directions (hidden-space rotations; frozen gaps)
    at exactly 1, and the cross-mode (misalignment) directions, which the per-mode picture ignores.
    The orbit attracts nearby unaligned inits iff the radius is <= 1 (to rounding).

    Raises:
        ValueError: if the top mode is not in its 2-period regime (1 < η/η_1 < r_1(L)).
    """
    L = checks.depth(depth)
    s = np.sort(checks.sigma_star(sigma_star))[::-1]
    e = float(checks.positive("eta", eta))
    th = eos_thresholds(s, depth=L)
    r1 = period_doubling_ratios(depth=L, count=2)[1]
    if not 1.0 < e / th[0] < r1:
        raise ValueError(f"eta must put the top mode in its 2-period regime, eta/eta_c in (1, {r1:.6g}), "
                         f"got {e / th[0]!r}")
    pts = np.empty((2, s.size))
    for i, (si, ti) in enumerate(zip(s, th)):
        pts[:, i] = (two_cycle(e / ti, depth=L, sigma=si).mu if e > ti else (1.0, 1.0))
    pts *= s ** (1.0 / L)
    M = np.diag(s).astype(complex)
    n, h = s.size, 1e-30
    J = np.eye(L * n * n)
    for x in pts:
        Ws = [np.diag(x).astype(complex) for _ in range(L)]
        cols = []
        for k in range(L * n * n):
            P = [W.copy() for W in Ws]
            P[k // (n * n)].flat[k % (n * n)] += 1j * h
            cols.append(np.concatenate([W.ravel() for W in _gd_map(P, M, e)]).imag / h)
        J = np.array(cols).T @ J
    return float(np.max(np.abs(np.linalg.eigvals(J))))

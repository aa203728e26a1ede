r"""Target spectra used by the paper's experiments (numpy; no torch).

The authors' generator (SPEC §5): draw a d×d standard Gaussian matrix, take its SVD and
keep the singular triplets at indices :math:`0, \lfloor d/(2r)\rfloor, \lfloor 2d/(2r)\rfloor,\dots`
(all below d/2), which leaves r well-separated singular values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import checks

__all__ = ["Target", "authors_target", "authors_spectrum_asymptotic"]


@dataclass(frozen=True)
class Target:
    """A low-rank target :math:`M^*=U\\,\\mathrm{diag}(\\sigma)V^\\top`."""

    U: np.ndarray       #: (n1, r) orthonormal columns
    sigma: np.ndarray   #: (r,) decreasing, > 0
    V: np.ndarray       #: (n2, r) orthonormal columns

    @property
    def matrix(self) -> np.ndarray:
        return (self.U * self.sigma) @ self.V.T


def authors_target(dim, rank: int, seed: int) -> Target:
    """The authors' synthetic target (see module docstring), from an explicit seed.

    ``dim`` is d (square) or (n1, n2); with k = min(n1, n2) the kept indices are
    ⌊i·k/(2r)⌋, i < r.

    >>> t = authors_target(100, 10, seed=0)
    >>> t.sigma.shape, bool(np.all(np.diff(t.sigma) < 0))
    ((10,), True)
    """
    n1, n2 = checks.shape(dim)
    k = min(n1, n2)
    r = checks.nonneg_int("rank", rank, 1)
    if 2 * r > k:
        raise ValueError(f"rank must be in [1, min(dim)/2 = {k // 2}], got {r}")
    s = checks.nonneg_int("seed", seed, 0)
    G = np.random.default_rng(s).standard_normal((n1, n2))
    U, S, Vt = np.linalg.svd(G, full_matrices=False)
    idx = np.array([(i * k) // (2 * r) for i in range(r)])
    return Target(U=U[:, idx], sigma=S[idx], V=Vt[idx].T)


def authors_spectrum_asymptotic(dim, rank: int) -> np.ndarray:
    r"""The authors' target spectrum in its large-d limit, with no matrix drawn: the same indices
    :math:`\lfloor i\,k/(2r)\rfloor` of the decreasing singular values of an n1×n2 standard Gaussian,
    read off the Marchenko–Pastur law instead of one draw.

    With :math:`c=k/n` (k = min, n = max of n1, n2), :math:`s^2/n` has the density
    :math:`f(x)=\sqrt{(b-x)(x-a)}/(2\pi c x)` on :math:`[a,b]=[(1-\sqrt c)^2,(1+\sqrt c)^2]`; the
    j-th largest of k singular values is taken at its upper quantile :math:`(j+\tfrac12)/k`. A
    single draw fluctuates around these by :math:`O(n^{-1/2})` in the bulk and :math:`O(n^{-2/3})` at
    the edge (Tracy–Widom), so the top value of a d = 100 draw is within a few percent.

    >>> s = authors_spectrum_asymptotic(100_000, 10)   # square: the top value sits just inside 2√n
    >>> s.shape, bool(np.all(np.diff(s) < 0)), bool(0.999 < s[0] / (2 * np.sqrt(1e5)) < 1)
    ((10,), True, True)
    """
    from scipy import integrate, optimize

    n1, n2 = checks.shape(dim)
    k, n = min(n1, n2), max(n1, n2)
    r = checks.nonneg_int("rank", rank, 1)
    if 2 * r > k:
        raise ValueError(f"rank must be in [1, min(dim)/2 = {k // 2}], got {r}")
    c = k / n
    a, b = (1 - np.sqrt(c)) ** 2, (1 + np.sqrt(c)) ** 2

    def tail(x):  # ∫_x^b f, with the 1/x singularity at a = 0 (c = 1) integrable
        return integrate.quad(lambda t: np.sqrt(max((b - t) * (t - a), 0.0)) / (2 * np.pi * c * t), x, b,
                              epsabs=1e-13, epsrel=1e-12, limit=200)[0]

    out = []
    for i in range(r):
        q = ((i * k) // (2 * r) + 0.5) / k
        x = optimize.brentq(lambda x: tail(x) - q, max(a, 1e-300), b, xtol=1e-15, rtol=1e-13)
        out.append(np.sqrt(n * x))
    return np.array(out)

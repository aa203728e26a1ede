r"""Target spectra used by the paper's experiments (numpy; no torch).

The authors' generator (SPEC §5): draw a d×d standard Gaussian matrix, take its SVD and
keep the singular triplets at indices :math:`0, \lfloor d/(2r)\rfloor, \lfloor 2d/(2r)\rfloor,\dots`
(all below d/2), which leaves r well-separated singular values.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import checks

__all__ = ["Target", "authors_target"]


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

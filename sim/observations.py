r"""Observed entries of a large matrix, stored as index and value arrays — never as an n1×n2 array.

:class:`Observations` keeps the entries in CSR order (row-major: sorted by row, then column) with
``crow`` row pointers, and the same entries in CSC order (``ccol`` column pointers, ``rows_t``
their rows, ``perm`` their CSR positions), so that both :math:`RX` and :math:`R^\top Y` run as
row-parallel sparse × dense products (:mod:`sim.sparse_ops`). Indices are int32 (so
n1, n2 < 2³¹), pointers int64. Memory: 16 bytes an entry plus the values.

Bad input is refused with a ``ValueError`` naming what is wrong: out-of-range or non-integer
indices, duplicate (row, column) pairs, non-finite values, no entries. Rows or columns with no
entry are allowed and documented where they matter (a GD step leaves such a row of the outer
factor to its initial value, AltMin sets it to zero).

Sampling at scale (:func:`sample_entries`) draws exactly ``count`` distinct entries uniformly with
``Generator.choice(n1·n2, count, replace=False)`` — the very call the dense ``--sampling fixed``
mask makes with the same seed, so a sparse and a dense problem observe the same Ω.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

__all__ = ["Observations", "sample_entries", "seeded_split", "INDEX_LIMIT"]

INDEX_LIMIT = 2**31 - 1  # int32 indices


@dataclass(frozen=True, eq=False)
class Observations:
    shape: tuple[int, int]
    rows: np.ndarray   #: (nnz,) int32, CSR order
    cols: np.ndarray   #: (nnz,) int32, CSR order
    vals: np.ndarray   #: (nnz,) float64, CSR order
    _cache: dict = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_triples(cls, rows, cols, vals, shape, *, what: str = "observations") -> "Observations":
        """Validate and sort (row, col, value) triples into CSR order."""
        n1, n2 = (int(shape[0]), int(shape[1]))
        if min(n1, n2) < 1 or max(n1, n2) > INDEX_LIMIT:
            raise ValueError(f"{what}: shape must be two integers in [1, {INDEX_LIMIT}], got {shape!r}")
        rows, cols, vals = np.asarray(rows), np.asarray(cols), np.asarray(vals, dtype=float)
        if not (rows.ndim == cols.ndim == vals.ndim == 1 and rows.size == cols.size == vals.size):
            raise ValueError(f"{what}: rows, cols and values must be 1-D arrays of one length, got shapes "
                             f"{rows.shape}, {cols.shape}, {vals.shape}")
        if rows.size == 0:
            raise ValueError(f"{what}: no entries (an empty set of observations has nothing to fit)")
        for name, idx, n in (("row", rows, n1), ("column", cols, n2)):
            if idx.dtype.kind not in "iu" and not (idx.dtype.kind == "f" and np.all(idx == np.round(idx))):
                raise ValueError(f"{what}: {name} indices must be integers, got dtype {idx.dtype}")
            lo, hi = int(idx.min()), int(idx.max())
            if lo < 0 or hi >= n:
                bad = lo if lo < 0 else hi
                raise ValueError(f"{what}: {name} index {bad} is out of range [0, {n - 1}]")
        if not np.all(np.isfinite(vals)):
            k = int(np.flatnonzero(~np.isfinite(vals))[0])
            raise ValueError(f"{what}: value {float(vals[k])!r} at entry {k} (row {int(rows[k])}, column {int(cols[k])}) "
                             "is not finite")
        lin = rows.astype(np.int64) * n2 + cols.astype(np.int64)
        order = np.argsort(lin, kind="stable")
        lin = lin[order]
        dup = np.flatnonzero(lin[1:] == lin[:-1])
        if dup.size:
            i, j = divmod(int(lin[dup[0]]), n2)
            raise ValueError(f"{what}: entry (row {i}, column {j}) is given more than once "
                             f"({dup.size} duplicate pairs); aggregate duplicates before loading")
        return cls._from_sorted_linear(lin, vals[order], (n1, n2))

    @classmethod
    def _from_sorted_linear(cls, lin: np.ndarray, vals: np.ndarray, shape) -> "Observations":
        n1, n2 = shape
        r, c = np.divmod(lin, n2)
        return cls((n1, n2), r.astype(np.int32), c.astype(np.int32), np.ascontiguousarray(vals, dtype=float))

    def __post_init__(self):
        n1, n2 = self.shape
        crow = np.zeros(n1 + 1, np.int64)
        np.cumsum(np.bincount(self.rows, minlength=n1), out=crow[1:])
        counts_c = np.bincount(self.cols, minlength=n2)
        ccol = np.zeros(n2 + 1, np.int64)
        np.cumsum(counts_c, out=ccol[1:])
        perm = np.argsort(self.cols, kind="stable").astype(np.int32)  # CSR order is row-major: stable = by row
        object.__setattr__(self, "crow", crow)
        object.__setattr__(self, "ccol", ccol)
        object.__setattr__(self, "perm", perm)
        object.__setattr__(self, "rows_t", self.rows[perm])

    # ------------------------------------------------------------------ views
    @property
    def nnz(self) -> int:
        return int(self.rows.size)

    def row_counts(self) -> np.ndarray:
        return np.diff(self.crow)

    def col_counts(self) -> np.ndarray:
        return np.diff(self.ccol)

    def torch_index(self, name: str, device: torch.device) -> torch.Tensor:
        """An index array as an int64 tensor on ``device`` (made once per device and kept)."""
        key = (name, str(device))
        if key not in self._cache:
            self._cache[key] = torch.as_tensor(getattr(self, name).astype(np.int64), device=device)
        return self._cache[key]

    def values(self, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        key = ("vals", str(dtype), str(device))
        if key not in self._cache:
            self._cache[key] = torch.as_tensor(self.vals, dtype=dtype, device=device)
        return self._cache[key]

    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.rows, self.cols, self.vals, self.crow, self.ccol, self.perm, self.rows_t))

    def subset(self, keep: np.ndarray) -> "Observations":
        """The entries where the boolean mask ``keep`` (nnz,) is true (still in CSR order)."""
        lin = self.rows.astype(np.int64)[keep] * self.shape[1] + self.cols[keep]
        return Observations._from_sorted_linear(lin, self.vals[keep], self.shape)

    def to_dense(self) -> np.ndarray:
        """(values, mask) as dense float64 arrays: for tests and small problems only."""
        M = np.zeros(self.shape)
        mask = np.zeros(self.shape)
        M[self.rows, self.cols] = self.vals
        mask[self.rows, self.cols] = 1.0
        return M, mask


def sample_entries(shape, count: int, seed) -> np.ndarray:
    """Sorted linear indices (int64) of ``count`` distinct entries drawn uniformly, from the seed
    sequence ``seed`` — ``default_rng(seed).choice(n1·n2, count, replace=False)``, the dense fixed mask's
    draw. Memory O(count)."""
    n = int(shape[0]) * int(shape[1])
    if not 1 <= count <= n:
        raise ValueError(f"count must be in [1, n1·n2 = {n}], got {count}")
    lin = np.random.default_rng(seed).choice(n, size=count, replace=False)
    lin.sort()
    return lin


def seeded_split(obs: Observations, test_fraction: float, seed) -> tuple[Observations, Observations]:
    """(train, test): exactly round(test_fraction·nnz) entries, drawn uniformly from ``seed``, are held out."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    n_test = round(test_fraction * obs.nnz)
    if not 1 <= n_test < obs.nnz:
        raise ValueError(f"test_fraction {test_fraction} of {obs.nnz} entries leaves {n_test} for testing; "
                         "need at least one entry on each side")
    test = np.zeros(obs.nnz, bool)
    test[np.random.default_rng(seed).choice(obs.nnz, size=n_test, replace=False)] = True
    return obs.subset(~test), obs.subset(test)

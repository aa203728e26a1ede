"""Data that comes from files: a target matrix (.npy), MovieLens-100K (from the installed ``recbole``), and
any matrix of ratings given as triples (``.npz`` of row, col, value or a CSV/TSV), each checked before use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np

__all__ = ["DataError", "load_target_file", "movielens_path", "load_movielens", "load_ratings_file", "movielens_triples",
           "MOVIELENS_SHA256", "MOVIELENS_SHAPE", "MOVIELENS_RATINGS"]

MOVIELENS_SHA256 = "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"
MOVIELENS_SHAPE = (943, 1682)
MOVIELENS_RATINGS = 100_000


class DataError(ValueError):
    """A dataset is missing or not what it should be (the message says how to fix it)."""


def load_target_file(path, shape) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"target_file {str(p)!r} does not exist")
    try:
        M = np.load(p, allow_pickle=False)
    except ValueError as exc:
        raise DataError(f"target_file {str(p)!r} is not a plain .npy array (pickles are refused): {exc}") from None
    if M.ndim != 2 or tuple(M.shape) != tuple(shape) or not np.all(np.isfinite(M)):
        raise DataError(f"target_file must hold a finite {shape[0]}x{shape[1]} matrix, got shape {M.shape}")
    return M.astype(float)


# --------------------------------------------------------------------------- MovieLens-100K
def movielens_path() -> Path:
    """Path of ml-100k.inter inside the installed ``recbole`` package (not imported)."""
    spec = importlib.util.find_spec("recbole")
    hint = "install it with: pip install --no-deps recbole==1.2.1"
    if spec is None or spec.origin is None:
        raise DataError(f"MovieLens-100K comes from the 'recbole' package, which is not installed; {hint}")
    p = Path(spec.origin).parent / "dataset_example" / "ml-100k" / "ml-100k.inter"
    if not p.is_file():
        raise DataError(f"recbole is installed but {p} is missing; {hint}")
    return p


def load_movielens(path: str | os.PathLike | None = None) -> np.ndarray:
    """The 943×1682 rating matrix (0 = unrated), after checking size and SHA-256."""
    p = Path(path) if path is not None else movielens_path()
    data = p.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != MOVIELENS_SHA256:
        raise DataError(f"{p} has SHA-256 {digest[:16]}…, expected {MOVIELENS_SHA256[:16]}… (recbole==1.2.1)")
    rows = np.loadtxt(p, skiprows=1, usecols=(0, 1, 2))
    if rows.shape != (MOVIELENS_RATINGS, 3):
        raise DataError(f"{p} holds {rows.shape[0]} ratings, expected {MOVIELENS_RATINGS}")
    users, items = rows[:, 0].astype(int), rows[:, 1].astype(int)
    R = np.zeros(MOVIELENS_SHAPE)
    R[users - 1, items - 1] = rows[:, 2]
    if (R > 0).sum() != MOVIELENS_RATINGS:
        raise DataError(f"{p} has duplicate (user, item) pairs")
    return R


def _movielens_split(R: np.ndarray, seed: int, test_fraction: float = 0.2):
    """Seeded split of the ratings: (train mask, test mask), each with at least one rating.

    An item (or user) may have no rating in the training split: the runs handle such empty rows
    and columns explicitly (AltMin gives them exactly zero factor rows; under GD the
    loss gradient is exactly zero there)."""
    idx = np.flatnonzero(R)
    n_test = round(test_fraction * idx.size)
    if not 1 <= n_test < idx.size:
        raise ValueError(f"test_fraction = {test_fraction!r} of {idx.size} ratings gives {n_test} test ratings; "
                         f"it must leave between 1 and {idx.size - 1}")
    rng = np.random.default_rng([seed, 4])
    test = rng.choice(idx, size=n_test, replace=False)
    tr = np.zeros(R.size)
    tr[idx] = 1.0
    tr[test] = 0.0
    te = np.zeros(R.size)
    te[test] = 1.0
    return tr.reshape(R.shape), te.reshape(R.shape)


# --------------------------------------------------------------------------- any ratings file
_RATINGS_CACHE: dict = {}


def load_ratings_file(path: str | os.PathLike):
    """(rows, cols, values, shape) of a ratings file, read once per (path, size, mtime) and kept.

    * ``.npz`` with arrays ``row``, ``col``, ``value`` (and optionally ``shape``): with ``shape`` the
      indices are taken as 0-based positions in that shape; without it they are ids, re-indexed.
    * ``.csv``, ``.tsv`` or ``.txt``: one ``row, column, value`` triple a line (tab or comma separated,
      further columns ignored, a non-numeric first line is a header); the row and column ids (any
      integers, e.g. MovieLens's 1-based ones) are re-indexed to 0..n-1 in increasing order.

    Pickled arrays are refused; duplicates, out-of-range indices, non-finite values and an empty file
    are refused by :meth:`sim.observations.Observations.from_triples` with the offending entry."""
    p = Path(path)
    if not p.is_file():
        raise DataError(f"ratings_file {str(p)!r} does not exist (or is not a file)")
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _RATINGS_CACHE:
        _RATINGS_CACHE.clear()  # one file at a time: a large one is hundreds of MB
        _RATINGS_CACHE[key] = _read_ratings(p)
    return _RATINGS_CACHE[key]


def _reindex(ids: np.ndarray, what: str) -> tuple[np.ndarray, int]:
    if ids.dtype.kind == "f":
        if not np.all(np.isfinite(ids)) or not np.all(ids == np.round(ids)):
            raise DataError(f"ratings_file: {what} ids must be integers")
        ids = ids.astype(np.int64)
    uniq, inv = np.unique(ids, return_inverse=True)
    return inv.astype(np.int64), int(uniq.size)


def _read_ratings(p: Path):
    if p.suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as z:
                missing = [k for k in ("row", "col", "value") if k not in z.files]
                if missing:
                    raise DataError(f"ratings_file {str(p)!r} lacks array(s) {', '.join(missing)}; it must hold "
                                    "row, col, value (and optionally shape)")
                rows, cols, vals = z["row"], z["col"], z["value"].astype(float)
                shape = tuple(int(x) for x in z["shape"]) if "shape" in z.files else None
        except ValueError as exc:
            raise DataError(f"ratings_file {str(p)!r} is not a plain .npz of arrays (pickles are refused): {exc}") from None
        if shape is not None:
            if len(shape) != 2:
                raise DataError(f"ratings_file {str(p)!r}: shape must have 2 entries, got {shape}")
            return rows, cols, vals, shape
    elif p.suffix in (".csv", ".tsv", ".txt", ".inter", ".data"):
        with open(p) as fh:
            first = fh.readline()
        delim = "\t" if ("\t" in first or p.suffix == ".tsv") else ","
        fields = first.strip().split(delim)
        try:
            [float(x) for x in fields[:3]]
            skip = 0
        except ValueError:
            skip = 1  # a header line
        try:
            a = np.loadtxt(p, delimiter=delim, skiprows=skip, usecols=(0, 1, 2), ndmin=2)
        except ValueError as exc:
            raise DataError(f"ratings_file {str(p)!r} is not a table of row, column, value triples: {exc}") from None
        rows, cols, vals = a[:, 0], a[:, 1], a[:, 2]
    else:
        raise DataError(f"ratings_file {str(p)!r}: unknown format {p.suffix!r}; use .npz (row, col, value) or "
                        ".csv/.tsv triples")
    if rows.size == 0:
        raise DataError(f"ratings_file {str(p)!r} holds no ratings")
    rows, n1 = _reindex(np.asarray(rows), "row")
    cols, n2 = _reindex(np.asarray(cols), "column")
    return rows, cols, np.asarray(vals, dtype=float), (n1, n2)


def movielens_triples():
    """MovieLens-100K as (rows, cols, values) 0-based triples of the 943×1682 matrix (checksum checked)."""
    R = load_movielens()
    rows, cols = np.nonzero(R)
    return rows, cols, R[rows, cols]

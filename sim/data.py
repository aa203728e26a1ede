"""Data that comes from files: a target matrix (.npy), MovieLens-100K (from the installed ``recbole``), and
any matrix of ratings given as triples (``.npz`` of row, col, value or a CSV/TSV), each checked before use.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import numpy as np

__all__ = ["DataError", "load_target_file", "movielens_path", "load_movielens", "load_ratings_file",
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

"""Sparse problems from a config: synthetic completion at any size, MovieLens-100K and any ratings file.

Synthetic (``--problem completion --storage sparse``): the target is given by its factors
U·diag(σ)·Vᵀ (never as a matrix), drawn exactly as for dense storage (:func:`sim.build._target`;
``authors-asymptotic`` and ``spectrum`` targets cost O((n1 + n2) r²)); the observed entries are

* ``--sampling fixed``: exactly round(p·n1·n2) distinct entries, ``Generator.choice`` from the seed
  sequence [seed, 2] — the same call, hence the same Ω, as the dense fixed mask;
* ``--sampling bernoulli``: a Binomial(n1·n2, p) count, then that many distinct entries from the same
  generator: the same distribution as the dense Bernoulli mask (each entry independently with
  probability p), not the same draw;

and their values are M*'s entries, computed from the factors in float64 (the sampled product).

MovieLens-100K: the same seeded 80/20 split as the dense path (:func:`sim.data._movielens_split`'s
draw). A ratings file: :func:`sim.data.load_ratings_file`, split by :func:`sim.observations.seeded_split`.
"""

from __future__ import annotations

import types

import numpy as np
import torch

from . import sparse_ops
from .build import _target
from .data import load_ratings_file, movielens_triples
from .observations import Observations, sample_entries, seeded_split
from .sparse_completion import SparseCompletion

__all__ = ["make_sparse_problem", "sampled_entries_of_factors", "observe_lowrank"]


def sampled_entries_of_factors(rows_lin: np.ndarray, shape, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Entries :math:`(XY^⊤)_{ij}` at sorted linear indices, float64, without forming X Yᵀ."""
    n1, n2 = shape
    rows = (rows_lin // n2).astype(np.int32)
    cols = (rows_lin % n2).astype(np.int32)
    crow = np.zeros(n1 + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n1), out=crow[1:])
    obs = types.SimpleNamespace(crow=crow, cols=cols)
    out = sparse_ops.sddmm(obs, torch.from_numpy(np.ascontiguousarray(X, float)),
                           torch.from_numpy(np.ascontiguousarray(Y, float)), torch.zeros(rows.size, dtype=torch.float64),
                           backend="numba")
    return out.numpy()


def observe_lowrank(cfg, seed: int):
    """(Observations of M* on Ω, U, σ, V) for one seed of a synthetic sparse completion config."""
    n1, n2 = cfg.shape
    U, S, V = _target(cfg, seed)
    n = n1 * n2
    if cfg.sampling == "fixed":
        count = max(1, round(cfg.observed * n))
        lin = sample_entries((n1, n2), count, [seed, 2])
    else:
        rng = np.random.default_rng([seed, 2])
        count = int(rng.binomial(n, cfg.observed))
        if count == 0:
            raise ValueError(f"observed = {cfg.observed!r} drew 0 observed entries of the {n1}x{n2} target for "
                             f"seed {seed} (Bernoulli sampling); raise observed or d (|Ω| must be >= 1)")
        lin = np.sort(rng.choice(n, size=count, replace=False))
    vals = sampled_entries_of_factors(lin, (n1, n2), U * S, V)
    return Observations._from_sorted_linear(lin, vals, (n1, n2)), U, S, V


def _movielens_obs(seed: int):
    rows, cols, vals = movielens_triples()
    obs = Observations.from_triples(rows, cols, vals, (943, 1682), what="MovieLens-100K")
    lin = obs.rows.astype(np.int64) * 1682 + obs.cols
    n_test = round(0.2 * obs.nnz)
    rng = np.random.default_rng([seed, 4])                  # the dense split's draw, on the same sorted indices
    test = np.isin(lin, rng.choice(lin, size=n_test, replace=False))
    return obs.subset(~test), obs.subset(test)


def make_sparse_problem(cfg, seeds: list[int], device: torch.device) -> SparseCompletion:
    dt = cfg.torch_dtype
    to = lambda a: torch.as_tensor(np.stack(a), dtype=dt, device=device)  # noqa: E731
    if cfg.problem == "movielens":
        train, test = zip(*(_movielens_obs(s) for s in seeds))
        return SparseCompletion(list(train), cfg.loss, dtype=dt, device=device, seeds=seeds, test=list(test))
    if cfg.problem == "ratings":
        rows, cols, vals, shape = load_ratings_file(cfg.ratings_file)
        full = Observations.from_triples(rows, cols, vals, shape, what=f"ratings_file {cfg.ratings_file!r}")
        train, test = zip(*(seeded_split(full, cfg.test_fraction, [s, 4]) for s in seeds))
        return SparseCompletion(list(train), cfg.loss, dtype=dt, device=device, seeds=seeds, test=list(test))
    obs, Us, Ss, Vs = zip(*(observe_lowrank(cfg, s) for s in seeds))
    return SparseCompletion(list(obs), cfg.loss, dtype=dt, device=device, seeds=seeds, U=to(Us), sigma=to(Ss),
                            V=to(Vs))

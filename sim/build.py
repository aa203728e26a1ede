"""One place that builds a config's problem: targets, masks, measurement operators, from explicit seeds.

Every instance of a batch is drawn from its own seed exactly as a single run would draw it, in
float64 on the CPU, then cast and moved; each random stream has its own seed sequence
``[seed, k]`` (1: target vectors, 2: observed entries, 3: sensing operator, 4: MovieLens split).
"""

from __future__ import annotations

import math

import numpy as np
import torch

import theory

from .data import DataError, _movielens_split, load_movielens, load_ratings_file, load_target_file
from .linalg import orthonormal_columns
from .config import DENSE_ARRAYS, SPARSE_PROBLEMS
from .problems import Completion, Factorization, MovieLens, Sensing

__all__ = ["make_problem", "available_bytes", "check_sensing_memory", "check_memory"]


def _target(cfg, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n1, n2 = cfg.shape
    if cfg.target == "authors":
        t = theory.authors_target((n1, n2), cfg.rank, seed)
        return t.U, t.sigma, t.V
    if cfg.target in ("spectrum", "authors-asymptotic"):  # Haar singular vectors: O((n1 + n2) r²) at any size
        sig = (np.sort(np.asarray(cfg.spectrum, dtype=float))[::-1] if cfg.target == "spectrum"
               else theory.authors_spectrum_asymptotic((n1, n2), cfg.rank))
        rng = np.random.default_rng([seed, 1])
        U = _haar(rng, n1, sig.size)
        V = _haar(rng, n2, sig.size)
        return U, sig, V
    M = load_target_file(cfg.target_file, (n1, n2))
    U, S, Vt = np.linalg.svd(M, full_matrices=False)
    r = cfg.rank
    # the tracked pairs must be defined by the matrix, not by the LAPACK: σ_r nonzero and apart from
    # σ_{r+1}, beyond the SVD's backward error max(n1, n2)·eps·σ_1
    tol = max(n1, n2) * np.finfo(float).eps * S[0]
    nxt = S[r] if r < S.size else 0.0
    if not (S[r - 1] > tol and S[r - 1] - nxt > tol):
        raise DataError(f"rank = {r} does not fit target_file {str(cfg.target_file)!r}: its singular values "
                        f"σ_{r} = {S[r - 1]:.6g} and σ_{r + 1} = {nxt:.6g} are not separated (by more than "
                        f"{tol:.3g}), so its top-{r} singular vectors are not defined; choose another --rank")
    return U[:, :r], S[:r], Vt[:r].T


def _haar(rng, n, k):
    return orthonormal_columns(rng.standard_normal((n, k)))


def _mask(cfg, seed: int, shape) -> np.ndarray:
    rng = np.random.default_rng([seed, 2])
    n = shape[0] * shape[1]
    if cfg.sampling == "bernoulli":
        m = rng.random(shape) < cfg.observed
    else:  # the authors' fixed count: exactly round(p n1 n2) entries, uniformly
        m = np.zeros(n, dtype=bool)
        m[rng.choice(n, size=max(1, round(cfg.observed * n)), replace=False)] = True
        m = m.reshape(shape)
    if not m.any():  # Bernoulli can draw no entry at all; N = |Ω| = 0 has no meaning
        raise ValueError(f"observed = {cfg.observed!r} drew 0 observed entries of the {shape[0]}x{shape[1]} target "
                         f"for seed {seed} (Bernoulli sampling); raise observed or d (|Ω| must be >= 1)")
    return m.astype(float)


def available_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - non-Linux
        pass
    return 1 << 62  # pragma: no cover


def check_sensing_memory(cfg, batch: int, device: torch.device) -> None:
    n1, n2 = cfg.shape
    item = torch.empty((), dtype=cfg.torch_dtype).element_size()
    need = batch * cfg.measurements * n1 * n2 * item
    have = available_bytes(device)
    if need > 0.8 * have:
        raise MemoryError(
            f"the sensing operator needs {need / 2**30:.2f} GiB ({batch} x {cfg.measurements} x {n1 * n2} "
            f"{cfg.dtype}) but only {have / 2**30:.2f} GiB is free on {device}; lower --measurements, --seeds or d"
        )


def check_memory(cfg, batch: int, device: torch.device) -> None:
    """MemoryError, before anything is allocated, when the run's tensors would not fit: the dense problem's
    n1×n2 arrays, the wide DLN's layers, or the sparse observations, against 80% of what is free."""
    n1, n2 = cfg.shape
    item = torch.empty((), dtype=cfg.torch_dtype).element_size()
    parts = {}
    if cfg.storage == "dense":
        parts["dense n1 x n2 tensors"] = DENSE_ARRAYS * batch * n1 * n2 * item
    else:
        nnz = n1 * n2 * cfg.observed if cfg.problem == "completion" else 0
        parts["observations"] = batch * nnz * (16 + 2 * item)
        if cfg.problem == "completion" and cfg.target == "authors":
            parts["the authors' dense Gaussian draw and its SVD"] = 3 * n1 * n2 * 8
    if cfg.model == "wide":
        from .models import widths_of

        ws = widths_of(cfg)
        # weights, gradients, prefix products and backward temporaries of every layer
        parts["wide DLN layers"] = 4 * batch * item * sum(a * b for a, b in zip(ws[:-1], ws[1:]))
    need, have = sum(parts.values()), available_bytes(device)
    if need > 0.8 * have:
        what = ", ".join(f"{k} {v / 2**30:.2f} GiB" for k, v in parts.items() if v)
        hint = ("--storage sparse" if cfg.storage == "dense" and cfg.problem in SPARSE_PROBLEMS else "a smaller d")
        if cfg.model == "wide":
            hint = "--model compressed (width r̂) or " + hint
        raise MemoryError(f"this run needs {need / 2**30:.2f} GiB ({what}) but only {have / 2**30:.2f} GiB is free on "
                          f"{device}; use {hint}")


def make_problem(cfg, seeds: list[int], device: torch.device):
    """Build the batch of problem instances named by ``cfg`` (a :class:`sim.RunConfig`)."""
    check_memory(cfg, len(seeds), device)
    if cfg.storage == "sparse":
        from .sparse_build import make_sparse_problem

        return make_sparse_problem(cfg, seeds, device)
    dt = cfg.torch_dtype
    to = lambda a: torch.as_tensor(np.stack(a), dtype=dt, device=device)  # noqa: E731
    if cfg.problem == "movielens":
        R = load_movielens()
        trains, tests = zip(*(_movielens_split(R, s) for s in seeds))
        target = to([R] * len(seeds))
        mask, test = to(trains), to(tests)
        return MovieLens(target, cfg.loss, mask=mask, test_mask=test, surrogate=target * mask)
    if cfg.problem == "ratings":  # the sparse path's split, densified: the two storages see the same entries
        from .observations import Observations, seeded_split

        rows, cols, vals, shape = load_ratings_file(cfg.ratings_file)
        full = Observations.from_triples(rows, cols, vals, shape, what=f"ratings_file {cfg.ratings_file!r}")
        R = np.zeros(shape)
        R[full.rows, full.cols] = full.vals
        masks = []
        for s in seeds:
            parts = seeded_split(full, cfg.test_fraction, [s, 4])
            masks.append([np.zeros(shape) for _ in parts])
            for m, o in zip(masks[-1], parts):
                m[o.rows, o.cols] = 1.0
        target = to([R] * len(seeds))
        mask, test = to([m[0] for m in masks]), to([m[1] for m in masks])
        return MovieLens(target, cfg.loss, mask=mask, test_mask=test, surrogate=target * mask)
    Us, Ss, Vs = zip(*(_target(cfg, s) for s in seeds))
    # a file target is that file's matrix (its top-r singular pairs are only tracked); the others are rank r
    Ms = ([load_target_file(cfg.target_file, cfg.shape)] * len(seeds) if cfg.target == "file"
          else [(U * S) @ V.T for U, S, V in zip(Us, Ss, Vs)])
    target, U, S, V = to(Ms), to(Us), to(Ss), to(Vs)
    if cfg.problem == "factorization":
        return Factorization(target, cfg.loss, U, S, V, surrogate=target)
    if cfg.problem == "completion":
        mask = to([_mask(cfg, s, cfg.shape) for s in seeds])
        return Completion(target, cfg.loss, U, S, V, mask=mask, surrogate=target * mask,
                          varying_n=cfg.loss == "mean" and cfg.sampling == "bernoulli")
    check_sensing_memory(cfg, len(seeds), device)
    n = cfg.shape[0] * cfg.shape[1]
    std = 1.0 / math.sqrt(cfg.measurements) if cfg.sensing_norm == "isometric" else 1.0 / cfg.measurements
    A = torch.empty((len(seeds), cfg.measurements, n), dtype=dt, device=device)
    for k, s in enumerate(seeds):  # drawn in float64 on the CPU from the seed, then cast/moved
        g = torch.Generator().manual_seed(int(np.random.SeedSequence([s, 3]).generate_state(1)[0]))
        A[k] = (std * torch.randn((cfg.measurements, n), generator=g, dtype=torch.float64)).to(dt)
    y = torch.stack([torch.mv(Ak, Mk.reshape(-1)) for Ak, Mk in zip(A, target)])
    surr = torch.stack([torch.mv(Ak.T, yk) for Ak, yk in zip(A, y)]).reshape(target.shape) / cfg.measurements
    return Sensing(target, cfg.loss, U, S, V, A=A, y=y, surrogate=surr)



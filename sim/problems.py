r"""Recovery problems (Section 2.1): targets, measurement operators, losses and surrogates.

A :class:`Problem` holds a batch of B independent instances (one per seed), each built from its
own seed exactly as a single run would build it, in float64 on the CPU and then cast/moved.
Its :meth:`Problem.loss_and_grad` returns the loss and :math:`\nabla_{W_{L:1}}\ell` for an
end-to-end batch ``W`` of shape (B, n1, n2), for the sum-normalised loss (Eq. 1)

* factorization (Eq. 5): :math:`\tfrac12\|W-M^*\|_F^2`
* completion (Eq. 6):    :math:`\tfrac12\|P_\Omega(W-M^*)\|_F^2`
* sensing:               :math:`\tfrac12\|\mathcal A(W)-y\|^2`, :math:`\mathcal A(W)_i=\langle A_i,W\rangle`

or, with ``loss="mean"``, the same divided by N (n1·n2, |Ω| or m; :func:`theory.normaliser`).

Degenerate inputs are refused when a :class:`Problem` is built, before any work: a target with
no nonzero entry (every relative error divides by ‖M*‖), a mask with an entry other than 0 or 1,
and an instance whose mask (or MovieLens test mask) observes no entry (N = |Ω| = 0 in the mean
loss, p = 0 in AltMin's spectral init, an RMSE over no rating). A relative error over a set of
entries on which the target is zero — e.g. the unobserved entries when every entry is observed
(p = 1) — is NaN by definition, computed explicitly (:meth:`Problem.errors`), not 0/0.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import theory

__all__ = ["Problem", "make_problem", "movielens_path", "MOVIELENS_SHA256", "load_movielens", "DataError",
           "orthonormal_columns"]

MOVIELENS_SHA256 = "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff"
MOVIELENS_SHAPE = (943, 1682)
MOVIELENS_RATINGS = 100_000


class DataError(ValueError):
    """A dataset is missing or not what it should be (the message says how to fix it)."""


@dataclass
class Problem:
    kind: str                         #: factorization | sensing | completion | movielens
    target: torch.Tensor              #: (B, n1, n2) M* (movielens: the rating matrix, 0 where unrated)
    loss: str                         #: "sum" or "mean"
    U: torch.Tensor | None            #: (B, n1, r) target's left singular vectors (None: movielens)
    sigma: torch.Tensor | None        #: (B, r)
    V: torch.Tensor | None            #: (B, n2, r)
    mask: torch.Tensor | None = None  #: (B, n1, n2) observed entries (completion, movielens train)
    test_mask: torch.Tensor | None = None  #: (B, n1, n2) held-out ratings (movielens)
    A: torch.Tensor | None = None     #: (B, m, n1*n2) sensing operator
    y: torch.Tensor | None = None     #: (B, m) measurements
    surrogate: torch.Tensor | None = None  #: (B, n1, n2) Eq. (8), up to a positive scale
    varying_n: bool = False           #: N differs between instances by construction (Bernoulli Ω, mean loss)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.target.shape[-2:])

    @property
    def batch(self) -> int:
        return self.target.shape[0]

    @property
    def normaliser(self) -> torch.Tensor:
        """(B,) N of the mean normalisation (1 for sum)."""
        n1, n2 = self.shape
        if self.loss == "sum":
            return torch.ones(self.batch, dtype=self.target.dtype, device=self.target.device)
        if self.kind == "factorization":
            return torch.full((self.batch,), float(n1 * n2), dtype=self.target.dtype, device=self.target.device)
        if self.kind == "sensing":
            return torch.full((self.batch,), float(self.A.shape[1]), dtype=self.target.dtype, device=self.target.device)
        return self.mask.sum(dim=(1, 2))

    def loss_and_grad(self, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) losses and (B, n1, n2) gradients with respect to the end-to-end matrix W."""
        loss, g, scale = self.residual(W)
        if scale is None:
            return loss, g
        return loss, g * scale

    def residual(self, left: torch.Tensor, right: torch.Tensor | None = None):
        r"""The engine's fused form. With ``W = left @ right`` (or ``W = left``), returns
        ``(loss, g, scale)`` where ``loss`` (B,) is normalised, ``g`` is the *sum-loss* gradient
        :math:`\nabla_W\tfrac12\|\cdot\|^2` and ``scale`` the per-instance 1/N still to apply
        (``None`` when it is the same for every instance: then it is ``self.uniform_scale``,
        which the engine folds into η). For factorization/completion the residual is formed
        in one pass, ``baddbmm(-M*, left, right)``, and the loss reads it once."""
        if self.kind == "sensing":
            W = left if right is None else torch.bmm(left, right)
            # one matrix-vector product per instance: batched bmm picks batch-size-dependent
            # kernels for vectors, and these products are memory-bound anyway
            w = W.reshape(W.shape[0], -1)
            r = torch.stack([torch.mv(A, x) for A, x in zip(self.A, w)]) - self.y
            g = torch.stack([torch.mv(A.T, x) for A, x in zip(self.A, r)]).reshape(W.shape)
            loss = 0.5 * torch.linalg.vector_norm(r, dim=1) ** 2
        else:
            g = (left - self.target) if right is None else torch.baddbmm(self.target, left, right, beta=-1)
            if self.mask is not None:
                g.mul_(self.mask)
            loss = 0.5 * torch.linalg.vector_norm(g, dim=(1, 2)) ** 2
        if self.uniform_scale is not None:
            return loss * self.uniform_scale, g, None
        return loss * self._inv_n, g, self._inv_n[:, None, None]

    def __post_init__(self):
        self._check_not_degenerate()
        # Decided by construction, not by comparing values, so that a batch and its single
        # runs take the same arithmetic path (bitwise-equal results).
        self._inv_n = 1.0 / self.normaliser
        self.uniform_scale = None if self.varying_n else float(self._inv_n[0])
        self.target_sq = torch.linalg.matrix_norm(self.target) ** 2  # (B,) ‖M*‖², for the factored step

    def _check_not_degenerate(self) -> None:
        """ValueError for a zero target, a non-0/1 mask or an empty one (module docstring)."""
        B = self.batch
        nonzero = torch.count_nonzero(self.target.reshape(B, -1), dim=1)
        if bool((nonzero == 0).any()):
            k = int(torch.nonzero(nonzero == 0)[0, 0])
            raise ValueError(f"target of instance {k} is the zero matrix (0 nonzero entries); relative errors "
                             "‖W − M*‖/‖M*‖ need a target with at least 1 nonzero entry")
        n = self.shape[0] * self.shape[1]
        for name, m in (("mask", self.mask), ("test_mask", self.test_mask)):
            if m is None:
                continue
            bad = (m != 0) & (m != 1)
            if bool(bad.any()):
                raise ValueError(f"{name} entries must be 0 or 1, got {float(m[bad][0])!r}")
            counts = torch.count_nonzero(m.reshape(B, -1), dim=1)
            if bool((counts == 0).any()):
                k = int(torch.nonzero(counts == 0)[0, 0])
                raise ValueError(f"{name} of instance {k} observes 0 entries; it must observe between 1 and {n}")

    @staticmethod
    def _relative(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        """sqrt(num/den) where den > 0, NaN where den == 0 (no reference mass: undefined), never 0/0."""
        ok = den > 0
        return torch.where(ok, torch.sqrt(num / torch.where(ok, den, torch.ones_like(den))),
                           torch.full_like(den, float("nan")))

    def errors(self, W: torch.Tensor) -> dict[str, torch.Tensor]:
        """Recovery metrics per instance: relative Frobenius error on all entries, and on the
        unobserved ones (completion) or the held-out ratings (movielens: also RMSE).

        ``unobserved_error`` (and ``test_error``) is NaN for an instance whose target is zero on
        every entry of that set — in particular when every entry is observed (p = 1): a relative
        error over no reference mass is undefined. ``recovery_error`` and ``test_rmse`` divide by
        ‖M*‖ > 0 and |test| >= 1, both checked when the problem is built."""
        D = W - self.target
        out = {}
        if self.kind == "movielens":
            T = self.test_mask
            num = (D * T).pow(2).sum(dim=(1, 2))
            out["test_error"] = self._relative(num, (self.target * T).pow(2).sum(dim=(1, 2)))
            out["test_rmse"] = torch.sqrt(num / T.sum(dim=(1, 2)))
            out["recovery_error"] = out["test_error"]
            return out
        out["recovery_error"] = torch.linalg.matrix_norm(D) / torch.linalg.matrix_norm(self.target)
        if self.mask is not None:
            un = 1.0 - self.mask
            out["unobserved_error"] = self._relative((D * un).pow(2).sum(dim=(1, 2)),
                                                     (self.target * un).pow(2).sum(dim=(1, 2)))
        return out

    def sigma_max(self) -> float:
        """Largest target singular value over the batch (for theory's stable step size).

        MovieLens has no known target: the net fits a full matrix that agrees with the ratings on
        Ω. Most entries of the zero-filled P_Ω(R) are zeros, so its top singular value is far below
        that of a full matrix of ratings (which is dominated by the mean rating times the all-ones
        matrix, σ_max ≈ mean·√(n₁n₂)). σ_max is therefore estimated as the full matrix's Frobenius
        norm extrapolated from Ω, ‖P_Ω(R)‖_F·√(n₁n₂/|Ω|): an upper bound on σ_max of any matrix
        whose entries have Ω's mean square, and close to it for a matrix dominated by its mean.
        The zero-filled σ_max would make theory's stable step size too large (GD diverges at
        step sizes it calls stable: tests/test_sim_io.py checks the message against such a run).
        |Ω| >= 1 is checked when the problem is built."""
        if self.sigma is not None:
            return float(self.sigma.max())
        if self.kind == "movielens":
            n_obs = self.mask.sum(dim=(1, 2))
            n = self.shape[0] * self.shape[1]
            return float((torch.linalg.matrix_norm(self.target * self.mask) * torch.sqrt(n / n_obs)).max())
        return float(torch.linalg.matrix_norm(self.target, ord=2).max())


# --------------------------------------------------------------------------- construction
def _target(cfg, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n1, n2 = cfg.shape
    if cfg.target == "authors":
        t = theory.authors_target((n1, n2), cfg.rank, seed)
        return t.U, t.sigma, t.V
    if cfg.target == "spectrum":
        sig = np.sort(np.asarray(cfg.spectrum, dtype=float))[::-1]
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


def orthonormal_columns(A: np.ndarray) -> np.ndarray:
    r"""The Q of A = QR (A of shape (n, k), k <= n) with R's diagonal made positive: unique for a
    full-rank A, so it does not depend on a LAPACK's Householder sign convention.

    A rank-deficient A has a zero :math:`R_{ii}` (R triangular), for which any column of Q would
    do: raises ValueError when :math:`\min_i|R_{ii}|\le\max(n,k)\,\epsilon_\text{mach}\max_i|R_{ii}|`
    (QR's backward error is a small multiple of that), instead of taking the LAPACK's choice.
    The sign is taken as +1 where :math:`R_{ii}\ge0` (``np.sign`` would give 0 for a zero one)."""
    A = np.asarray(A, dtype=float)
    n, k = A.shape
    if not 1 <= k <= n:
        raise ValueError(f"A must have 1 <= columns <= rows, got shape {A.shape}")
    Q, R = np.linalg.qr(A)
    d = np.abs(np.diag(R))
    if not d.min() > max(n, k) * np.finfo(float).eps * d.max():
        raise ValueError(f"A must have full column rank {k} for a unique orthonormal basis; "
                         f"min |R_ii| / max |R_ii| = {d.min() / d.max() if d.max() > 0 else 0.0:.3g}")
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def _haar(rng, n, k):
    return orthonormal_columns(rng.standard_normal((n, k)))


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


def make_problem(cfg, seeds: list[int], device: torch.device) -> Problem:
    """Build the batch of problem instances named by ``cfg`` (a :class:`sim.RunConfig`)."""
    dt = cfg.torch_dtype
    to = lambda a: torch.as_tensor(np.stack(a), dtype=dt, device=device)  # noqa: E731
    if cfg.problem == "movielens":
        R = load_movielens()
        trains, tests = zip(*(_movielens_split(R, s) for s in seeds))
        target = to([R] * len(seeds))
        mask, test = to(trains), to(tests)
        return Problem("movielens", target, cfg.loss, None, None, None, mask=mask, test_mask=test,
                       surrogate=target * mask)
    Us, Ss, Vs = zip(*(_target(cfg, s) for s in seeds))
    # a file target is that file's matrix (its top-r singular pairs are only tracked); the others are rank r
    Ms = ([load_target_file(cfg.target_file, cfg.shape)] * len(seeds) if cfg.target == "file"
          else [(U * S) @ V.T for U, S, V in zip(Us, Ss, Vs)])
    target, U, S, V = to(Ms), to(Us), to(Ss), to(Vs)
    if cfg.problem == "factorization":
        return Problem("factorization", target, cfg.loss, U, S, V, surrogate=target)
    if cfg.problem == "completion":
        mask = to([_mask(cfg, s, cfg.shape) for s in seeds])
        return Problem("completion", target, cfg.loss, U, S, V, mask=mask, surrogate=target * mask,
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
    return Problem("sensing", target, cfg.loss, U, S, V, A=A, y=y, surrogate=surr)


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

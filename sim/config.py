"""RunConfig: every choice of a run, with units and defaults in one place, validated up front.

`cdln run` flags map one-to-one onto these fields (``--rank-hat`` → ``rank_hat``); a JSON
config file uses the same keys. Unknown keys and invalid values raise ``ValueError`` naming
the key, the value and the valid range, before any work starts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from theory.checks import option, validate_choices

PROBLEMS = ("factorization", "sensing", "completion", "movielens", "ratings")
MODELS = ("wide", "compressed", "altmin")
WIDE_INITS = ("orthogonal", "orthogonal-eq3", "gaussian", "uniform")
COMPRESSED_INITS = ("spectral", "oracle")
LOSSES = ("sum", "mean")
TARGETS = ("authors", "authors-asymptotic", "spectrum", "file")
STORAGES = ("auto", "dense", "sparse")
SPARSE_PROBLEMS = ("completion", "movielens", "ratings")
# --storage auto stores a completion problem sparsely when its dense tensors (target, mask, surrogate,
# residual, end-to-end matrix, SVD workspace: DENSE_ARRAYS of n1·n2 values each per seed) would exceed
# this many bytes: a fixed rule, so that the choice (part of a run's identity) is the same on every machine
DENSE_AUTO_LIMIT = 4 * 2**30
DENSE_ARRAYS = 8
SENSING_NORMS = ("isometric", "authors")
SAMPLINGS = ("bernoulli", "fixed")
MODES = ("gd", "flow")
DTYPES = ("float64", "float32")
KERNELS = ("torch", "numpy")  # what runs the fused GD chunks: torch's ATen products (the reference) or NumPy's BLAS
DEFAULT_D = 100  # the paper's d
MOVIELENS_SHAPE = (943, 1682)
KEY_VERSION = 2  # bumped when the identity's rules change: old runs/<key>/ folders are then not reused

__all__ = ["RunConfig", "PROBLEMS", "MODELS", "target_file_shape"]


@dataclass(frozen=True)
class RunConfig:
    """One run: every field is a ``cdln run`` flag (``rank_hat`` → ``--rank-hat``) with its help line,
    unit and choices in its metadata (:func:`theory.checks.option`); the flags, the validation of
    the choices and ``docs/cli.md`` are generated from them.

    ``None`` means "not given": ``target`` is then chosen by what is given (``target_file`` →
    ``file``, ``spectrum`` → ``spectrum``, else ``authors``) and ``d``/``d2`` come from the target
    file's shape (else 100 and ``d``). After construction they hold the resolved values."""

    problem: str = option("factorization", "recovery problem: factorization (Eq. 5), sensing, completion (Eq. 6), "
                          "movielens (MovieLens-100K ratings), or ratings (any --ratings-file)", choices=PROBLEMS)
    model: str = option("compressed", "network: the wide DLN, the compressed DLN (Algorithm 1), or the AltMin "
                        "baseline", choices=MODELS)
    d: int | None = option(None, "n1, rows of the target (default: the target file's, else 100; paper: 100; "
                           "movielens: fixed 943)")
    d2: int | None = option(None, "n2, columns of the target (default: the target file's, else d; movielens: "
                            "fixed 1682)")
    rank: int = option(10, "r, target rank (paper: 10); set by --spectrum; for a file target, how many of its "
                       "singular pairs are tracked")
    rank_hat: int = option(20, "r̂, the compressed DLN's width and AltMin's rank (paper: 2r)")
    depth: int = option(3, "L, number of layers (paper: 3; AltMin ignores it)")
    width: int | None = option(None, "the wide DLN's hidden width (default: max(n1, n2))")
    widths: tuple[int, ...] = option((), "the wide DLN's L-1 hidden widths d_1..d_{L-1}, comma-separated "
                                     "(overrides --width)")
    eps: float = option(1e-3, "ε, initialisation scale: each layer's singular values are ε (paper: 1e-3)")
    eta: float = option(10.0, "η, step size in the normalisation named by --loss (paper: 10 with --loss mean)",
                        unit="per --loss")
    loss: str = option("mean", "loss normalisation: sum ½‖·‖², or mean ½‖·‖²/N with N = n1·n2, |Ω| or m "
                       "(the authors' code)", choices=LOSSES)
    alpha: float = option(1.0, "α, step multiplier of the compressed DLN's outer layers (paper: 5)")
    init: str | None = option(None, "wide: orthogonal (ε per layer), orthogonal-eq3 (√ε, Eq. 3 literally), "
                              "gaussian or uniform (Frobenius-matched); compressed: spectral (Eq. 8 surrogate) "
                              "or oracle (the target); default orthogonal / spectral",
                              choices=WIDE_INITS + COMPRESSED_INITS)
    target: str | None = option(None, "target: authors (their Gaussian generator), authors-asymptotic (its "
                                "large-d limit, no dense draw), spectrum (--spectrum), file (--target-file); "
                                "default: whichever of those is given, else authors (authors-asymptotic when "
                                "stored sparsely)", choices=TARGETS)
    spectrum: tuple[float, ...] = option((), "target singular values, comma-separated (selects --target "
                                         "spectrum; sets --rank)")
    target_file: str | None = option(None, ".npy matrix to recover (selects --target file; its shape sets d "
                                     "and d2; loaded without pickle)")
    measurements: int = option(2000, "m, number of sensing measurements (sensing; paper: 2000)")
    sensing_norm: str = option("isometric", "sensing matrices' entries: N(0, 1/m) (isometric) or std 1/m "
                               "(authors)", choices=SENSING_NORMS)
    observed: float = option(0.3, "p, fraction of entries observed, in (0, 1] (completion; paper: 0.3)")
    sampling: str = option("bernoulli", "completion mask: bernoulli (each entry with probability p) or fixed "
                           "(exactly round(p·n1·n2) entries)", choices=SAMPLINGS)
    storage: str = option("auto", "completion storage: dense (n1 x n2 tensors), sparse (index/value arrays, "
                          "matrix-free steps), or auto (sparse when the dense tensors would exceed 4 GiB)",
                          choices=STORAGES)
    ratings_file: str | None = option(None, "ratings to complete (problem ratings): .npz with row, col, value "
                                      "arrays, or a CSV/TSV of row, column, value triples (ids re-indexed)")
    test_fraction: float = option(0.2, "fraction of the ratings held out for testing, in (0, 1) (problem "
                                  "ratings; movielens: fixed 0.2)")
    steps: int = option(1000, "GD (or AltMin) step budget", unit="steps")
    log_every: int = option(10, "log metrics every k steps (and at the last step)", unit="steps")
    tol: float = option(0.0, "stop when every seed's train loss is below tol, in --loss's normalisation "
                        "(0: never)", unit="per --loss")
    patience: int = option(0, "stop when no seed's held-out test error has reached a new minimum in this many "
                           "logs (problems movielens and ratings, model wide|compressed; 0: never)", unit="logs")
    patience_delta: float = option(0.0, "with --patience: a test error counts as a new minimum only when it is below "
                                   "the best so far by more than this fraction of it, in [0, 1) (0: any decrease)")
    seed: int = option(0, "first seed")
    seeds: int = option(1, "number of seeds run as one batch: seed, ..., seed + seeds - 1")
    mode: str = option("gd", "gd, or flow: integrate the gradient flow of all weights (time t = η·step)",
                       choices=MODES)
    device: str = option("cpu", "where to run: auto, cpu, cuda or cuda:N (not part of the run's identity "
                         "beyond cpu / cuda / auto)")
    dtype: str = option("float64", "floating-point type (float64 for anything that checks theory)",
                        choices=DTYPES)
    kernel: str = option("torch", "what computes the GD steps: torch (ATen products; the reference) or numpy "
                         "(a compiled loop on NumPy's BLAS: CPU only, faster for small steps, e.g. 2.9x for the compressed DLN "
                         "at d = 100 in cdln bench; within a stated rounding bound of torch, not bitwise equal)",
                         choices=KERNELS)

    # ------------------------------------------------------------------ derived
    @property
    def shape(self) -> tuple[int, int]:
        if self.problem == "movielens":
            return MOVIELENS_SHAPE
        return (self.d, self.d if self.d2 is None else self.d2)

    @property
    def torch_dtype(self) -> torch.dtype:
        return {"float64": torch.float64, "float32": torch.float32}[self.dtype]

    @property
    def early_stop(self) -> bool:
        """Whether the run may stop before ``steps`` on its own seeds' numbers (``tol`` or ``patience``): such a
        run is never batched with others, whose numbers would then decide when it stops."""
        return self.tol > 0 or self.patience > 0

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seed, self.seed + self.seeds))

    @property
    def resolved_init(self) -> str | None:
        if self.init is not None:
            return self.init
        return {"wide": "orthogonal", "compressed": "spectral"}.get(self.model)

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def unused_fields(self) -> frozenset[str]:
        """Fields that cannot change this run's numbers (left out of its identity)."""
        u = set()
        if self.problem in ("movielens", "ratings"):  # the data is the target: no shape, rank or generator to ask for
            u |= {"d", "d2", "rank", "target", "spectrum", "target_file"}
        if self.problem != "sensing":
            u |= {"measurements", "sensing_norm"}
        if self.problem != "completion":
            u |= {"observed", "sampling"}
        if self.problem != "ratings":
            u |= {"ratings_file", "test_fraction"}
        if self.problem not in SPARSE_PROBLEMS:
            u.add("storage")  # always dense
        if self.model == "altmin":  # alternating least squares: no layers, no step size
            u |= {"depth", "width", "widths", "eps", "eta", "alpha", "mode", "init"}
        elif self.model == "compressed":
            u |= {"width", "widths"}
        else:  # wide: alpha only scales Algorithm 1's outer layers; `width` is folded into `widths`
            u |= {"alpha", "width"}
        if self.target in ("authors", "authors-asymptotic"):
            u |= {"spectrum", "target_file"}
        elif self.target == "spectrum":
            u |= {"target_file", "rank"}  # rank = len(spectrum)
        if self.kernel == "torch" or self.mode == "flow" or self.model == "altmin" or self.storage == "sparse":
            u.add("kernel")  # the reference, or a run with no fused step for NumPy to take: torch's numbers either way
        if self.patience == 0:
            u.add("patience")  # not asked for: the identity (and every stored key) is what it was before the option
        if self.patience_delta == 0:
            u.add("patience_delta")  # likewise
        if self.mode == "flow":
            u.add("tol")  # the flow is integrated to the last logged time
        return frozenset(u)

    def identity(self) -> dict:
        """What was asked, canonicalised, without what cannot change the numbers: the run's identity.

        Machine-independent: the requested ``device`` enters as cpu / cuda / auto (never what
        ``auto`` resolved to, nor the card's index), ``d2`` and the wide widths as resolved
        numbers, ``init`` as resolved, and a target file by the SHA-256 of its bytes, not its path.
        The resolved device, thread count and torch version go into the run's summary instead."""
        d = self.to_dict()
        d["d"], d["d2"] = self.shape
        d["init"] = self.resolved_init
        d["device"] = self.device.split(":")[0]
        if self.model == "wide":
            from .models import widths_of

            d["widths"] = list(widths_of(self)[1:-1])
        if self.target == "file" and self.problem not in ("movielens", "ratings"):
            d["target_file"] = "sha256:" + hashlib.sha256(Path(self.target_file).read_bytes()).hexdigest()
        if self.problem == "ratings":
            d["ratings_file"] = "sha256:" + hashlib.sha256(Path(self.ratings_file).read_bytes()).hexdigest()
        for name in self.unused_fields():
            d.pop(name, None)
        d["key_version"] = KEY_VERSION
        return d

    def key(self) -> str:
        """Hash of :meth:`identity` (the cache key of ``runs/<key>/``): the same on every machine."""
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["spectrum"] = list(self.spectrum)
        d["widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown config key {unknown[0]!r}; valid keys: {', '.join(sorted(names))}")
        d = dict(d)
        if "spectrum" in d and d["spectrum"] is not None:
            if isinstance(d["spectrum"], (str, bytes)) or not hasattr(d["spectrum"], "__iter__"):
                raise ValueError(f"spectrum must be a list of numbers, got {d['spectrum']!r}")
            d["spectrum"] = tuple(d["spectrum"])
        if "widths" in d and d["widths"] is not None:
            if isinstance(d["widths"], (str, bytes)) or not hasattr(d["widths"], "__iter__"):
                raise ValueError(f"widths must be a list of integers, got {d['widths']!r}")
            d["widths"] = tuple(d["widths"])
        return cls(**d)

    # ------------------------------------------------------------------ resolution and validation
    def _resolve_target(self) -> None:
        """``target`` from what is given, and d, d2 from a target file's header (nothing else is read)."""
        if self.problem in ("movielens", "ratings"):
            if self.problem == "ratings":
                if not isinstance(self.ratings_file, str) or not self.ratings_file:
                    raise ValueError(f"ratings_file must name a ratings file for problem 'ratings', got {self.ratings_file!r}")
                from .data import load_ratings_file

                shape = load_ratings_file(self.ratings_file)[3]
            else:
                shape = MOVIELENS_SHAPE
            for name in ("target_file", "spectrum"):
                if getattr(self, name):
                    raise ValueError(f"{name} does not apply to problem 'movielens' (its target is the ratings); "
                                     f"got {getattr(self, name)!r}")
            if self.target not in (None, "authors"):
                raise ValueError(f"target does not apply to problem {self.problem!r} (its target is the ratings); "
                                 f"got {self.target!r}")
            for name, fixed in zip(("d", "d2"), shape):
                v = getattr(self, name)
                if v is not None and v != fixed:
                    raise ValueError(f"{name} = {v!r} conflicts with problem {self.problem!r}, whose ratings matrix "
                                     f"is {shape[0]}x{shape[1]}")
            object.__setattr__(self, "target", None)  # not part of a ratings run's identity
            if self.problem == "ratings":
                object.__setattr__(self, "d", shape[0])
                object.__setattr__(self, "d2", shape[1])
            return
        has_file = self.target_file is not None
        if has_file and (not isinstance(self.target_file, str) or not self.target_file):
            raise ValueError(f"target_file must be a path to a .npy file, got {self.target_file!r}")
        if has_file and self.spectrum:
            raise ValueError(f"target_file {self.target_file!r} and spectrum {self.spectrum!r} both name the "
                             "target; give one")
        target = self.target
        if target is None:
            target = ("file" if has_file else "spectrum" if self.spectrum
                      else "authors-asymptotic" if self.storage == "sparse" else "authors")
        elif has_file and target != "file":
            raise ValueError(f"target_file {self.target_file!r} is given but target is {target!r}; "
                             "a file target needs target 'file' (or leave target out)")
        elif self.spectrum and target != "spectrum":
            raise ValueError(f"spectrum {self.spectrum!r} is given but target is {target!r}; "
                             "a given spectrum needs target 'spectrum' (or leave target out)")
        object.__setattr__(self, "target", target)
        if target == "file":
            if not has_file:
                raise ValueError("target_file must name a .npy file when target is 'file', got None")
            n1, n2 = target_file_shape(self.target_file)
            for name, v, got in (("d", self.d, n1), ("d2", self.d2, n2)):
                if v is not None and v != got:
                    raise ValueError(f"{name} = {v!r} conflicts with target_file {self.target_file!r}, whose "
                                     f"shape is {n1}x{n2} ({name} = {got}); leave {name} out or match it")
            object.__setattr__(self, "d", n1)
            object.__setattr__(self, "d2", n2)
        elif self.d is None:
            object.__setattr__(self, "d", DEFAULT_D)

    def _resolve_storage_before_target(self) -> None:
        """``storage``: auto → sparse or dense by the fixed DENSE_AUTO_LIMIT rule (the same on every machine)."""
        if self.problem not in SPARSE_PROBLEMS:
            if self.storage == "sparse":
                raise ValueError(f"storage 'sparse' applies to problems {', '.join(SPARSE_PROBLEMS)}; got problem "
                                 f"{self.problem!r}")
            object.__setattr__(self, "storage", "dense")
            return
        if self.storage != "auto":
            return
        if self.problem == "ratings":
            from .data import load_ratings_file

            n1, n2 = load_ratings_file(self.ratings_file)[3] if isinstance(self.ratings_file, str) else (0, 0)
        elif self.problem == "movielens":
            n1, n2 = MOVIELENS_SHAPE
        elif self.target_file is not None and self.d is None:
            n1, n2 = target_file_shape(self.target_file)
        else:
            n1 = self.d if self.d is not None else DEFAULT_D
            n2 = self.d2 if self.d2 is not None else n1
        item = 8 if self.dtype == "float64" else 4
        dense = DENSE_ARRAYS * self.seeds * n1 * n2 * item if isinstance(self.seeds, int) else 0
        object.__setattr__(self, "storage", "sparse" if dense > DENSE_AUTO_LIMIT else "dense")

    def __post_init__(self):
        def integer(name, lo, hi=None):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo or (hi is not None and v > hi):
                rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
                raise ValueError(f"{name} must be an integer {rng}, got {v!r}")

        def real(name, lo, hi=None, lo_open=True, hi_open=False):
            v = getattr(self, name)
            ok = isinstance(v, numbers.Real) and not isinstance(v, bool) and v == v and abs(v) != float("inf")
            ok = ok and (v > lo if lo_open else v >= lo) and (hi is None or (v < hi if hi_open else v <= hi))
            if not ok:
                rng = f"{'(' if lo_open else '['}{lo}, {'inf)' if hi is None else str(hi) + (')' if hi_open else ']')}"
                raise ValueError(f"{name} must be in {rng}, got {v!r}")

        validate_choices(self, skip=("init",))  # problem, model, loss, target, ...; init depends on the model
        if self.mode == "flow" and (self.model == "altmin" or self.device not in ("cpu", "auto")
                                    or self.dtype != "float64" or self.problem in ("movielens", "ratings")):
            raise ValueError("mode 'flow' needs model wide|compressed, a synthetic problem, device cpu and dtype float64")
        for name in ("d", "d2"):
            if getattr(self, name) is not None:
                integer(name, 2)
        if isinstance(self.spectrum, list):
            object.__setattr__(self, "spectrum", tuple(self.spectrum))
        if isinstance(self.widths, list):
            object.__setattr__(self, "widths", tuple(self.widths))
        if not isinstance(self.spectrum, tuple) or not all(
                isinstance(s, numbers.Real) and not isinstance(s, bool) for s in self.spectrum):
            raise ValueError(f"spectrum must be a tuple of numbers, got {self.spectrum!r}")
        object.__setattr__(self, "spectrum", tuple(float(s) for s in self.spectrum))
        self._resolve_storage_before_target()
        self._resolve_target()
        n1, n2 = self.shape
        k = min(n1, n2)
        integer("depth", 2)
        integer("rank_hat", 1, k)
        if self.width is not None:
            integer("width", 1)
        if self.widths:
            if len(self.widths) != self.depth - 1 or any(
                    isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1 for w in self.widths):
                raise ValueError(f"widths must list depth - 1 = {self.depth - 1} integers >= 1, got {self.widths!r}")
            if self.model != "wide":
                raise ValueError(f"widths applies to model 'wide' only; got model {self.model!r}")
        real("eps", 0)
        real("eta", 0)
        real("alpha", 0)
        real("tol", 0, lo_open=False)
        integer("patience", 0)
        if self.patience and (self.problem not in ("movielens", "ratings") or self.model == "altmin"):
            raise ValueError(f"patience needs a held-out test split and GD: problem movielens|ratings and model "
                             f"wide|compressed; got problem {self.problem!r}, model {self.model!r}, patience "
                             f"{self.patience!r}")
        real("patience_delta", 0, 1, lo_open=False, hi_open=True)
        if self.patience_delta and not self.patience:
            raise ValueError(f"patience_delta = {self.patience_delta!r} applies only with patience > 0; got patience "
                             f"{self.patience!r}")
        real("observed", 0, 1)
        integer("measurements", 1)
        integer("steps", 0)
        integer("log_every", 1)
        integer("seed", 0)
        integer("seeds", 1)
        if self.problem not in ("movielens", "ratings"):
            if self.target == "spectrum":
                if not self.spectrum or any(not (s > 0 and s < float("inf")) for s in self.spectrum):
                    raise ValueError(f"spectrum must list finite values > 0 when target is 'spectrum', got {self.spectrum!r}")
                object.__setattr__(self, "rank", len(self.spectrum))
            lim = k // 2 if self.target in ("authors", "authors-asymptotic") else k
            integer("rank", 1, lim)
        real("test_fraction", 0, 1, hi_open=True)
        if self.storage == "sparse" and self.mode == "flow":
            raise ValueError("mode 'flow' needs storage 'dense' (it integrates the dense gradient); got storage 'sparse'")
        if self.model == "altmin" and self.problem == "sensing":
            raise ValueError("model 'altmin' supports problem factorization, completion or movielens; got 'sensing'")
        inits = {"wide": WIDE_INITS, "compressed": COMPRESSED_INITS, "altmin": ("spectral",)}[self.model]
        if self.init is not None and self.init not in inits:
            raise ValueError(f"init must be one of {', '.join(inits)} for model {self.model!r}; got {self.init!r}")
        if self.init == "oracle" and self.problem in ("movielens", "ratings"):
            raise ValueError(f"init 'oracle' needs a known target; problem {self.problem!r} has none")
        dev = self.device
        if not isinstance(dev, str) or (dev not in ("auto", "cpu") and not _CUDA.fullmatch(dev)):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N; got {dev!r}")
        if dev.startswith("cuda"):
            idx = int(dev.split(":")[1]) if ":" in dev else 0
            if not torch.cuda.is_available() or idx >= torch.cuda.device_count():
                raise ValueError(f"device {dev!r} is not available on this machine (torch.cuda.is_available() "
                                 f"= {torch.cuda.is_available()})")
        if self.kernel == "numpy" and dev != "cpu":
            raise ValueError(f"kernel 'numpy' runs on the CPU only: device must be 'cpu', got {dev!r}")
        if self.model == "compressed" and self.problem not in ("movielens", "ratings") and self.rank_hat < self.rank:
            warnings.warn(f"rank_hat = {self.rank_hat} < rank = {self.rank}: Theorem 1's hypothesis r̂ >= r "
                          "no longer holds", UserWarning, stacklevel=3)


_CUDA = re.compile(r"cuda(:\d+)?")


def target_file_shape(path: str) -> tuple[int, int]:
    """(n1, n2) of a .npy target from its header, after checking that it is a plain 2-D array of finite
    reals (memory-mapped: no pickle is ever run, and nothing but the header is held in memory)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"target_file {str(p)!r} does not exist (or is not a file)")
    try:
        M = np.load(p, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"target_file {str(p)!r} is not a plain .npy array (pickles are refused): {exc}") from None
    if not isinstance(M, np.ndarray) or M.ndim != 2 or M.dtype.kind not in "biuf" or min(M.shape) < 2:
        raise ValueError(f"target_file {str(p)!r} must hold a 2-D real matrix with both sides >= 2, got "
                         f"shape {getattr(M, 'shape', '?')} and dtype {getattr(M, 'dtype', '?')}")
    if not np.all(np.isfinite(M)):
        raise ValueError(f"target_file {str(p)!r} holds non-finite values")
    return int(M.shape[0]), int(M.shape[1])

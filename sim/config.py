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
import warnings
from dataclasses import dataclass, field

import torch

PROBLEMS = ("factorization", "sensing", "completion", "movielens")
MODELS = ("wide", "compressed", "altmin")
WIDE_INITS = ("orthogonal", "orthogonal-eq3", "gaussian", "uniform")
COMPRESSED_INITS = ("spectral", "oracle")

__all__ = ["RunConfig", "PROBLEMS", "MODELS"]


@dataclass(frozen=True)
class RunConfig:
    problem: str = "factorization"  # factorization | sensing | completion | movielens
    model: str = "compressed"       # wide | compressed | altmin
    d: int = 100                    # rows n1 of the target (paper: 100); movielens: fixed 943
    d2: int | None = None           # columns n2 (default d; movielens: fixed 1682)
    rank: int = 10                  # r: target rank (paper: 10); unused for movielens
    rank_hat: int = 20              # r̂: compressed width / AltMin rank (paper: 2r)
    depth: int = 3                  # L (paper: 3; AltMin ignores it)
    width: int | None = None        # wide hidden width (default max(n1, n2))
    widths: tuple[int, ...] = ()    # wide: all L-1 hidden widths d_1..d_{L-1} (overrides width)
    eps: float = 1e-3               # ε: initialisation scale (paper: 1e-3)
    eta: float = 10.0               # step size, in the normalisation named by `loss`
    loss: str = "mean"              # "sum" ½‖·‖² or "mean" ½‖·‖²/N (N = n1n2, |Ω| or m)
    alpha: float = 1.0              # α: outer-layer step multiplier (compressed only)
    init: str | None = None         # wide: orthogonal|orthogonal-eq3|gaussian|uniform; compressed: spectral|oracle
    target: str = "authors"         # authors | spectrum | file
    spectrum: tuple[float, ...] = ()  # target singular values when target == "spectrum"
    target_file: str | None = None  # .npy matrix when target == "file" (loaded without pickle)
    measurements: int = 2000        # m: sensing measurements (paper: 2000)
    sensing_norm: str = "isometric" # A_i entries N(0, 1/m) ("isometric") or std 1/m ("authors")
    observed: float = 0.3           # p: fraction of observed entries (completion; paper: 0.3)
    sampling: str = "bernoulli"     # bernoulli (MCAR) | fixed (exactly round(p n1 n2) entries)
    steps: int = 1000               # GD step budget
    log_every: int = 10             # log metrics every k steps (and at the last step)
    tol: float = 0.0                # stop when every seed's train loss < tol (0: never)
    seed: int = 0                   # first seed
    seeds: int = 1                  # number of seeds run as one batch: seed, …, seed + seeds − 1
    mode: str = "gd"                # gd | flow (integrate the gradient flow of all weights; t = η·step)
    device: str = "cpu"             # auto | cpu | cuda | cuda:N
    dtype: str = "float64"          # float64 | float32

    # ------------------------------------------------------------------ derived
    @property
    def shape(self) -> tuple[int, int]:
        if self.problem == "movielens":
            return (943, 1682)
        return (self.d, self.d if self.d2 is None else self.d2)

    @property
    def torch_dtype(self) -> torch.dtype:
        return {"float64": torch.float64, "float32": torch.float32}[self.dtype]

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

    def key(self) -> str:
        """Hash of everything that changes the numbers (the cache key of runs/<key>/)."""
        d = self.to_dict()
        d["device"] = str(self.resolved_device().type)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

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
            d["spectrum"] = tuple(float(x) for x in d["spectrum"])
        if "widths" in d and d["widths"] is not None:
            d["widths"] = tuple(d["widths"])
        return cls(**d)

    # ------------------------------------------------------------------ validation
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

        def choice(name, options):
            v = getattr(self, name)
            if v not in options:
                raise ValueError(f"{name} must be one of {', '.join(options)}; got {v!r}")

        choice("problem", PROBLEMS)
        choice("model", MODELS)
        choice("loss", ("sum", "mean"))
        choice("target", ("authors", "spectrum", "file"))
        choice("sensing_norm", ("isometric", "authors"))
        choice("sampling", ("bernoulli", "fixed"))
        choice("dtype", ("float64", "float32"))
        choice("mode", ("gd", "flow"))
        if self.mode == "flow" and (self.model == "altmin" or self.device not in ("cpu", "auto")
                                    or self.dtype != "float64" or self.problem == "movielens"):
            raise ValueError("mode 'flow' needs model wide|compressed, a synthetic problem, device cpu and dtype float64")
        integer("d", 2)
        if self.d2 is not None:
            integer("d2", 2)
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
        real("observed", 0, 1)
        integer("measurements", 1)
        integer("steps", 0)
        integer("log_every", 1)
        integer("seed", 0)
        integer("seeds", 1)
        if self.problem != "movielens":
            if self.target == "spectrum":
                if not self.spectrum or any(not (s > 0 and s < float("inf")) for s in self.spectrum):
                    raise ValueError(f"spectrum must list finite values > 0 when target is 'spectrum', got {self.spectrum!r}")
                object.__setattr__(self, "rank", len(self.spectrum))
            lim = k // 2 if self.target == "authors" else k
            integer("rank", 1, lim)
            if self.target == "file" and not self.target_file:
                raise ValueError("target_file must name a .npy file when target is 'file', got None")
        if self.model == "altmin" and self.problem == "sensing":
            raise ValueError("model 'altmin' supports problem factorization, completion or movielens; got 'sensing'")
        inits = {"wide": WIDE_INITS, "compressed": COMPRESSED_INITS, "altmin": ("spectral",)}[self.model]
        if self.init is not None and self.init not in inits:
            raise ValueError(f"init must be one of {', '.join(inits)} for model {self.model!r}; got {self.init!r}")
        if self.init == "oracle" and self.problem == "movielens":
            raise ValueError("init 'oracle' needs a known target; problem 'movielens' has none")
        dev = self.device
        if dev not in ("auto", "cpu") and not dev.startswith("cuda"):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N; got {dev!r}")
        if dev.startswith("cuda"):
            idx = int(dev.split(":")[1]) if ":" in dev else 0
            if not torch.cuda.is_available() or idx >= torch.cuda.device_count():
                raise ValueError(f"device {dev!r} is not available on this machine (torch.cuda.is_available() "
                                 f"= {torch.cuda.is_available()})")
        if self.model == "compressed" and self.problem != "movielens" and self.rank_hat < self.rank:
            warnings.warn(f"rank_hat = {self.rank_hat} < rank = {self.rank}: Theorem 1's hypothesis r̂ >= r "
                          "no longer holds", UserWarning, stacklevel=3)

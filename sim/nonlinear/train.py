"""Training the nonlinear networks: one frozen config, one function from it to a result.

``TrainConfig`` → data (``load_dataset`` + seeded subset) → model (``MLP`` / ``ViT``, seeded) →
for the compressed variant, M^corr = Y Xᵀ from the penultimate layer's inputs on a batch of
training images and Algorithm 1's init → minibatch SGD (MLP: plain SGD, the paper's η = 5e-3, α = 1)
or Adam with cosine annealing (ViT: 1e-4) on the mean cross-entropy → ``TrainResult`` with the test
accuracy along training, the training time (evaluation excluded), the time to reach 99% of the final
test accuracy, MACs per example, peak training memory and the parameter count.

Peak memory: on CUDA the allocator's peak (``torch.cuda.max_memory_allocated``); on the CPU the
resident set's high-water mark (VmHWM, reset through /proc/self/clear_refs before training where
the kernel allows it), reported in MB.
"""

from __future__ import annotations

import dataclasses
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..io import clear_peak_rss, peak_rss_bytes

from .data import DATASETS, ImageData, load_dataset
from .models import MLP, VARIANTS, VIT_PRESETS, ViT, macs_per_example, param_count, param_groups, penultimate_matrix

__all__ = ["TrainConfig", "TrainResult", "train", "build_model", "peak_memory_mb", "CLASSES"]

CLASSES = 10  # d_y of every dataset here (Fashion-MNIST, MNIST, CIFAR-10)


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "fashion-mnist"   # fashion-mnist | mnist | cifar10
    data_dir: str | None = None      # cifar10: the cifar-10-batches-py folder
    arch: str = "mlp"                # mlp | vit | linear (the MLP's widths without ρ, orthogonal init: Fig. 1's DLN)
    variant: str = "original"        # original | dln | cdln
    width: int = 784                 # MLP hidden width h (Table 1: 784)
    vit_preset: str = "tiny"         # tiny (CPU/CI) | small | paper (6 blocks, dim 512, MLP 3072)
    rank_hat: int | None = None      # r̂ (default 4·d_y, Table 1)
    eps: float = 1.0                 # Algorithm 1's ε for the compressed factors
    alpha: float = 1.0               # outer-factor step multiplier (paper: 1)
    optimizer: str | None = None     # sgd | adam (default: sgd for mlp, adam + cosine for vit)
    lr: float | None = None          # default: 5e-3 (mlp), 1e-4 (vit)
    epochs: int = 10
    batch_size: int = 128
    n_train: int | None = None       # training subset size (None: all)
    n_test: int | None = None        # test subset size (None: all)
    evals_per_epoch: int = 4
    seed: int = 0
    device: str = "cpu"
    dtype: str = "float32"           # float32 | float64
    track_penultimate: bool = False  # keep snapshots of the penultimate end-to-end weight (figs 1, 20)

    def __post_init__(self):
        def choice(name, options):
            if getattr(self, name) not in options:
                raise ValueError(f"{name} must be one of {', '.join(options)}; got {getattr(self, name)!r}")

        def integer(name, lo, allow_none=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

        choice("dataset", DATASETS)
        choice("arch", ("mlp", "vit", "linear"))
        choice("variant", VARIANTS)
        choice("vit_preset", tuple(VIT_PRESETS))
        choice("dtype", ("float32", "float64"))
        if self.optimizer is not None:
            choice("optimizer", ("sgd", "adam"))
        integer("width", 1)
        integer("epochs", 1)
        integer("batch_size", 1)
        integer("evals_per_epoch", 1)
        integer("seed", 0)
        integer("n_train", 1, allow_none=True)
        integer("n_test", 1, allow_none=True)
        integer("rank_hat", 1, allow_none=True)
        for name in ("eps", "alpha") + (("lr",) if self.lr is not None else ()):
            v = getattr(self, name)
            if not (isinstance(v, numbers.Real) and v > 0 and np.isfinite(v)):
                raise ValueError(f"{name} must be in (0, inf), got {v!r}")
        if self.rank_hat is not None and self.rank_hat < CLASSES:
            raise ValueError(f"rank_hat must be >= d_y = {CLASSES} (the number of classes), got {self.rank_hat}")
        rh = self.resolved_rank_hat
        top = self.width if self.arch != "vit" else min(VIT_PRESETS[self.vit_preset]["dim"],
                                                        VIT_PRESETS[self.vit_preset]["mlp"])
        if self.variant == "cdln" and rh > top:
            raise ValueError(f"rank_hat must be in [{CLASSES}, {'width' if self.arch != 'vit' else 'min(dim, mlp)'} = {top}], "
                             f"got {rh}")
        if self.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} is not available on this machine")
        if self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be cpu, cuda or cuda:N; got {self.device!r}")

    @property
    def resolved_rank_hat(self) -> int:
        """r̂, by default 4·d_y (Table 1); every dataset here has d_y = CLASSES = 10."""
        return self.rank_hat if self.rank_hat is not None else 4 * CLASSES

    @property
    def resolved_optimizer(self) -> str:
        return self.optimizer or ("adam" if self.arch == "vit" else "sgd")

    @property
    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else (1e-4 if self.arch == "vit" else 5e-3)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class TrainResult:
    config: dict
    params: int
    macs: int
    steps: list = field(default_factory=list)       #: optimizer steps at each evaluation
    time_s: list = field(default_factory=list)      #: training time (s) at each evaluation
    test_acc: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)  #: mean loss of the minibatches since the last evaluation
    peak_memory_mb: float = float("nan")
    memory_kind: str = ""
    snapshots: list = field(default_factory=list)   #: penultimate end-to-end weights (numpy), if tracked

    @property
    def final_acc(self) -> float:
        return self.test_acc[-1]

    def time_to(self, fraction: float = 0.99) -> float:
        """Training time until the test accuracy first reaches ``fraction`` × its final value."""
        acc = np.asarray(self.test_acc)
        return float(np.asarray(self.time_s)[np.argmax(acc >= fraction * acc[-1])])


def build_model(cfg: TrainConfig, data: ImageData):
    torch.manual_seed(cfg.seed)  # layer inits draw from the global generator: seeded here, explicitly
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    kw = dict(variant=cfg.variant, rank_hat=cfg.resolved_rank_hat, eps=cfg.eps, gen=gen)
    if cfg.arch in ("mlp", "linear"):
        model = MLP(int(np.prod(data.image_shape)), data.classes, width=cfg.width, linear=cfg.arch == "linear", **kw)
    else:
        model = ViT(data.image_shape, data.classes, preset=cfg.vit_preset, **kw)
    dt = {"float32": torch.float32, "float64": torch.float64}[cfg.dtype]
    return model.to(device=cfg.device, dtype=dt)


def _m_corr(model, x, y, classes):
    """M^corr = Y Xᵀ (d_y × d_in) from the penultimate layer's inputs X at init."""
    with torch.no_grad():
        X = model.features(x)                                  # (n, d_in)
        Y = torch.nn.functional.one_hot(y, classes).to(X.dtype)  # (n, d_y)
    return Y.T @ X


def peak_memory_mb(device: str) -> tuple[float, str]:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20, "CUDA allocator peak"
    peak = peak_rss_bytes()
    if peak is not None:
        return peak / 2**20, "resident set peak (process)"
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "resident set peak (process, not reset)"


def _accuracy(model, x, y, batch=1000) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    model.train()
    return correct / len(x)


def train(cfg: TrainConfig, data: ImageData | None = None, *, progress=None) -> TrainResult:
    if data is None:
        data = load_dataset(cfg.dataset, cfg.data_dir)
    data = data.subset(cfg.n_train, cfg.n_test, seed=cfg.seed)
    dev, dt = torch.device(cfg.device), {"float32": torch.float32, "float64": torch.float64}[cfg.dtype]
    xtr, ytr = torch.as_tensor(data.x_train, dtype=dt, device=dev), torch.as_tensor(data.y_train, device=dev)
    xte, yte = torch.as_tensor(data.x_test, dtype=dt, device=dev), torch.as_tensor(data.y_test, device=dev)
    model = build_model(cfg, data)
    if cfg.variant == "cdln":
        k = min(len(xtr), 2048)
        model.penultimate.spectral_init(_m_corr(model, xtr[:k], ytr[:k], data.classes),
                                        gen=torch.Generator().manual_seed(cfg.seed + 2))
    res = TrainResult(config=cfg.to_dict(), params=param_count(model), macs=macs_per_example(model, data.image_shape))
    groups = param_groups(model, cfg.resolved_lr, cfg.alpha)
    n_batches = -(-len(xtr) // cfg.batch_size)
    total = cfg.epochs * n_batches
    if cfg.resolved_optimizer == "sgd":
        opt = torch.optim.SGD(groups)
        sched = None
    else:
        opt = torch.optim.Adam(groups)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    loss_fn = nn.CrossEntropyLoss()
    eval_at = {int(round(n_batches * (j + 1) / cfg.evals_per_epoch)) for j in range(cfg.evals_per_epoch)}
    gen = torch.Generator().manual_seed(cfg.seed + 3)
    cuda = dev.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(dev)
    else:
        clear_peak_rss()

    def record(step, elapsed, losses):
        res.steps.append(step)
        res.time_s.append(elapsed)
        res.test_acc.append(_accuracy(model, xte, yte))
        res.train_loss.append(float(np.mean(losses)) if losses else float("nan"))
        if cfg.track_penultimate:
            res.snapshots.append(penultimate_matrix(model.penultimate).double().cpu().numpy())
        if progress is not None:
            progress(step, elapsed, res.test_acc[-1])

    record(0, 0.0, [])
    elapsed, step = 0.0, 0
    for _ in range(cfg.epochs):
        perm = torch.randperm(len(xtr), generator=gen).to(dev)
        losses = []
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for b in range(n_batches):
            idx = perm[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            step += 1
            losses.append(loss.item())
            if not np.isfinite(losses[-1]):
                raise FloatingPointError(f"training diverged at step {step}: loss = {losses[-1]} (lr {cfg.resolved_lr})")
            if b + 1 in eval_at:
                if cuda:
                    torch.cuda.synchronize()
                elapsed += time.perf_counter() - t0
                record(step, elapsed, losses)
                losses = []
                t0 = time.perf_counter()
    res.peak_memory_mb, res.memory_kind = peak_memory_mb(cfg.device)
    return res

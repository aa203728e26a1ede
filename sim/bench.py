"""`cdln bench`: speed measured in one run, as ratios and fractions of the machine's matmul rate (never asserted by tests).

Measures, on one device and dtype (default CPU, float64):

* the machine's matmul rate :math:`R` (GFLOP/s of a large ``torch.mm``);
* one GD step of the wide (d = 100, 200, 500, 1000) and compressed (r̂ = 20) DLN at L = 3 on factorization
  (sum loss), as the engine runs it (:func:`sim.fused.fused_chunk`, 32 steps a call): time, FLOPs
  (:math:`F` = 2 × :func:`theory.gd_step_macs`), :math:`F/(tR)`, and the same step eager (:func:`sim.gd.gd_step`, the reference), in plain
  NumPy, with torch autograd and, with ``--peer jax``, in JAX as the authors write it (:mod:`sim.peer_jax`);
* batched runs (one batched computation): B = 1, 16, 64 compressed at d = 100 and B = 1, 64, 1024 wide at
  d = 20; useful-FLOP throughput as ``matmul_fraction`` = run-steps/s × F / R, beside JAX's ``vmap``;
  and B = 64 with a different η per instance (a sweep cell: :mod:`sim.many`);
* the sensing step (d = 100, m = 2000), torch's eager step against ``kernel="numpy"``'s one pass over the
  operator, with the memory bandwidth each achieves (operator bytes over step time);
* for each, the step's matmuls replayed alone (same shapes and kernels, preallocated outputs): the
  time below which no removal of Python, dispatch or allocation can go, and so the measured reason
  when a step cannot reach a target.

Timings are the best of 7 interleaved repeats (3 with ``--quick``) of an auto-ranged loop of calls: the
variants compared are timed in turn, so a shared machine's drift hits them alike.
"""

from __future__ import annotations

import platform
import time

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import theory

from .build import make_problem
from .config import RunConfig
from .fused_np import numpy_chunk
from .fused import Coefficients, _tile, fused_chunk
from .gd import CHUNK, gd_step, uses_factored_step
from .models import init_compressed, init_wide, widths_of
from .bench_report import format_bench, targets, to_json, write_outputs  # noqa: F401  (re-exported)

__all__ = ["run_bench", "format_bench", "targets", "write_outputs", "to_json"]

def _pin_numpy_threads(n: int) -> bool:
    """Best effort: NumPy's bundled OpenBLAS on ``n`` threads too (``threadpoolctl`` if present, else the
    library's own setter); whether it worked goes into the results."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(n, user_api="blas")
        return True
    except ImportError:
        pass
    import ctypes
    import glob
    import os

    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "libscipy_openblas*.so"))
    for lib in libs:
        try:
            ctypes.CDLL(lib).scipy_openblas_set_num_threads64_(ctypes.c_int(n))
            return True
        except (OSError, AttributeError):
            continue
    return False


def _race(fns: dict, *, sync=lambda: None, repeat: int = 7, min_time: float = 0.05) -> dict:
    """Best seconds per call of each function, measured *interleaved* (rep 1 of every
    function, then rep 2, …) so that drifts of a shared machine hit all of them alike."""
    loops = {}
    for name, fn in fns.items():
        fn()
        sync()
        n = 1
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            sync()
            if time.perf_counter() - t0 >= min_time:
                break
            n *= 2
        loops[name] = n
    best = {name: float("inf") for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            n = loops[name]
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            sync()
            best[name] = min(best[name], (time.perf_counter() - t0) / n)
    return best


def _setup(model: str, d: int, seeds: int, device, dtype: str):
    cfg = RunConfig(problem="factorization", model=model, d=d, rank=2, rank_hat=20 if model == "compressed" else 2,
                    loss="sum", eps=0.3, seeds=seeds, device=str(device), dtype=dtype)
    p = make_problem(cfg, cfg.seed_list, device)
    Ws, sc = init_wide(cfg, cfg.seed_list, device) if model == "wide" else init_compressed(cfg, p, device)
    return cfg, p, Ws, sc


def _engine(p, Ws, sc, eta, k: int, kernel: str = "torch"):
    """k steps as :func:`sim.gd.run_gd` takes them: one fused chunk (torch's, or NumPy's BLAS with
    ``kernel="numpy"``, :mod:`sim.fused_np`) and its divergence check."""
    chunk = numpy_chunk if kernel == "numpy" else fused_chunk
    B = Ws[0].shape[0]
    co = Coefficients(eta, sc, 1.0, B, Ws[0])
    buf = torch.empty((k, B), dtype=Ws[0].dtype, device=Ws[0].device)
    limit = torch.full((B,), float("inf"), dtype=Ws[0].dtype, device=Ws[0].device)

    def call():
        if not chunk(p, Ws, co, k, buf):  # no fused form: the eager loop, as run_gd takes it
            for i in range(k):
                buf[i] = gd_step(Ws, sc, eta, p)
        return bool(torch.all(buf <= limit))

    return call


class _Record(TorchDispatchMode):
    """Records the matmuls of one step (their inputs and outputs), to replay them alone."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in (torch.ops.aten.bmm.default, torch.ops.aten.baddbmm.default):
            self.calls.append((func, [a.clone() if isinstance(a, torch.Tensor) else a for a in args],
                               dict(kwargs or {}), out.clone()))
        return out


def _kernels(Ws, sc, eta, p, k: int):
    """A callable running only the matmuls of k engine steps (same shapes, strides and kernels, into
    preallocated outputs): the time no removal of Python, dispatch or allocation can go below."""
    with _Record() as rec:
        gd_step([W.clone() for W in Ws], sc, eta, p)
    calls = []
    for func, a, kw, o in rec.calls:
        if func is torch.ops.aten.bmm.default:
            calls.append(lambda a=a, o=o: torch.bmm(a[0], a[1], out=o))
        else:
            calls.append(lambda a=a, o=o, kw=kw: torch.baddbmm(a[0], a[1], a[2], out=o, **kw))

    def call():
        for _ in range(k):
            for c in calls:
                c()

    return call


def _numpy_kernels(model: str, d: int, pb, Wb, dev, dtype: str, eta, k: int):
    """A callable running only the NumPy products of k ``kernel="numpy"`` steps of a batch of B, tile by tile
    over the threads as :func:`sim.fused_np.numpy_chunk` runs them (same shapes and layouts, preallocated
    outputs): the share of the numpy kernel's time that is its BLAS calls. ``pb``, ``Wb``: the batch timed."""
    from . import fused_np

    T, B = torch.get_num_threads(), Wb[0].shape[0]
    per = fused_np.tile_size(Wb, pb.target, None, T)
    _, pt, Wt, sct = _setup(model, d, per, dev, dtype)
    calls = []

    class _Record:  # numpy, with matmul recorded (order "K" copies keep each operand's layout, transposes included)
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def matmul(a, b):
            o = np.matmul(a, b)
            calls.append((np.copy(a, order="K"), np.copy(b, order="K"), np.copy(o, order="K")))
            return o

    # recorded on the NumPy-call path: the compiled loop (sim.fused_nb) makes the same products, per instance,
    # as direct gemm calls that no NumPy function sees
    real, compiled = fused_np.np, fused_np.COMPILED
    fused_np.np, fused_np.COMPILED = _Record(), False
    try:
        fused_np.numpy_chunk(pt, Wt, Coefficients(eta, sct, 1.0, per, Wt[0]), 1,
                             torch.empty((1, per), dtype=Wt[0].dtype), tile=per, threads=1)
    finally:
        fused_np.np, fused_np.COMPILED = real, compiled

    def tile_calls():
        for _ in range(k):
            for a, b, o in calls:
                np.matmul(a, b, out=o)

    n_tiles = -(-B // per)
    return lambda: fused_np.run_tiles([tile_calls] * n_tiles, T)


def _numpy_step(Ws, M, eta, factored):
    """The same step as ``sim.gd_step`` in plain NumPy (prefix/suffix or factored, with the loss)."""
    P = [Ws[0]]
    for W in Ws[1:-1]:
        P.append(W @ P[-1])
    out = [None] * len(Ws)
    if factored:
        WL, PL = Ws[-1], P[-1]
        WtW, PPt, WtM = WL.T @ WL, PL @ PL.T, WL.T @ M
        out[-1] = WL @ PPt - M @ PL.T
        G = WtW @ PL - WtM
        loss = 0.5 * (np.vdot(WtW, PPt) - 2 * np.vdot(WtM, PL) + np.vdot(M, M))
        top = len(Ws) - 2
    else:
        G = Ws[-1] @ P[-1] - M
        loss = 0.5 * np.vdot(G, G)
        top = len(Ws) - 1
    for l in range(top, 0, -1):
        out[l] = G @ P[l - 1].T
        G = Ws[l].T @ G
    out[0] = G
    for W, g in zip(Ws, out):
        W -= eta * g
    return loss


def _autograd_step(Ws, M, eta):
    E = Ws[0]
    for W in Ws[1:]:
        E = W @ E
    loss = 0.5 * ((E - M) ** 2).sum()
    grads = torch.autograd.grad(loss, Ws)
    with torch.no_grad():
        for W, g in zip(Ws, grads):
            W.sub_(g, alpha=eta)


def _peer(peer, Ws, p, sc, eta, k, device, dtype):
    from .peer_jax import jax_stepper

    return jax_stepper([W.cpu().numpy() for W in Ws], p.target.cpu().numpy(), sc, eta, k, device=device, dtype=dtype)


def _steps(d, model, dev, dtype, eta, peer, timing):
    cfg, p, Ws, sc = _setup(model, d, 1, dev, dtype)
    factored = uses_factored_step(Ws, p)
    flops = 2 * theory.gd_step_macs(widths_of(cfg), factored=factored)
    k = CHUNK if flops < 5e7 else 4  # steps per timed call
    fns = {"ours": _engine(p, Ws, sc, eta, k), "eager": lambda: [gd_step(Ws, sc, eta, p) for _ in range(k)],
           "kernels": _kernels(Ws, sc, eta, p, k)}
    if dev.type == "cpu":
        Wn, Mn = [W[0].numpy().copy() for W in Ws], p.target[0].numpy()
        fns["numpy"] = lambda: [_numpy_step(Wn, Mn, eta, factored) for _ in range(k)]
        fns["numpy_kernel"] = _engine(p, [W.clone() for W in Ws], sc, eta, k, kernel="numpy")
    Wa = [W[0].clone().requires_grad_(True) for W in Ws]
    fns["autograd"] = lambda: [_autograd_step(Wa, p.target[0], eta) for _ in range(k)]
    if peer:
        fns["jax"] = _peer(peer, Ws, p, sc, eta, k, str(dev), dtype)
    with torch.enable_grad():
        t = {name: s / k for name, s in _race(fns, **timing).items()}
    row = {"model": model, "d": d, "factored": factored, "flops": flops, "ours_s": t["ours"],
           "gflops": flops / t["ours"] / 1e9, **{f"{n}_s": v for n, v in t.items() if n != "ours"}}
    return row


def _batched(model, d, sizes, dev, dtype, eta, peer, timing, mm, sync):
    setups = {B: _setup(model, d, B, dev, dtype) for B in sizes}
    k = CHUNK
    fns = {B: _engine(s[1], s[2], s[3], eta, k) for B, s in setups.items()}
    if dev.type == "cpu":  # the same batches with kernel="numpy" (sim.fused_np: tiles over the threads)
        fns.update({("numpy", B): _engine(s[1], [W.clone() for W in s[2]], s[3], eta, k, kernel="numpy")
                    for B, s in setups.items()})
        fns["numpy_kernels"] = _numpy_kernels(model, d, setups[max(sizes)][1], setups[max(sizes)][2], dev, dtype,
                                              eta, k)
    big = max(sizes)
    _, pb, Wb, scb = setups[big]
    # the step's matmuls alone, tile by tile as the engine runs a batch (sim.fused._tile)
    tile = min(big, _tile(Wb, pb.target))
    _, pt, Wt, sct = _setup(model, d, tile, dev, dtype)
    per_tile = _kernels(Wt, sct, eta, pt, k)
    fns["kernels"] = lambda: [per_tile() for _ in range(-(-big // tile))]
    if model == "compressed":  # a sweep cell: a different η per instance (per-instance coefficients)
        Wm = [W.clone() for W in Wb]
        fns["mixed"] = _engine(pb, Wm, scb, list(eta * (1 + np.arange(big) / big)), k)
    if peer:
        fns["jax"] = _peer(peer, Wb, pb, scb, eta, k, str(dev), dtype)
    t = {name: s / k for name, s in _race(fns, sync=sync, **timing).items()}
    cfg1, p1, W1, _ = setups[sizes[0]]
    flops = 2 * theory.gd_step_macs(widths_of(cfg1), factored=uses_factored_step(W1, p1))
    rate = {B: B / t[B] for B in sizes}
    frac = lambda r: r * flops / (mm * 1e9)  # noqa: E731
    out = {"model": model, "d": d, "flops_per_run_step": flops, "run_steps_per_s": rate,
           "matmul_fraction": {B: frac(r) for B, r in rate.items()},
           "speedup_vs_sequential": {B: r / rate[sizes[0]] for B, r in rate.items()}}
    if ("numpy", big) in t:
        rn = {B: B / t[("numpy", B)] for B in sizes}
        out["numpy_kernel"] = {"run_steps_per_s": rn, "matmul_fraction": {B: frac(r) for B, r in rn.items()},
                               "kernels": {"B": big, "run_steps_per_s": big / t["numpy_kernels"],
                                           "matmul_fraction": frac(big / t["numpy_kernels"])}}
    if "mixed" in t:
        out["mixed_eta"] = {"B": big, "run_steps_per_s": big / t["mixed"], "matmul_fraction": frac(big / t["mixed"])}
    if "jax" in t:
        out["jax"] = {"B": big, "run_steps_per_s": big / t["jax"], "matmul_fraction": frac(big / t["jax"])}
    out["kernels"] = {"B": big, "run_steps_per_s": big / t["kernels"], "matmul_fraction": frac(big / t["kernels"])}
    return out


def _sensing(dev, dtype: str, eta, quick: bool, timing: dict, sync) -> list[dict]:
    """Sensing steps (d = 100, m = 2000 as the paper's Figs. 11 and 15; d = 50, m = 1000 with ``quick``): the
    engine's torch step (eager: it has no fused form) against ``kernel="numpy"``, which reads the operator
    once a step (:mod:`sim.fused_nb`). The step streams the operator A from memory, so besides FLOP/s each
    row gives A's bytes over the step time: the memory bandwidth the step achieves."""
    d, m = (50, 1000) if quick else (100, 2000)
    rows = []
    for model in ("wide", "compressed"):
        cfg = RunConfig(problem="sensing", model=model, d=d, rank=2, rank_hat=20 if model == "compressed" else 2,
                        measurements=m, loss="sum", eps=0.3, seeds=1, device=str(dev), dtype=dtype)
        p = make_problem(cfg, cfg.seed_list, dev)
        Ws, sc = init_wide(cfg, cfg.seed_list, dev) if model == "wide" else init_compressed(cfg, p, dev)
        k = 4
        fns = {"torch": _engine(p, [W.clone() for W in Ws], sc, eta, k)}
        if dev.type == "cpu":
            fns["numpy"] = _engine(p, [W.clone() for W in Ws], sc, eta, k, kernel="numpy")
        t = {name: sec / k for name, sec in _race(fns, sync=sync, **timing).items()}
        a_bytes = p.A[0].numel() * p.A.element_size()
        row = {"model": model, "d": d, "m": m, "operator_mb": a_bytes / 1e6, "ours_s": t["torch"],
               "ours_gb_per_s": a_bytes / t["torch"] / 1e9}
        if "numpy" in t:
            row.update({"numpy_kernel_s": t["numpy"], "numpy_kernel_gb_per_s": a_bytes / t["numpy"] / 1e9})
        rows.append(row)
    return rows


def run_bench(*, device: str = "cpu", dtype: str = "float64", quick: bool = False, peer: str | None = None,
              threads: int | None = None, matmul_n: int = 2000) -> dict:
    """Every measurement of the module docstring; ``peer="jax"`` adds JAX's (skipped, with the reason in
    ``peer_skipped``, when it cannot run). ``threads`` pins torch's threads (and XLA's, when JAX is not yet
    imported); ``quick``: d = 100, 200, B up to 64 / 1024 only, 3 short repeats (about a minute)."""
    if peer not in (None, "jax"):
        raise ValueError(f"peer must be None or 'jax', got {peer!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    if dtype not in ("float64", "float32"):
        raise ValueError(f"dtype must be 'float64' or 'float32', got {dtype!r}")
    if isinstance(matmul_n, bool) or not isinstance(matmul_n, int) or matmul_n < 1:
        raise ValueError(f"matmul_n must be an integer >= 1, got {matmul_n!r}")
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device must be 'cpu' or 'cuda[:i]', got {device!r}")
    numpy_pinned = None
    if threads is not None:
        torch.set_num_threads(threads)
        numpy_pinned = _pin_numpy_threads(threads)
    skipped = None
    if peer:
        from .peer_jax import available

        skipped = available(device=device, threads=threads)
        peer = None if skipped else peer
    dev = torch.device(device)
    dt = {"float64": torch.float64, "float32": torch.float32}[dtype]
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    timing = {"repeat": 3, "min_time": 0.01} if quick else {}
    torch.set_grad_enabled(False)
    try:
        a = torch.randn(matmul_n, matmul_n, dtype=dt, device=dev)
        b = torch.randn(matmul_n, matmul_n, dtype=dt, device=dev)
        mm = 2 * matmul_n**3 / _race({"mm": lambda: torch.mm(a, b)}, sync=sync)["mm"] / 1e9
        del a, b
        eta = 1e-12  # tiny: the weights barely move while being timed
        steps = [_steps(d, model, dev, dtype, eta, peer, {**timing, "sync": sync})
                 for d in ((100, 200) if quick else (100, 200, 500, 1000)) for model in ("wide", "compressed")]
        for r in steps:
            r["fraction_of_matmul"] = r["gflops"] / mm
        batched = [_batched("compressed", 100, (1, 64) if quick else (1, 16, 64), dev, dtype, eta, peer, timing, mm, sync),
                   _batched("wide", 20, (1, 1024) if quick else (1, 64, 1024), dev, dtype, eta, peer, timing, mm, sync)]
        sensing = _sensing(dev, dtype, eta, quick, timing, sync)
    finally:
        torch.set_grad_enabled(True)
    res = {"device": str(dev), "dtype": dtype, "threads": torch.get_num_threads(), "torch": torch.__version__,
           "cpu": platform.processor() or platform.machine(),
           "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
           "matmul_gflops": mm, "matmul_n": matmul_n, "steps": steps, "batched": batched, "sensing": sensing,
           "quick": quick,
           "peer": peer, "peer_skipped": skipped, "threads_pinned": threads,
           "numpy_threads_pinned": numpy_pinned}
    if peer:
        import jax

        res["peer_version"] = f"jax {jax.__version__} ({jax.default_backend()})"
    return res


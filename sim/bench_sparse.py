"""``cdln bench --sparse``: the compressed DLN on a large sparse completion problem, measured in one run.

* **setup**: sampling Ω and M*'s values from its factors, and the ARPACK spectral init (with its residual);
* **one GD step** (median of repeats) at the full size, against two floors computed here: the bytes a step
  must stream (indices, values, residual; both orders) at the measured memory bandwidth, and its FLOPs
  (6·|Ω|·r̂ for the three sparse products) at the measured matmul rate;
* **peak memory**: the process's resident-set high-water mark, reset before the problem is built;
* **scaling**: step time against |Ω| at a fixed size, and the log–log slope of the largest three;
* **time to error**: the compressed DLN and the sparse AltMin at the full size until recovery errors of 1e-2
  and 1e-4 (logging excluded from the times), with theory's stable step for the DLN.
"""

from __future__ import annotations

import json
import platform
import time

import numpy as np
import torch

import theory

from .build import make_problem
from .config import RunConfig
from .gd import gd_step
from .io import clear_peak_rss, peak_rss_bytes
from .models import init_compressed
from .sparse_ops import quiet_torch_threads

__all__ = ["run_sparse_bench", "format_sparse_bench", "write_sparse_outputs"]


def _bandwidth_gbs(device) -> float:
    """Copy bandwidth (read + write bytes per second) of a 256 MiB buffer, best of 5."""
    x = torch.empty(2**26, dtype=torch.float32, device=device).uniform_()
    y = torch.empty_like(x)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        y.copy_(x)
        best = min(best, time.perf_counter() - t0)
    return 2 * x.numel() * 4 / best / 1e9


def _matmul_gflops(device, dtype) -> float:
    a = torch.randn(1024, 1024, dtype=dtype, device=device)
    best = np.inf
    for _ in range(5):
        t0 = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t0)
    return 2 * 1024**3 / best / 1e9


def _cfg(n, nnz, rank_hat, dtype, **kw):
    return RunConfig(problem="completion", model=kw.pop("model", "compressed"), d=n, rank=10, rank_hat=rank_hat,
                     observed=nnz / n**2, sampling="fixed", storage="sparse", dtype=dtype, loss="mean", **kw)


def _step_time(p, Ws, sc, eta, repeat):
    gd_step(Ws, sc, eta, p)  # warm: numba compiled (cached on disk after the first run)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        gd_step(Ws, sc, eta, p)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def _time_to(cfg, p, errors, max_steps, log_every):
    """Training seconds (logging excluded) until recovery_error <= each target, and the steps."""
    hit, t_train = {}, 0.0
    if cfg.model == "altmin":
        U = p.altmin_init(cfg.rank_hat)
        V = p.least_squares(U, "cols")
        for it in range(1, max_steps + 1):
            t0 = time.perf_counter()
            U = p.least_squares(V, "rows")
            V = p.least_squares(U, "cols")
            t_train += time.perf_counter() - t0
            err = float(p.recovery_errors([V.transpose(1, 2), U])[0])
            for e in errors:
                if e not in hit and err <= e:
                    hit[e] = (t_train, it)
            if len(hit) == len(errors):
                break
        return hit, err, it
    Ws, sc = init_compressed(cfg, p, p.device)
    eta = cfg.eta
    step = 0
    while step < max_steps and len(hit) < len(errors):
        t0 = time.perf_counter()
        for _ in range(log_every):
            gd_step(Ws, sc, eta, p)
        t_train += time.perf_counter() - t0
        step += log_every
        err = float(p.recovery_errors(Ws)[0])
        for e in errors:
            if e not in hit and err <= e:
                hit[e] = (t_train, step)
    return hit, err, step


def run_sparse_bench(*, n: int = 100_000, nnz: int = 10_000_000, rank_hat: int = 20, dtype: str = "float32",
                     quick: bool = False, device: str = "cpu") -> dict:
    dev = torch.device(device)
    if quick:
        n, nnz = 20_000, 2_000_000  # the same 100 observations a row as the full size (recovery needs >> r log n)
    tdt = {"float32": torch.float32, "float64": torch.float64}[dtype]
    import os

    res = {"load_average_before": os.getloadavg()[0], "n": n, "nnz": nnz, "rank": 10, "rank_hat": rank_hat, "dtype": dtype, "device": str(dev),
           "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine(),
           "torch": torch.__version__}
    res["bandwidth_gbs"] = _bandwidth_gbs(dev)
    res["matmul_gflops"] = _matmul_gflops(dev, tdt)
    with quiet_torch_threads(dev):  # what a sparse run does (sim.results.execute)
        return _measure(res, n, nnz, rank_hat, dtype, dev, tdt, quick)


def _measure(res, n, nnz, rank_hat, dtype, dev, tdt, quick) -> dict:
    reset = clear_peak_rss()
    cfg = _cfg(n, nnz, rank_hat, dtype, eps=0.1, alpha=5.0)
    t0 = time.perf_counter()
    p = make_problem(cfg, [0], dev)
    res["setup_sampling_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    Ws, sc = init_compressed(cfg, p, dev)
    res["setup_spectral_init_s"] = time.perf_counter() - t0
    res["spectral_init_residual"] = p.spectral_residual
    res["step_s"] = _step_time(p, Ws, sc, 1.0, 5 if quick else 9)
    res["peak_rss_bytes"], res["peak_rss_reset"] = peak_rss_bytes() or 0, reset
    item = torch.empty((), dtype=tdt).element_size()
    # streamed per entry: CSR pass col idx (4) + value + residual write; CSC pass row idx (4) + perm (4) +
    # residual read; the factor rows gathered (2·r̂ values an entry) come from cache when the tables fit
    stream = nnz * (4 + 2 * item + 8 + item)
    res["floor_stream_s"] = stream / (res["bandwidth_gbs"] * 1e9)
    res["floor_gather_from_memory_s"] = 2 * nnz * rank_hat * item / (res["bandwidth_gbs"] * 1e9)
    res["floor_flops_s"] = 6 * nnz * rank_hat / (res["matmul_gflops"] * 1e9)
    # scaling with |Ω| at this n
    grid = [nnz // 100, nnz // 30, nnz // 10, nnz // 3, nnz] if not quick else [nnz // 10, nnz // 3, nnz]
    scal = []
    for m in grid:
        c = _cfg(n, m, rank_hat, dtype, eps=0.1, init="oracle")
        q = make_problem(c, [0], dev)
        W, s = init_compressed(c, q, dev)
        scal.append({"nnz": m, "step_s": _step_time(q, W, s, 1.0, 5)})
        del q, W
    x, y = np.log([r["nnz"] for r in scal]), np.log([r["step_s"] for r in scal])
    res["scaling"] = scal
    res["scaling_slope_top3"] = float(np.polyfit(x[-3:], y[-3:], 1)[0])
    res["scaling_slope_all"] = float(np.polyfit(x, y, 1)[0])
    # time to error: theory's stable step (mean loss, α = 5) at 3/4 of it
    sig = float(p.sigma_max())
    eta_c = theory.problem_critical_step_size(sig, depth=3, problem="completion", shape=(n, n), loss="mean",
                                              alpha=5.0, n_observed=p.obs[0].nnz)
    res["eta_c"], res["eta"] = float(eta_c), 0.75 * float(eta_c)
    targets = [1e-2, 1e-3, 1e-4]
    tte = {}
    for model, k, budget, every in (("compressed", rank_hat, 800, 25), ("compressed", 10, 800, 25),
                                    ("altmin", rank_hat, 15, 1), ("altmin", 10, 15, 1)):
        c = _cfg(n, nnz, k, dtype, eps=0.1, alpha=5.0, eta=res["eta"], model=model)
        hit, err, steps = _time_to(c, p, targets, budget, every)
        tte[f"{model} r̂={k}"] = {"model": model, "rank_hat": k,
                                 "hit": {str(e): {"train_s": v[0], "steps": v[1]} for e, v in hit.items()},
                                 "final_error": err, "steps": steps}
    res["time_to_error"] = tte
    import os

    res["load_average_after"] = os.getloadavg()[0]
    return res


def format_sparse_bench(r: dict) -> str:
    gib = r["peak_rss_bytes"] / 2**30
    out = [f"cdln bench --sparse — {r['device']}, {r['dtype']}, {r['threads']} threads, torch {r['torch']}",
           f"completion {r['n']:,} x {r['n']:,}, rank {r['rank']}, |Ω| = {r['nnz']:,}, compressed DLN r̂ = {r['rank_hat']}, L = 3",
           f"copy bandwidth {r['bandwidth_gbs']:.1f} GB/s; matmul rate {r['matmul_gflops']:.1f} GFLOP/s; 1-min load average "
           f"{r['load_average_before']:.2f} before the run, {r['load_average_after']:.2f} at its end (the run itself adds "
           f"about its {r['threads']} threads)", "",
           f"setup: sampling + values {r['setup_sampling_s']:.1f} s, ARPACK spectral init {r['setup_spectral_init_s']:.1f} s "
           f"(relative residual {r['spectral_init_residual']:.1e})",
           f"one GD step: {r['step_s']:.3f} s (median)",
           f"  floors: streaming {r['floor_stream_s']:.3f} s; gathers if from memory {r['floor_gather_from_memory_s']:.3f} s; "
           f"FLOPs at the matmul rate {r['floor_flops_s']:.3f} s",
           f"  (the step is {r['step_s'] / r['floor_gather_from_memory_s']:.0f}x the gather-bandwidth floor; what the floors "
           f"leave is inferred, not measured, to be the latency of the 2·|Ω| scattered factor-row reads)",
           f"peak memory: {gib:.2f} GiB (resident set high-water mark{'' if r['peak_rss_reset'] else ', not reset'})", "",
           "step time against |Ω| (same n, r̂):"]
    for s in r["scaling"]:
        out.append(f"  |Ω| = {s['nnz']:>12,}: {s['step_s'] * 1e3:9.2f} ms")
    out.append(f"  log-log slope: {r['scaling_slope_top3']:.2f} (largest three), {r['scaling_slope_all']:.2f} (all)")
    out += ["", f"time to recovery error (training time, logging excluded; DLN at η = 0.75 η_c = {r['eta']:.4g}, "
            "mean loss, α = 5, ε = 0.1; AltMin: one iteration = both half-steps):"]
    for name, t in r["time_to_error"].items():
        cells = []
        for e in ("0.01", "0.001", "0.0001"):  # r̂ = 10 = r: the exact rank; r̂ = 20: the paper's 2r
            h = t["hit"].get(e)
            unit = "iterations" if t["model"] == "altmin" else "steps"
            cells.append(f"{float(e):.0e}: {h['train_s']:.1f} s ({h['steps']} {unit})" if h
                         else f"{float(e):.0e}: not within {t['steps']} {unit}")
        out.append(f"  {name:<18}" + "   ".join(cells) + f"   (final {t['final_error']:.2e})")
    return "\n".join(out)


def write_sparse_outputs(r: dict, *, json_path=None, markdown_path=None) -> None:
    import datetime

    from .io import atomic_write_text as atomic

    if json_path:
        atomic(json_path, json.dumps(r, indent=2, default=float))
    if markdown_path:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        atomic(markdown_path, "\n".join([
            "# Benchmarks: sparse completion at scale", "",
            f"Generated by `cdln bench --sparse --markdown {markdown_path}` on {when}; every number is measured in",
            "that run. The step-time scaling plot is the figure `sparse-scaling` (docs/figures.md).", "",
            "```", format_sparse_bench(r), "```", ""]))

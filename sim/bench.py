"""`cdln bench`: speed ratios measured in one run (never asserted by tests).

Measures, on one device and dtype (default CPU, float64):

* the machine's matmul rate (GFLOP/s of a large ``torch.mm``);
* one GD step of the wide (d = 100, 200, 500, 1000) and compressed (r̂ = 20) DLN at L = 3 on
  factorization (sum loss): time, FLOPs (2 × :func:`theory.gd_step_macs`), achieved GFLOP/s
  and fraction of the matmul rate; the same step written in plain NumPy and with torch
  autograd, and the ratios;
* throughput (run-steps per second) of batched runs, B = 1, 16, 64, for the compressed DLN at
  d = 100 and the wide DLN at d = 20, against 64 sequential runs.

Timings are the best of 7 interleaved repeats of an auto-ranged inner loop (≥ 0.05 s each):
the variants being compared are timed in turn, so a shared machine's drift hits them alike.
"""

from __future__ import annotations

import json
import platform
import time

import numpy as np
import torch

import theory

from .config import RunConfig
from .gd import gd_step, uses_factored_step
from .models import init_compressed, init_wide, widths_of
from .build import make_problem

__all__ = ["run_bench", "format_bench"]


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


def run_bench(*, device: str = "cpu", dtype: str = "float64", quick: bool = False,
              matmul_n: int = 2000) -> dict:
    dev = torch.device(device)
    dt = {"float64": torch.float64, "float32": torch.float32}[dtype]
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    torch.set_grad_enabled(False)
    try:
        a = torch.randn(matmul_n, matmul_n, dtype=dt, device=dev)
        b = torch.randn(matmul_n, matmul_n, dtype=dt, device=dev)
        mm = 2 * matmul_n**3 / _race({"mm": lambda: torch.mm(a, b)}, sync=sync)["mm"] / 1e9
        del a, b
        dims = (100, 200) if quick else (100, 200, 500, 1000)
        steps = []
        eta = 1e-12  # tiny: the weights barely move while being timed
        for d in dims:
            for model in ("wide", "compressed"):
                cfg, p, Ws, sc = _setup(model, d, 1, dev, dtype)
                factored = uses_factored_step(Ws, p)
                flops = 2 * theory.gd_step_macs(widths_of(cfg), factored=factored)
                fns = {"ours": lambda: gd_step(Ws, sc, eta, p)}
                if dev.type == "cpu":
                    Wn = [W[0].numpy().copy() for W in Ws]
                    Mn = p.target[0].numpy()
                    fns["numpy"] = lambda: _numpy_step(Wn, Mn, eta, factored)
                Wa = [W[0].clone().requires_grad_(True) for W in Ws]
                fns["autograd"] = lambda: _autograd_step(Wa, p.target[0], eta)
                with torch.enable_grad():
                    t = _race(fns, sync=sync)
                row = {"model": model, "d": d, "factored": factored, "flops": flops, "ours_s": t["ours"],
                       "gflops": flops / t["ours"] / 1e9, "fraction_of_matmul": flops / t["ours"] / 1e9 / mm,
                       "autograd_s": t["autograd"]}
                if "numpy" in t:
                    row["numpy_s"] = t["numpy"]
                steps.append(row)
        batched = []
        for model, d in (("compressed", 100), ("wide", 20)):
            sizes = (1, 16, 64) + ((1024,) if dev.type == "cuda" else ())
            setups = {B: _setup(model, d, B, dev, dtype) for B in sizes}
            t = _race({B: (lambda s=s_: gd_step(s[2], s[3], eta, s[1])) for B, s_ in setups.items()}, sync=sync)
            rates = {B: B / t[B] for B in sizes}
            cfg1, p1, W1, _ = setups[1]
            flops = 2 * theory.gd_step_macs(widths_of(cfg1), factored=uses_factored_step(W1, p1))
            # best possible speed-up: every batched run-step at the matmul rate, vs one measured single step
            ceiling = t[1] / (flops / (mm * 1e9))
            batched.append({"model": model, "d": d, "run_steps_per_s": rates,
                            "speedup_vs_sequential": {B: r / rates[1] for B, r in rates.items()},
                            "flops_per_run_step": flops, "arithmetic_ceiling": ceiling})
    finally:
        torch.set_grad_enabled(True)
    return {
        "device": str(dev), "dtype": dtype, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
        "matmul_gflops": mm, "matmul_n": matmul_n, "steps": steps, "batched": batched,
    }


def format_bench(res: dict) -> str:
    out = [f"cdln bench — {res['device']}{' (' + res['gpu'] + ')' if res['gpu'] else ''}, {res['dtype']}, "
           f"{res['threads']} threads, torch {res['torch']}",
           f"matmul rate: {res['matmul_gflops']:.1f} GFLOP/s (torch.mm, n = {res['matmul_n']})", "",
           "One GD step, factorization, L = 3 (compressed: r̂ = 20; f = factored residual-free step)",
           f"  {'model':<11}{'d':>5}{'ours ms':>10}{'GFLOP/s':>9}{'of mm':>7}{'numpy/ours':>12}{'autograd/ours':>15}"]
    for r in res["steps"]:
        npr = f"{r['numpy_s'] / r['ours_s']:.2f}" if "numpy_s" in r else "—"
        out.append(f"  {r['model'] + (' f' if r['factored'] else ''):<11}{r['d']:>5}{r['ours_s'] * 1e3:>10.3f}{r['gflops']:>9.1f}"
                   f"{r['fraction_of_matmul']:>7.0%}{npr:>12}{r['autograd_s'] / r['ours_s']:>15.2f}")
    out += ["", "Batched runs: run-steps per second (speed-up over sequential runs)"]
    for b in res["batched"]:
        cells = "  ".join(f"B={B}: {v:,.0f} ({b['speedup_vs_sequential'][B]:.1f}x)" for B, v in b["run_steps_per_s"].items())
        out.append(f"  {b['model']:<11} d={b['d']:<5}{cells}   ceiling {b['arithmetic_ceiling']:.1f}x")
    out.append("  (ceiling: one measured single step / one run-step's FLOPs at the matmul rate)")
    out += ["", "Targets (issue 3)"]
    for name, ok, value in targets(res):
        out.append(f"  [{'met' if ok else 'NOT met'}] {name}: {value}")
    return "\n".join(out)


def targets(res: dict) -> list[tuple[str, bool, str]]:
    """The issue's speed targets, each with the measured value (CPU only where stated)."""
    rows = []
    st = res["steps"]
    big = [r for r in st if r["model"] == "wide" and r["d"] >= 500]
    if big:
        v = min(r["fraction_of_matmul"] for r in big)
        rows.append(("wide step >= 70% of the matmul rate for d >= 500", v >= 0.7, f"min {v:.0%}"))
    for model in ("wide", "compressed"):
        np_rows = [r for r in st if r["model"] == model and r["d"] >= 200 and "numpy_s" in r]
        if np_rows:
            v = max(r["ours_s"] / r["numpy_s"] for r in np_rows)
            rows.append((f"{model} step within 1.25x of NumPy for d >= 200", v <= 1.25, f"worst ours/numpy {v:.2f}"))
    v = min(r["autograd_s"] / r["ours_s"] for r in st)
    rows.append(("never slower than autograd", v >= 1.0, f"min autograd/ours {v:.2f}"))
    c100 = [r for r in st if r["model"] == "compressed" and r["d"] == 100]
    if c100:
        v = c100[0]["autograd_s"] / c100[0]["ours_s"]
        rows.append(("compressed d=100 >= 1.5x faster than autograd", v >= 1.5, f"{v:.2f}x"))
    for b in res["batched"]:
        v = b["speedup_vs_sequential"][64]
        rows.append((f"B=64 >= 8x sequential, {b['model']} d={b['d']}", v >= 8,
                     f"{v:.1f}x (arithmetic ceiling {b['arithmetic_ceiling']:.1f}x)"))
    return rows


def to_json(res: dict) -> str:
    return json.dumps(res, indent=2, default=float)


def write_outputs(res: dict, *, json_path=None, markdown_path=None) -> None:
    """Write the JSON and/or a Markdown page (the table as printed), each atomically."""
    import datetime

    from .io import atomic_write_text as atomic

    if json_path:
        atomic(json_path, to_json(res))
    if markdown_path:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        atomic(markdown_path, "\n".join([
            f"# Benchmarks ({res['device']})", "",
            f"Generated by `cdln bench --markdown {markdown_path}` on {when}; numbers below are",
            "measured, not typed. Ratios `numpy/ours` and `autograd/ours` above 1 mean our step is faster.",
            "`f` marks the factored (residual-free) step the compressed DLN uses on factorization.",
            "Timings of sub-millisecond steps vary markedly between runs on a shared machine; each",
            "number is the best of 7 interleaved repeats, and `cdln bench` prints fresh ones.", "",
            "```", format_bench(res), "```", ""]))

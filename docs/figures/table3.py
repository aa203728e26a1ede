"""Table 3 — the SVD of Algorithm 1's initialisation costs next to nothing against training."""

import time

import numpy as np
import torch

import theory
from cdln.plotting import COLORS, plt, target_sigma

TITLE = "Table 3 — SVD time against training time, d = 100 and d = 300"
CAPTION = ("Factorization with the authors' rank-10 target, L = 3, ε = 10⁻³ (the paper's settings; 10⁻² in the fast version), both nets trained by GD at the same step "
           "η = ½ η_c(σ*_1) (sum loss, from theory.critical_step_size) until ½‖W−M*‖_F² < 1e-6 · ½‖M*‖_F². Bars: "
           "training time of the wide DLN and of the compressed DLN (r̂ = 20, α = 1), and the time of the compressed "
           "net's one SVD of the surrogate (median of 20 float64 SVDs on this CPU), on a log scale.")
PAPER = ("SVD 0.009 s vs 109.7 s training (d = 100) and 0.082 s vs 381.3 s (d = 300) for the compressed net; the "
         "original takes 184.3 s and 511.2 s.")
FULL = dict(dims=[100, 300], rank=10, rank_hat=20, depth=3, eps=1e-3, steps=400_000, rel_tol=1e-6)
FAST = dict(dims=[100, 300], rank=10, rank_hat=20, depth=3, eps=1e-2, steps=40_000, rel_tol=1e-6)


def _svd_seconds(d: int, seed: int = 0, repeats: int = 20) -> float:
    M = torch.as_tensor(np.random.default_rng(seed).standard_normal((d, d)), dtype=torch.float64)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.linalg.svd(M, full_matrices=False)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def make(ctx):
    s = ctx.settings
    rows = []
    for d in s["dims"]:
        sig = target_sigma(d, s["rank"])
        eta = 0.5 * theory.critical_step_size(float(sig[0]), depth=s["depth"])
        tol = s["rel_tol"] * 0.5 * float(np.sum(sig**2))
        common = dict(problem="factorization", d=d, rank=s["rank"], rank_hat=s["rank_hat"], depth=s["depth"],
                      eps=s["eps"], eta=eta, loss="sum", tol=tol, steps=s["steps"], log_every=50)
        w = ctx.run(model="wide", **common)
        c = ctx.run(model="compressed", alpha=1.0, **common)
        rows.append({"d": d, "eta_sum": eta, "svd_s": _svd_seconds(d), "wide_s": w.summary["train_time_s"],
                     "compressed_s": c.summary["train_time_s"], "wide_steps": w.summary["steps_done"],
                     "compressed_steps": c.summary["steps_done"],
                     "both_reached_tol": w.summary["stopped"] == c.summary["stopped"] == "tolerance"})
    fig, ax = plt.subplots(figsize=(7, 3.8))
    x = np.arange(len(rows))
    ax.bar(x - 0.27, [r["wide_s"] for r in rows], 0.26, color=COLORS["wide"], label="wide DLN: training")
    ax.bar(x, [r["compressed_s"] for r in rows], 0.26, color=COLORS["compressed"], label="compressed DLN: training")
    ax.bar(x + 0.27, [r["svd_s"] for r in rows], 0.26, color="#f4a3ae", label="compressed DLN: SVD for the init")
    ax.set(xticks=x, xticklabels=[f"d = {r['d']}" for r in rows], yscale="log", ylabel="seconds (CPU, float64)")
    ax.legend()
    notes = [f"d = {r['d']}: SVD {r['svd_s'] * 1e3:.2f} ms; training wide {r['wide_s']:.2f} s ({r['wide_steps']} steps), "
             f"compressed {r['compressed_s']:.2f} s ({r['compressed_steps']} steps); SVD share of the compressed total "
             f"{r['svd_s'] / (r['svd_s'] + r['compressed_s']):.2%}; both reached the tolerance: {r['both_reached_tol']}"
             for r in rows]
    return fig, {"rows": rows}, notes

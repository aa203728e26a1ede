"""Sparse completion at scale: GD step time against the number of observations, and time to error.

Reads ``docs/bench-sparse.json``, written by ``cdln bench --sparse --out docs/bench-sparse.json`` (the
numbers are measured there, once; nothing is run here).
"""

import json

import numpy as np

from cdln.plotting import COLORS, plt, recorded

TITLE = "Sparse completion — step time against |Ω| and time to error at 10⁵ × 10⁵"
CAPTION = ("The compressed DLN (r̂ = 20, L = 3) on a rank-10 completion problem stored as observations only "
           "(`--storage sparse`). Left: one GD step's time against the number of observed entries |Ω| at a fixed "
           "size, log–log, with the fitted slope of the largest three points (1 = linear in |Ω|; below it, the "
           "O((n1 + n2)·r̂²) part and fixed costs still matter). Right: recovery error against training time for "
           "the compressed DLN (η = 0.75 η_c of theory, mean loss) and the sparse AltMin baseline at the same r̂ and at "
           "r̂ = r (its best case).")
PAPER = None
FULL = dict(bench="docs/bench-sparse.json")
FAST = dict(FULL)  # the figure only reads the benchmark's record


def notes_from(data: dict, settings: dict | None = None) -> list[str]:
    notes = [f"step time ∝ |Ω|^{data['slope_top3']:.2f} over the largest three |Ω| ({data['nnz'][-3]:,} … "
             f"{data['nnz'][-1]:,}); {data['step_s'][-1]:.3f} s a step at |Ω| = {data['nnz'][-1]:,}"]
    for model, t in data["time_to_error"].items():
        hits = ", ".join(f"{float(e):.0e} after {h['train_s']:.1f} s ({h['steps']} steps)" for e, h in t["hit"].items())
        notes.append(f"{model}: {hits or 'no target reached'}; final error {t['final_error']:.2e} after {t['steps']} steps")
    return notes


def make(ctx):
    path = recorded(ctx.settings["bench"], f"cdln bench --sparse --out {ctx.settings['bench']}")
    r = json.loads(path.read_text())
    nnz = np.array([s["nnz"] for s in r["scaling"]], float)
    st = np.array([s["step_s"] for s in r["scaling"]], float)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.loglog(nnz, st, "o-", color=COLORS["compressed"], label="measured")
    k = r["scaling_slope_top3"]
    a1.loglog(nnz[-3:], st[-1] * (nnz[-3:] / nnz[-1]) ** k, "--", color=COLORS["theory"], label=f"slope {k:.2f}")
    a1.loglog(nnz, st[-1] * nnz / nnz[-1], ":", color="grey", label="slope 1")
    a1.set(xlabel="observed entries |Ω|", ylabel="seconds per GD step",
           title=f"n1 = n2 = {r['n']:,}, r̂ = {r['rank_hat']}, {r['dtype']}, {r['threads']} threads")
    a1.legend()
    for model, t in r["time_to_error"].items():
        pts = sorted((h["train_s"], float(e)) for e, h in t["hit"].items())
        if pts:
            a2.loglog(*zip(*pts), "o-" if t["rank_hat"] == r["rank_hat"] else "s--",
                      color=COLORS["compressed" if t["model"] == "compressed" else "altmin"], label=model)
    a2.set(xlabel="training time to reach it (s)", ylabel="recovery error ‖W − M*‖/‖M*‖",
           title=f"|Ω| = {r['nnz']:,} (targets 1e-2, 1e-3, 1e-4)")
    a2.legend()
    data = {"nnz": nnz.astype(int).tolist(), "step_s": st.tolist(), "slope_top3": k,
            "time_to_error": r["time_to_error"], "n": r["n"]}
    return fig, data, notes_from(data)

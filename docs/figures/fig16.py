"""Figure 16 — α ablation: iterations and time for the compressed DLN to reach the tolerance."""

import numpy as np

from cdln.plotting import COLORS, SYNTH_FAST, SYNTH_FULL, plt, subset, target_sigma

TITLE = "Figure 16 — α ablation on completion: iterations and time to tolerance"
CAPTION = ("Compressed DLN (r̂ = 20, L = 3) on completion (d = 100, rank 10, 20% observed, η = 10 mean loss) for a "
           "range of outer-layer step multipliers α: GD steps (left) and training time (right) until the training "
           "loss falls below 1e-3 of its initial value (every mode fitted); the horizontal line is the wide DLN at the same η.")
PAPER = ("small α needs more iterations, but each iteration is so much cheaper that the compressed network still "
         "takes much less time than the original overall (α from 0.5 to 10 in steps of 0.25).")
FULL = dict(SYNTH_FULL, observed=0.2, alphas=[float(a) for a in np.arange(0.5, 10.01, 0.25)], steps=300_000,
            rel_tol=1e-3)
FAST = dict(SYNTH_FAST, observed=0.2, alphas=[0.5, 1.0, 2.0, 5.0, 10.0], steps=30_000, rel_tol=1e-3)


def make(ctx):
    s = ctx.settings
    sig = target_sigma(s["d"], s["rank"])
    # initial train loss ≈ ½·mean over observed entries of M*² = ½‖M*‖_F²/d² (uniform sampling)
    tol = s["rel_tol"] * 0.5 * float(np.sum(sig**2)) / s["d"] ** 2
    res = {"alpha": [], "steps": [], "time_s": [], "reached": []}
    # every run is asked for before any is read, so `cdln figures --paper` collects them in one pass
    runs = [ctx.run(**subset(s, problem="completion", model="compressed", alpha=a, tol=tol)) for a in s["alphas"]]
    w = ctx.run(**subset(s, problem="completion", model="wide", tol=tol))
    for a, r in zip(s["alphas"], runs):
        res["alpha"].append(a)
        res["steps"].append(r.summary["steps_done"])
        res["time_s"].append(r.summary["train_time_s"])
        res["reached"].append(r.summary["stopped"] == "tolerance")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    a = np.array(res["alpha"])
    for ax, key, yl in ((axes[0], "steps", "GD steps to tolerance"), (axes[1], "time_s", "training time to tolerance (s)")):
        y = np.array(res[key], float)
        ok = np.array(res["reached"])
        ax.plot(a, y, "o-", color=COLORS["compressed"], label="compressed DLN")
        if (~ok).any():
            ax.plot(a[~ok], y[~ok], "x", color="k", ms=9, label="budget ended first")
        wv = w.summary["steps_done"] if key == "steps" else w.summary["train_time_s"]
        ax.axhline(wv, color=COLORS["wide"], ls="--", label="wide DLN" + ("" if w.summary["stopped"] == "tolerance" else " (budget)"))
        ax.set(xlabel="α (outer-layer step multiplier)", ylabel=yl, yscale="log")
        ax.legend()
    k1 = res["alpha"].index(1.0) if 1.0 in res["alpha"] else 0
    notes = [f"tolerance: train loss < {tol:.3g}; wide DLN: {w.summary['steps_done']} steps, "
             f"{w.summary['train_time_s']:.2f} s ({w.summary['stopped']})",
             "compressed steps by α: " + ", ".join(f"{x:g}: {n}" for x, n in zip(res["alpha"], res["steps"])),
             f"every α reached the tolerance: {all(res['reached'])}; all faster in time than the wide DLN: "
             f"{all(t < w.summary['train_time_s'] for t in res['time_s'])}",
             f"steps at α = {res['alpha'][k1]:g} over steps at the largest α: {res['steps'][k1] / res['steps'][-1]:.2f}"]
    return fig, {**res, "wide_steps": w.summary["steps_done"], "wide_time_s": w.summary["train_time_s"], "tol": tol}, notes

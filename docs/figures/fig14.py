"""Figure 14 — c_val and c_vec of Assumption 1 along GD."""

import numpy as np

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, fit_steps, plt, subset, target_sigma

TITLE = "Figure 14 — Assumption 1's c_val and c_vec along GD (factorization, r = 3)"
CAPTION = ("Wide DLN on factorization (d = 100, rank-3 target, L = 3, η = 5 mean loss). For each mode i: "
           "c_val,i(t) = (σ_i(W_{L:1}(t)) − σ*_i)² (left) and c_vec,i(t) = 1 − min(|⟨u_i(t),u*_i⟩|, |⟨v_i(t),v*_i⟩|) "
           "(right), log scale; vertical lines at the measured fit steps t_i (σ_i ≥ 0.99 σ*_i). Assumption 1 asks "
           "both to be small after t_i.")
PAPER = "after t_i, c_val and c_vec fall to about 1e-15 (the float64 floor) in factorization."
FULL = dict(SYNTH_FULL, rank=3, eta=5.0, steps=250_000)
FAST = dict(SYNTH_FAST, rank=3, eta=5.0, steps=25_000)


def make(ctx):
    s = ctx.settings
    run = ctx.run(**subset(s, problem="factorization", model="wide"))
    sig = target_sigma(s["d"], s["rank"])
    steps = np.array(sorted(run.metrics["step"].unique()))
    sv = run.singular_values[:, 0, : s["rank"]]
    cval = (sv - sig) ** 2
    cvec = 1.0 - np.minimum(run.alignment["u"][:, 0], run.alignment["v"][:, 0])
    ts = fit_steps(run, sig)
    tiny = np.finfo(float).eps ** 2  # plot floor for exact zeros on a log axis
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    cmap = plt.get_cmap("viridis")
    for i in range(s["rank"]):
        c = cmap(i / max(s["rank"] - 1, 1))
        axes[0].plot(steps, np.maximum(cval[:, i], tiny), color=c, label=f"mode {i + 1}")
        axes[1].plot(steps, np.maximum(cvec[:, i], tiny), color=c, label=f"mode {i + 1}")
        for ax in axes:
            if np.isfinite(ts[i]):
                ax.axvline(ts[i], color=c, ls=":", lw=0.8)
    axes[0].set(yscale="log", xlabel="iteration", ylabel="c_val,i = (σ_i − σ*_i)²")
    axes[1].set(yscale="log", xlabel="iteration", ylabel="c_vec,i = 1 − |⟨·,·*⟩|")
    for ax in axes:
        ax.legend()
    after = [slice(np.searchsorted(steps, t), None) for t in ts if np.isfinite(t)]
    notes = [f"fit steps t_i: {[int(t) for t in ts if np.isfinite(t)]}",
             "largest c_val after t_i, per mode: " + ", ".join(f"{cval[a, i].max():.2g}" for i, a in enumerate(after)),
             "final c_val per mode: " + ", ".join(f"{x:.2g}" for x in cval[-1]),
             "final c_vec per mode (0 up to rounding, |cos| may exceed 1 by an ulp): " + ", ".join(f"{max(x, 0.0):.2g}" for x in cvec[-1])]
    return fig, {"step": steps, "sigma_star": sig, "c_val": cval, "c_vec": cvec, "fit_steps": ts}, notes

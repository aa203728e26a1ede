"""Figure 22 — the proof of Theorem 2: each mode is fitted no later by the compressed DLN (t_i^comp ≤ t_i^orig)."""

import numpy as np

import theory
from cdln.plotting import COLORS, SYNTH_FAST, SYNTH_FULL, fit_steps, plt, subset, target_sigma

TITLE = "Figure 22 — t_i^comp ≤ t_i^orig: fit step of each mode, wide vs compressed"
CAPTION = ("Factorization (d = 100, rank 5, L = 3, η = 10 mean loss). Left: σ_i(t)/σ*_i of the wide DLN (solid) and "
           "the compressed DLN (r̂ = 10, α = 1, dashed). Right: the step t_i at which each mode reaches 0.99 σ*_i, "
           "compressed against wide, with the gradient-flow prediction of Theorem 1 (theory.fit_time / η) for the "
           "compressed net; points below the diagonal are what the proof of Theorem 2 needs.")
PAPER = "illustration of the proof technique: t_i^comp ≤ t_i^orig for every mode i."
FULL = dict(SYNTH_FULL, rank=5)
FAST = dict(SYNTH_FAST, rank=5)


def make(ctx):
    s = ctx.settings
    sig = target_sigma(s["d"], s["rank"])
    wide = ctx.run(**subset(s, problem="factorization", model="wide"))
    comp = ctx.run(**subset(s, problem="factorization", model="compressed", alpha=1.0, rank_hat=2 * s["rank"]))
    tw, tc = fit_steps(wide, sig), fit_steps(comp, sig)
    eta_sum = theory.convert_step_size(s["eta"], s["d"] ** 2, frm=s["loss"], to="sum")  # N = d² entries
    pred = theory.fit_time(sig, depth=s["depth"], eps=s["eps"]) / eta_sum
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(10, 3.9))
    cmap = plt.get_cmap("viridis")
    for run, ls in ((wide, "-"), (comp, "--")):
        steps = np.array(sorted(run.metrics["step"].unique()))
        for i in range(s["rank"]):
            a0.plot(steps, run.singular_values[:, 0, i] / sig[i], ls=ls, color=cmap(i / (s["rank"] - 1)),
                    label=f"mode {i + 1}" if ls == "-" else None)
    a0.set(xlabel="iteration", ylabel="σ_i(W_{L:1}) / σ*_i", title="solid: wide, dashed: compressed")
    a0.legend()
    a1.plot(tw, tc, "o", color=COLORS["compressed"], label="measured t_i^comp vs t_i^orig")
    a1.plot(tw, pred, "s", mfc="none", color=COLORS["theory"], label="Theorem 1 flow prediction for t_i^comp")
    lim = [0, 1.05 * np.nanmax(np.concatenate([tw, tc]))]
    a1.plot(lim, lim, color="0.5", lw=0.8, label="t^comp = t^orig")
    a1.set(xlim=lim, ylim=lim, xlabel="t_i^orig (wide DLN, steps)", ylabel="t_i^comp (compressed DLN, steps)")
    a1.legend()
    notes = [f"t_i^orig: {[int(x) for x in tw]}; t_i^comp: {[int(x) for x in tc]}",
             f"t_i^comp ≤ t_i^orig for every mode: {bool(np.all(tc <= tw))}",
             "measured t_i^comp over the flow prediction: " + ", ".join(f"{x:.3f}" for x in tc / pred)
             + f" (log granularity {s['log_every']} steps)"]
    return fig, {"sigma_star": sig, "t_orig": tw, "t_comp": tc, "t_comp_predicted": pred}, notes

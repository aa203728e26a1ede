"""Figure 6 — synthetic completion against AltMin with an over-specified rank."""

import numpy as np

from cdln.plotting import COLORS, LABELS, SYNTH_FAST, SYNTH_FULL, mean_metric, plt, subset

TITLE = "Figure 6 — completion: compressed DLN, wide DLN and AltMin"
CAPTION = ("Matrix completion, d = 100, rank-10 target, 30% observed. Training error (mean squared error on the observed "
           "entries, left) and recovery error (right) against iterations, for the wide DLN, the compressed DLN "
           "(r̂ = 20, α = 5) and AltMin with the same over-specified rank r̂ = 20 (spectral init).")
PAPER = "the compressed DLN reaches lower training and recovery error than the original DLN and than AltMin with over-specified rank."
FULL = dict(SYNTH_FULL, observed=0.3, altmin_steps=200)
FAST = dict(SYNTH_FAST, observed=0.3, altmin_steps=100)


def make(ctx):
    s = ctx.settings
    runs = {m: ctx.run(**subset(s, problem="completion", model=m)) for m in ("wide", "compressed")}
    runs["altmin"] = ctx.run(**subset(s, problem="completion", model="altmin", steps=s["altmin_steps"], log_every=1))
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    data = {}
    for ax, metric, yl in ((axes[0], "train_loss", "training loss ½·mean_Ω (W−M)²"),
                           (axes[1], "recovery_error", "recovery error ‖W−M*‖_F/‖M*‖_F")):
        for kind, r in runs.items():
            x, y = mean_metric(r, metric)
            ax.plot(np.maximum(x, 1), y, color=COLORS[kind], label=LABELS[kind])
            data.setdefault(kind, {"step": x})[metric] = y
        ax.set(xscale="log", yscale="log", xlabel="iteration (log)", ylabel=yl)
        ax.legend()
    fin = {k: v["recovery_error"][-1] for k, v in data.items()}
    notes = ["final recovery error: " + ", ".join(f"{k} {v:.3g}" for k, v in fin.items()),
             f"compressed below AltMin at the end: {bool(fin['compressed'] < fin['altmin'])}; "
             f"below the wide DLN: {bool(fin['compressed'] <= fin['wide'])}",
             f"AltMin's unobserved-entry error at the end: {mean_metric(runs['altmin'], 'unobserved_error')[1][-1]:.3g} "
             "(over-specified rank fits the observed entries with spurious directions)"]
    return fig, data, notes

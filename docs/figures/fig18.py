"""Figure 18 — the wide DLN from a small random init instead of an orthogonal one."""

import numpy as np

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, error_panels, plt, subset

TITLE = "Figure 18 — wide DLN from a small random (Gaussian) init, against the compressed DLN"
CAPTION = ("The wide DLN initialised with i.i.d. Gaussian layers of the same Frobenius norm as the orthogonal init "
           "(ε·√d), against the compressed DLN (r̂ = 20, α = 5), on factorization (left) and completion with 30% "
           "observed (right); recovery error against iterations.")
PAPER = "with near-zero random weights for the original network, the compressed network still outperforms it in factorization and completion."
FULL = dict(SYNTH_FULL, observed=0.3)
FAST = dict(SYNTH_FAST, observed=0.3)


def make(ctx):
    s = ctx.settings
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    data, notes = {}, []
    for ax, prob in zip(axes, ("factorization", "completion")):
        runs = {"wide": ctx.run(**subset(s, problem=prob, model="wide", init="gaussian")),
                "compressed": ctx.run(**subset(s, problem=prob, model="compressed"))}
        data[prob] = error_panels(ax, None, runs)
        ax.set_title(f"{prob} (wide: Gaussian init)")
        ew, ec = data[prob]["wide"]["recovery_error"], data[prob]["compressed"]["recovery_error"]
        notes.append(f"{prob}: compressed ≤ wide at every logged step: {bool(np.all(ec <= ew + 1e-12))}; "
                     f"final errors wide {ew[-1]:.3g}, compressed {ec[-1]:.3g}")
    return fig, data, notes

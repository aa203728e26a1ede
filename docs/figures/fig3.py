"""Figure 3 — the wide DLN's outer factors turn towards the target's top singular vectors."""

import numpy as np

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, plt, subset

TITLE = "Figure 3 — outer factors of the wide DLN align with u*_1 and v*_1"
CAPTION = ("Wide DLN (L = 3, d = 100, rank-10 target), GD at η = 3 (mean loss), ε = 1e-2 as in the authors' code. "
           "|⟨top left singular vector of W_L(t), u*_1⟩| (solid) and |⟨top right singular vector of W_1(t), v*_1⟩| "
           "(dashed) for factorization (left) and completion with 30% observed (right). This is what motivates "
           "starting the compressed net's outer factors on the surrogate's singular vectors.")
PAPER = "the first principal components of W_L(t) and W_1(t) become aligned with u*_1 and v*_1 early in training."
FULL = dict(SYNTH_FULL, eps=1e-2, eta=3.0, observed=0.3, steps=40_000, log_every=100)
FAST = dict(SYNTH_FAST, eps=1e-2, eta=3.0, observed=0.3, steps=30_000, log_every=100)


def make(ctx):
    s = ctx.settings
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    data, notes = {}, []
    for ax, prob in zip(axes, ("factorization", "completion")):
        run = ctx.run(**subset(s, problem=prob, model="wide"))
        steps = np.array(sorted(run.metrics["step"].unique()))
        o = run.alignment["outer"][:, 0, :]
        ax.plot(steps, o[:, 0], color="#1f4e9c", label="W_L vs u*_1")
        ax.plot(steps, o[:, 1], color="#1f4e9c", ls="--", label="W_1 vs v*_1")
        ax.set(title=prob, xlabel="iteration", ylabel="|cosine| with the target's top singular vector", ylim=(0, 1.02))
        ax.legend()
        hit = np.nonzero(np.min(o, axis=1) >= 0.99)[0]
        notes.append(f"{prob}: start {o[0].round(3).tolist()}, end {o[-1].round(4).tolist()}; both ≥ 0.99 from step "
                     f"{int(steps[hit[0]]) if hit.size else 'never'} (first mode fitted at step "
                     f"{int(steps[np.argmax(run.singular_values[:, 0, 0] >= 0.99 * run.singular_values[-1, 0, 0])])})")
        data[prob] = {"step": steps, "outer_alignment": o}
    return fig, data, notes

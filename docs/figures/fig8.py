"""Figure 8 — incremental learning of the wide DLN (completion, r = 5)."""

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, incremental_figure

TITLE = "Figure 8 — incremental learning, completion, r = 5"
CAPTION = ("Wide DLN (L = 3, orthogonal init of scale ε) trained by GD on completion with a rank-5 target. Left: the "
           "top singular values of the end-to-end matrix W_{L:1} against iterations, dotted at the target's σ*_i. "
           "Right: |⟨u_i(t), u_i*⟩| (solid) and |⟨v_i(t), v_i*⟩| (dashed) for each mode.")
PAPER = "incremental learning in matrix completion (r = 5, 20% observed)."
FULL = dict(SYNTH_FULL, rank=5, observed=0.2)
FAST = dict(SYNTH_FAST, rank=5, observed=0.2)


def make(ctx):
    return incremental_figure(ctx, "completion")

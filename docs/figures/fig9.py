"""Figure 9 — incremental learning of the wide DLN (sensing, r = 5)."""

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, incremental_figure

TITLE = "Figure 9 — incremental learning, sensing, r = 5"
CAPTION = ("Wide DLN (L = 3, orthogonal init of scale ε) trained by GD on sensing with a rank-5 target. Left: the "
           "top singular values of the end-to-end matrix W_{L:1} against iterations, dotted at the target's σ*_i. "
           "Right: |⟨u_i(t), u_i*⟩| (solid) and |⟨v_i(t), v_i*⟩| (dashed) for each mode.")
PAPER = "incremental learning in matrix sensing (r = 5, m = 2000 Gaussian measurements)."
FULL = dict(SYNTH_FULL, rank=5, measurements=2000)
FAST = dict(SYNTH_FAST, rank=5, d=50, measurements=1000, steps=4000, log_every=20)


def make(ctx):
    return incremental_figure(ctx, "sensing")

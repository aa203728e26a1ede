"""Figure 11 — incremental learning of the wide DLN (sensing, r = 10)."""

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, incremental_figure

TITLE = "Figure 11 — incremental learning, sensing, r = 10"
CAPTION = ("Wide DLN (L = 3, orthogonal init of scale ε) trained by GD on sensing with a rank-10 target. Left: the "
           "top singular values of the end-to-end matrix W_{L:1} against iterations, dotted at the target's σ*_i. "
           "Right: |⟨u_i(t), u_i*⟩| (solid) and |⟨v_i(t), v_i*⟩| (dashed) for each mode. At the paper's settings the steps run with --kernel numpy (the operator read once a step, within a "
           "stated rounding bound of the torch step; docs/simulation.md). There m = 2000 is barely above the 2dr − r² = 1,900 "
           "degrees of freedom of a rank-10 100 × 100 matrix: the wide net fits every measurement and learns its modes one "
           "at a time in order, but its singular values overshoot σ*_i and its singular vectors end far from the "
           "target's (the notes give the alignment and the largest spurious singular value).")
PAPER = "incremental learning in matrix sensing (r = 10)."
FULL = dict(SYNTH_FULL, rank=10, measurements=2000, kernel="numpy")  # A read once a step (sim.fused_nb)
FAST = dict(SYNTH_FAST, rank=10, d=50, measurements=1500, steps=4000, log_every=20)


def make(ctx):
    return incremental_figure(ctx, "sensing")

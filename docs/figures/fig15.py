"""Figure 15 — sensing: the compressed DLN beats the wide DLN as in factorization and completion."""

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, comparison_figure

TITLE = "Figure 15 — matrix sensing: recovery error against iterations and time"
CAPTION = ("Matrix sensing with Gaussian measurements A_i (entries N(0, 1/m)), L = 3, r̂ = 2r, α = 2 (the paper's sensing value): recovery error "
           "of the wide and compressed DLN against iterations (left) and training time (right). At the paper's settings the steps run with --kernel numpy (the operator read once a step, within a "
           "stated rounding bound of the torch step; docs/simulation.md)")
PAPER = "sensing (d = 100, r = 5, m = 2000; and d = 200, r = 10, m = 8000): the compressed network consistently outperforms the original."
FULL = dict(SYNTH_FULL, rank=5, rank_hat=10, alpha=2.0, measurements=2000, kernel="numpy")  # A read once a step
FAST = dict(SYNTH_FAST, rank=5, rank_hat=10, alpha=2.0, d=50, measurements=1000, steps=4000, log_every=20)


def make(ctx):
    return comparison_figure(ctx, "sensing", note=" (both dominated by the measurement operator, m × d² per step)")

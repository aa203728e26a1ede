"""Figure 5 — factorization: the compressed DLN's error is below the wide DLN's at every step, and it is faster."""

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, comparison_figure

TITLE = "Figure 5 — factorization: recovery error against iterations and time"
CAPTION = ("Deep matrix factorization (d = 100, rank-10 target, L = 3): recovery error of the wide DLN and of the "
           "compressed DLN (r̂ = 20, α = 5) against iterations (left) and training time (right, CPU, float64).")
PAPER = "the compressed network's recovery error is lower than the original's at every iteration (Theorem 2) and it is faster in time."
FULL = dict(SYNTH_FULL)
FAST = dict(SYNTH_FAST)


def make(ctx):
    return comparison_figure(ctx, "factorization")

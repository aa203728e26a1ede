"""Figure 13 — incremental learning in factorization, close-up of the singular values (log scale)."""

from cdln.plotting import SYNTH_FAST, SYNTH_FULL, incremental_figure

TITLE = "Figure 13 — factorization, r = 5: singular values on a log scale"
CAPTION = ("The run of Figure 4 (wide DLN, factorization, r = 5) with the top r + 5 singular values of W_{L:1} on a "
           "log scale: the first five rise to σ*_i (dotted) one after another, the sixth onwards stay at their "
           "initial size ε^L.")
PAPER = ("the first r = 5 singular values are fitted one at a time; the sixth onwards stay (almost) unchanged from "
         "initialization; dotted lines mark σ*_i.")
FULL = dict(SYNTH_FULL, rank=5)
FAST = dict(SYNTH_FAST, rank=5)


def make(ctx):
    return incremental_figure(ctx, "factorization", log=True)

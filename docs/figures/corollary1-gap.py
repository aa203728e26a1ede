"""New figure — Corollary 1's gap at t = 0 under both readings of the wide network's init scale."""

import numpy as np

import theory
from cdln.plotting import COLORS, plt
from sim.instances import initial_pair

TITLE = "Corollary 1 at t = 0: the gap under the proof's scaling and under Eq. (3) read literally"
CAPTION = ("Initial squared-error gap ‖W_{L:1}(0) − M*‖_F² − ‖W̃_{L:1}(0) − M*‖_F² (wide minus compressed, "
           "Corollary 1 needs ≥ 0) over Haar-random orthogonal inits of the wide DLN (d = 8, σ* = (3, 2), r̂ = 2, "
           "L = 3, ε = 1e-2), from theory.initial_errors with the overlap measured on each drawn init. Left: per-layer "
           "singular values ε (the proof's reading; end-to-end ε^L). Right: Eq. (3) read literally (per-layer √ε, "
           "end-to-end ε^{L/2}). The dashed line is 0.")
PAPER = None
FULL = dict(sigma=[3.0, 2.0], d=8, rank_hat=2, depth=3, eps=1e-2, draws=2000)
FAST = dict(sigma=[3.0, 2.0], d=8, rank_hat=2, depth=3, eps=1e-2, draws=300)


#: the two panels: the wide net's init scale, and its label
PANELS = {"proof": "proof's scaling (ε per layer)", "eq3": "Eq. (3) literally (√ε per layer)"}


def _gap(sig, s, scaling, seed):
    """theory's exact gap for the overlap measured on one Haar-random orthogonal wide init (sim)."""
    kw = dict(rank_hat=s["rank_hat"], depth=s["depth"], eps=s["eps"], scaling=scaling)
    pair = initial_pair(sig, d=s["d"], aligned=False, seed=seed, **kw)
    return theory.initial_errors(sig, shape=s["d"], overlap=pair.overlap, **kw).gap


def make(ctx):
    s = ctx.settings
    sig = np.array(s["sigma"])
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    data = {}
    for ax, (scaling, label) in zip(axes, PANELS.items()):
        gaps = np.array([_gap(sig, s, scaling, seed=k) for k in range(s["draws"])])
        ax.hist(gaps, bins=40, color=COLORS["wide"], alpha=0.85)
        ax.axvline(0, color="k", ls="--", lw=1)
        ax.set(title=label, xlabel="gap at t = 0 (wide − compressed squared error)", ylabel="inits")
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 3))
        data[scaling] = gaps
    return fig, data, notes_from(data, s)


def notes_from(data, settings) -> list[str]:
    """The notes, from the plotted gaps alone (so the JSON beside the picture can be re-checked)."""
    notes = []
    for scaling, label in PANELS.items():
        gaps = np.asarray(data[scaling], float)
        notes.append(f"{label}: gap < 0 (Corollary 1 fails) in {np.mean(gaps < 0):.1%} of {gaps.size} draws; "
                     f"median gap {np.median(gaps):.3g}, range [{gaps.min():.3g}, {gaps.max():.3g}]")
    return notes

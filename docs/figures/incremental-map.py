"""Incremental learning, t_i^comp <= t_i^orig, over (d, r̂ − r, ε, L): the sweep's fit steps, mode by mode.

Reads the sweep ``docs/sweeps/incremental-map.toml`` (written by ``docs/sweeps/incremental-map-spec.py``; its
table ``docs/sweeps/incremental-map/results.parquet``, one row per (model, d, r̂, ε, L, seed) with each
mode's first logged step at 0.99 σ*_i): nothing is run here; theory's fit time is evaluated beside it.
"""


import numpy as np
import pandas as pd

import theory
from cdln.plotting import plt, recorded

TITLE = "Incremental learning over (d, r̂ − r, ε, L): each mode fitted no later by Algorithm 1 than by the wide DLN"
CAPTION = ("Fit step t_i (first logged step with σ_i(W_{L:1}) ≥ 0.99 σ*_i) of every mode i of the authors' target "
           "(r = 5, factorization, sum loss, η = 0.2 η_c, budget 3 × theory's fit time of the smallest mode), for the "
           "wide DLN (orthogonal init, per-layer ε) and Algorithm 1 at r̂ = 3 … 20, 4 seeds per cell. Colour: share "
           "of (seed, mode) pairs with t_i^comp ≤ t_i^orig (a mode the compressed net cannot hold, i > r̂, counts as "
           "never fitted; one the wide net does not fit within the budget counts as fitted after it). The number "
           "in a cell is the smallest t_i^orig / t_i^comp over its fitted pairs; grey: the wide run failed (notes).")
PAPER = None
SWEEP = "docs/sweeps/incremental-map"
FULL = dict(results=f"{SWEEP}/results.parquet", spec="docs/sweeps/incremental-map.toml")
FAST = dict(FULL)  # the same table: the sweep is run once (cdln sweep), the figure only reads it


def pairs(df: pd.DataFrame) -> list[dict]:
    """One dict per (compressed run, mode): both fit steps (−1: not fitted) and theory's fit step of the mode."""
    wide = df[df.model == "wide"].set_index(["d", "depth", "eps", "seed"])
    out = []
    for _, c in df[df.model == "compressed"].iterrows():
        w = wide.loc[(c.d, c.depth, c.eps, c.seed)]
        sig = theory.authors_target(int(c.d), int(c["rank"]), int(c.seed)).sigma
        tf = theory.fit_time(sig, depth=int(c.depth), eps=float(c.eps)) / float(c.eta)
        for i, (tc, tw) in enumerate(zip(c.fit_steps, w.fit_steps)):
            out.append(dict(d=int(c.d), depth=int(c.depth), eps=float(c.eps), rank_hat=int(c.rank_hat),
                            dr=int(c.rank_hat) - int(c["rank"]), seed=int(c.seed), mode=i, t_comp=int(tc),
                            t_orig=int(tw), t_theory=float(f"{tf[i]:.6g}"), log_every=int(c.log_every)))
    return out


def holds(p: pd.DataFrame) -> pd.Series:
    """t_comp <= t_orig, with −1 (not fitted within the budget) as +∞ on either side."""
    inf = np.iinfo(np.int64).max
    tc = p.t_comp.where(p.t_comp >= 0, inf)
    tw = p.t_orig.where(p.t_orig >= 0, inf)
    return (tc <= tw) & (tc < inf)


def notes_from(data: dict, settings: dict | None = None) -> list[str]:
    p = pd.DataFrame(data["pairs"])
    p["ok"] = holds(p)
    ge, lt = p[p.dr >= 0], p[p.dr < 0]
    notes = [f"r̂ ≥ r: t_i^comp ≤ t_i^orig for {int(ge.ok.sum())} of {len(ge)} (seed, mode) pairs; wide net fitted "
             f"within the budget in {int((ge.t_orig >= 0).sum())} of them, Algorithm 1 in {int((ge.t_comp >= 0).sum())}"]
    held = lt["mode"] < lt.rank_hat
    notes.append(f"r̂ < r: modes i ≤ r̂ hold in {int(lt[held].ok.sum())} of {int(held.sum())} pairs; modes i > r̂ are "
                 f"never fitted by Algorithm 1: {int((lt[~held].t_comp < 0).sum())} of {int((~held).sum())}")
    f = ge[(ge.t_comp >= 0) & (ge.t_orig >= 0)]
    res = f.t_comp / f.t_theory - 1
    notes.append(f"t_i^comp against theory.fit_time/η (r̂ ≥ r, every mode): {res.min():+.3g} … {res.max():+.3g} "
                 f"(the verdict asserts within ±10%)")
    for L, g in f.groupby("depth"):
        ratio = g.t_orig / g.t_comp
        by = ", ".join(f"d = {d}: {x.min():.3g} … {x.max():.3g}" for d, x in ratio.groupby(g.d))
        notes.append(f"L = {L}: t_i^orig / t_i^comp over ε and modes: {by}")
    fails = pd.DataFrame(data["failed"])
    if len(fails):
        what = "; ".join(f"{g.model.iloc[0]} d = {d}, L = {L}, ε = {e:g}: {len(g)} seeds ({g.message.iloc[0][:60]}…)"
                         for (d, L, e), g in fails.groupby(["d", "depth", "eps"]))
        notes.append(f"runs that failed (their cells grey, all r̂): {what}")
    return notes


def make(ctx):
    s = ctx.settings
    path = recorded(s["results"], f"cdln sweep {s['spec']} --out {SWEEP}")
    df = pd.read_parquet(path)
    bad = df[df.status != "completed"]
    # a failed run's cell is left blank (grey) and named in the notes; nothing else is dropped
    keys = ["d", "depth", "eps", "seed"]
    lost = set(map(tuple, bad[keys].to_numpy().tolist()))
    ok = df[[tuple(x) not in lost for x in df[keys].to_numpy().tolist()]]
    data = {"pairs": pairs(ok), "failed": [dict(model=str(x.model), d=int(x.d), depth=int(x.depth), eps=float(x.eps),
                                                  rank_hat=int(x.rank_hat), seed=int(x.seed), message=str(x.message))
                                             for _, x in bad.iterrows()]}
    p = pd.DataFrame(data["pairs"])
    p["ok"] = holds(p)
    ds, Ls = sorted(p.d.unique()), sorted(p.depth.unique())
    drs, es = sorted(p.dr.unique()), sorted(p.eps.unique())
    fig, axes = plt.subplots(len(Ls), len(ds), figsize=(2.9 * len(ds), 2.6 * len(Ls)), sharex=True, sharey=True,
                             squeeze=False)
    for i, L in enumerate(Ls):
        for j, d in enumerate(ds):
            ax = axes[i, j]
            Z = np.full((len(drs), len(es)), np.nan)
            for yi, dr in enumerate(drs):
                for xi, e in enumerate(es):
                    c = p[(p.d == d) & (p.depth == L) & (p.dr == dr) & (p.eps == e)]
                    if not len(c):
                        continue
                    Z[yi, xi] = c.ok.mean()
                    f = c[(c.t_comp > 0) & (c.t_orig > 0)]
                    if len(f):
                        ax.text(xi + 0.5, yi + 0.5, f"{(f.t_orig / f.t_comp).min():.3g}", ha="center", va="center",
                                fontsize=6)
            ax.set_facecolor("#bbbbbb")
            im = ax.pcolormesh(np.arange(len(es) + 1), np.arange(len(drs) + 1), np.ma.masked_invalid(Z), cmap="RdBu",
                               vmin=0, vmax=1)
            ax.grid(False)
            ax.set_xticks(np.arange(len(es)) + 0.5)
            ax.set_xticklabels([f"{e:g}" for e in es])
            ax.set_yticks(np.arange(len(drs)) + 0.5)
            ax.set_yticklabels([str(v) for v in drs])
            ax.set_title(f"d = {d}, L = {L}", fontsize=8)
            if i == len(Ls) - 1:
                ax.set_xlabel("ε")
            if j == 0:
                ax.set_ylabel(r"$\hat r - r$")
    fig.colorbar(im, ax=axes, label="share of (seed, mode) with t_comp ≤ t_orig", shrink=0.8)
    return fig, data, notes_from(data)

"""Theorem 2 along the flow over (d, r, r̂), d up to 200, 20 Haar-random inits per cell: where it fails, and why.

Reads ``docs/sweeps/theorem2-flow/results.parquet`` (spec ``docs/sweeps/theorem2-flow.toml``, written by
``python -m sweep.maps``: one row per (d, r, r̂, L, seed) with the worst margin along GD at a small step,
the flow's proxy): nothing is run here; theory's β mode (theory.beta_flow) is evaluated beside it.
"""

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

import theory
from cdln.plotting import plt, recorded

TITLE = "Theorem 2 along the flow over (d, r, r̂): it fails only once r̂ > d − r"
CAPTION = ("Worst margin min_t (‖W_{L:1}(t) − M*‖² − ‖W̃_{L:1}(t) − M*‖²) of the wide DLN (Haar-random orthogonal "
           "init, per-layer ε = 0.2) against Algorithm 1 on factorization targets with the authors' spectrum, 20 inits "
           "per cell, L = 2 and L = 3 (d = 8 … 200), along GD at η = 0.1 η_c (the flow's proxy; horizon 3 × theory's fit time of the smallest "
           "mode). Left: share of inits violating Theorem 2 (beyond the rounding band), for each L and r = 2, 5, over d "
           "and r̂ (columns: r̂ − r small, and r̂ near d − r; blank: r̂ > d). Right: the worst margin in units of one "
           "β mode's error p(t)² (theory.beta_flow at the worst step's time), minus d − r − r̂: the wide net's "
           "excess c, so that the margin is (d − r − r̂ + c)·p(t)²; Theorem 2 fails exactly where c < r̂ − (d − r).")
PAPER = None
SWEEP = "docs/sweeps/theorem2-flow"
#: L = 2 and L = 3, each up to d = 200 (two tables: L = 3 costs ~7× more per cell)
FULL = dict(results=[f"{SWEEP}/results.parquet", f"{SWEEP}-L3/results.parquet"],
            spec=["docs/sweeps/theorem2-flow.toml", "docs/sweeps/theorem2-flow-L3.toml"])
FAST = dict(FULL)  # the same table: it is measured once (python -m sweep.maps), the figure only reads it


def rows(df: pd.DataFrame) -> list[dict]:
    """Per (cell, seed): the margin, its rounding band, theory's β-mode error at the worst step, the excess c."""
    out = []
    for _, x in df.iterrows():
        L, d = int(x.depth), int(x.d)
        p = float(theory.beta_flow(float(x.eps) ** L, np.array([x.worst_step * x.eta]), depth=L)[0])
        band = 16 * (L * d + d * d) * np.finfo(float).eps * float(x.target_sq)  # verify's GD tie band
        k = int(x.rank_hat) - int(x["rank"])
        out.append(dict(d=d, r=int(x["rank"]), rank_hat=int(x.rank_hat), depth=L, seed=int(x.seed),
                        margin=float(x.min_margin), band=float(band), slack=float(x.min_margin_plus_beta),
                        beta_mode_error=p**2, at_end=bool(x.worst_step == x.steps),
                        beta_measured=float(x.beta_error_at_worst) / k if k > 0 else None,
                        excess=float(x.min_margin) / p**2 - (d - int(x["rank"]) - int(x.rank_hat))))
    return [{k: float(f"{v:.6g}") if isinstance(v, float) else v for k, v in c.items()} for c in out]


def within_text(t: pd.DataFrame) -> str:
    """What the excess's range implies (computed, not typed)."""
    lo = bool((t.excess >= 0).all())
    hi = all(bool((g.excess < r).all()) for r, g in t.groupby("r"))
    if lo and hi:
        return "so 0 ≤ c < r for every r: it holds for every init when r̂ ≤ d − r and fails for every init at r̂ = d"
    return f"c ≥ 0 for every init: {lo}; c < r for every init: {hi}"


def notes_from(data: dict, settings: dict | None = None) -> list[str]:
    t = pd.DataFrame(data["rows"])
    viol = t.margin < -t.band
    notes = []
    for (L, r), g in t.groupby(["depth", "r"]):
        v = g.margin < -g.band
        hi = g.rank_hat > g.d - g.r
        notes.append(f"L = {L}, r = {r}: inits violating with r̂ ≤ d − r: {int(v[~hi].sum())} of {int((~hi).sum())}; with "
                     f"r̂ > d − r: {int(v[hi].sum())} of {int(hi.sum())} (at r̂ = d: {int(v[g.rank_hat == g.d].sum())} of "
                     f"{int((g.rank_hat == g.d).sum())}); d = {', '.join(str(x) for x in sorted(g.d.unique()))}")
    rng = "; ".join(f"L = {L}, r = {r}: {g.excess.min():.3g} … {g.excess.max():.3g}" for (L, r), g in t.groupby(["depth", "r"]))
    notes.append(f"Law: margin = (d − r − r̂ + c)·p(t)², p(t)² one β mode's error; the wide net's excess c over all "
                 f"{len(t)} inits: {t.excess.min():.3g} … {t.excess.max():.3g} ({rng}), {within_text(t)}")
    k = t.rank_hat - (t.d - t.r)
    share = "; ".join(f"L = {L}, r = {r}: " + ", ".join(f"k = {kk}: {float(v.mean()):.0%}" for kk, v in
                                                        viol[g.index][k[g.index] > 0].groupby(k[g.index][k[g.index] > 0]))
                      for (L, r), g in t.groupby(["depth", "r"]))
    notes.append(f"With r̂ = d − r + k, 0 < k ≤ r, an init fails iff c < k: share failing per k — {share}")
    conc = "; ".join(f"L = {L}, r = {r}: " + ", ".join(f"d = {d}: {x.mean():.3g} ± {x.std():.2g}"
                                                       for d, x in g.excess.groupby(g.d))
                     for (L, r), g in t.groupby(["depth", "r"]))
    last = ", ".join(f"{g[g.d == g.d.max()].excess.mean() / r:.3g} (L = {L}, r = {r}, d = {g.d.max()})"
                     for (L, r), g in t.groupby(["depth", "r"]))
    notes.append(f"c (mean ± std over the inits of each d) concentrates as d grows: {conc}; c/r at the largest d: {last}; "
                 f"worst step at the end of the horizon in {int(t.at_end.sum())} of {len(t)} inits")
    b = t[t.beta_measured.notna()]
    notes.append(f"The bound of the verdict, margin ≥ −(r̂ − r)β^{{2L}} (measured β modes of the compressed net): "
                 f"holds in {int(np.sum(t.slack >= -t.band))} of {len(t)} inits; measured β-mode error per mode over "
                 f"theory's flow value − 1 (GD at 0.1 η_c vs the flow): {(b.beta_measured / b.beta_mode_error - 1).min():+.3g} "
                 f"… {(b.beta_measured / b.beta_mode_error - 1).max():+.3g}; smallest margin {t.margin.min():.3g}")
    return notes


def make(ctx):
    s = ctx.settings
    for path, sp in zip(s["results"], s["spec"]):
        recorded(path, f"python -m sweep.maps {sp} --out {Path(path).parent}")
    spec = tomllib.loads(Path(s["spec"][0]).read_text())  # the r̂ columns (the same in every spec)
    data = {"rows": rows(pd.concat([pd.read_parquet(p) for p in s["results"]], ignore_index=True))}
    t = pd.DataFrame(data["rows"])
    t["viol"] = t.margin < -t.band
    near = [int(x) for x in spec["rank_hat_around_d_minus_r"]]
    low = [int(x) for x in spec["rank_hat_minus_rank"]]
    cols = [("low", x) for x in low] + [("near", x) for x in near]
    labels = [f"r+{x}" if x else "r" for x in low] + [f"d−r{x:+d}" if x else "d−r" for x in near]
    groups = list(t.groupby(["depth", "r"]))
    Ls = sorted(t.depth.unique())
    rs = sorted(t.r.unique())
    fig = plt.figure(figsize=(4.6 * len(rs) + 5, 4 * len(Ls)))
    gs = fig.add_gridspec(len(Ls), len(rs) + 1, width_ratios=[1] * len(rs) + [1.2])
    for j, ((L, r), g) in enumerate(groups):
        ds = sorted(g.d.unique())
        ax = fig.add_subplot(gs[Ls.index(L), rs.index(r)])
        Z = np.full((len(ds), len(cols)), np.nan)
        for yi, d in enumerate(ds):
            for xi, (kind, x) in enumerate(cols):
                rh = r + x if kind == "low" else d - r + x
                c = g[(g.d == d) & (g.rank_hat == rh)]
                if len(c):
                    Z[yi, xi] = c.viol.mean()
                    ax.text(xi + 0.5, yi + 0.5, str(int(c.viol.sum())), ha="center", va="center", fontsize=6)
        im = ax.pcolormesh(np.arange(len(cols) + 1), np.arange(len(ds) + 1), np.ma.masked_invalid(Z), cmap="RdBu_r",
                           vmin=0, vmax=1)
        ax.axvline(len(low) + near.index(0) + 1, color="k", lw=1.2)  # r̂ = d − r | r̂ > d − r
        ax.grid(False)
        ax.set_xticks(np.arange(len(cols)) + 0.5)
        ax.set_xticklabels(labels, rotation=90, fontsize=7)
        ax.set_yticks(np.arange(len(ds)) + 0.5)
        ax.set_yticklabels([str(d) for d in ds])
        ax.set(xlabel=r"$\hat r$", ylabel="d", title=f"L = {L}, r = {r}: inits violating (of {len(g) // len(g.groupby(['d', 'rank_hat']))})")
    plt.colorbar(im, ax=ax, label="share of inits violating")
    ax = fig.add_subplot(gs[:, -1])
    for r, c in zip(sorted(t.r.unique()), ("C0", "C1")):
        for L, m in zip(sorted(t.depth.unique()), "os^"):
            g = t[(t.r == r) & (t.depth == L)]
            ax.plot(g.d - g.r - g.rank_hat, g.excess, m, color=c, ms=3, alpha=0.5, label=f"r = {r}, L = {L}")
        ax.axhline(r, color="k", lw=0.8, ls="--")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xscale="symlog", xlabel=r"$d - r - \hat r$", ylabel=r"excess $c$ = margin / $p(t)^2 - (d - r - \hat r)$",
           title=r"the wide net's excess over $(d - r - \hat r)\,p(t)^2$ (dashed: $c = r$)")
    ax.legend()
    return fig, data, notes_from(data)

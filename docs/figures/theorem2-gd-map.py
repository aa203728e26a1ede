"""Theorem 2 along discrete GD at d = 100: region maps over (η/η_c(α), α) and over (r̂/d, ε).

Reads ``docs/sweeps/theorem2-gd-alpha/results.parquet`` and ``docs/sweeps/theorem2-gd-rank/results.parquet``
(specs beside them, written by ``python -m sweep.maps``: one row per (cell, seed) with the worst margin
min_t (‖W_{L:1}(t) − M*‖² − ‖W̃_{L:1}(t) − M*‖²) over every step of GD): nothing is run here.
"""

import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from cdln.plotting import plt, recorded

TITLE = "Theorem 2 along GD at d = 100: where it holds over (η/η_c(α), α) and over (r̂/d, ε)"
CAPTION = ("Both networks along GD on factorization targets with the authors' spectrum (d = 100, r = 10, L = 3), the wide "
           "DLN (α = 1) from Haar-random orthogonal inits at the proof's scale (per-layer ε) against Algorithm 1 (outer "
           "step αη), at the same η, given as a share of the compressed net's ε-exact critical step η_c(α); 4 seeds per "
           "cell (target vectors and wide init), every step measured. Colour: the cell's worst margin "
           "min_t(wide − compressed squared error) relative to ‖M*‖² on a symmetric log scale (red: Theorem 2 fails); "
           "text: seeds violating beyond rounding / seeds, × where the wide net left the floats (η above its own η_c(1)). Left: r̂ = 20, ε = 10⁻², over α and η/η_c(α) (α = 0.75 … 0.97 on a coarser η grid, blank elsewhere; "
           "dashed: η = η_c(α)/2, where the compressed modes stop rising monotonically). Right: α = 5, η = 0.25 η_c(α) (the paper text's share), over "
           "r̂ and ε (dashed: r̂ = d − r, the flow's line), within 1.2 × the slower net's fit time; the notes add its "
           "r̂ ≥ d − r cells at ε = 0.1, 0.3 run 5× longer, to the margin's minimum.")
PAPER = None
SWEEP = "docs/sweeps/theorem2-gd"
#: the α panel's tables, the (r̂, ε) panel's, and the longer horizon of its r̂ >= d − r cells (in the notes)
FULL = dict(alpha=["alpha", "alpha-below1"], rank=["rank"], long=["rank-long"])
FAST = dict(FULL)  # the same tables: measured once (python -m sweep.maps), the figure only reads them


def band(df: pd.DataFrame) -> np.ndarray:
    """Rounding band of a margin: verify's GD tie band 16·(L·d + d²)·eps·‖M*‖²."""
    return 16 * (df.depth * df.d + df.d**2) * np.finfo(float).eps * df.target_sq


def cells(df: pd.DataFrame, by: list[str]) -> list[dict]:
    """Per cell: seeds, seeds violating, the worst relative margin, the first violating step, diverged seeds."""
    df = df.assign(viol=df.min_margin < -band(df), rel=df.min_margin / df.target_sq)
    out = []
    for key, g in df.groupby(by):
        v = g[g.viol]
        out.append({**dict(zip(by, key)), "n": len(g), "violating": int(g.viol.sum()), "worst_rel": float(g.rel.min()),
                    "first_violation": int(v.first_violation_step.min()) if len(v) else -1,
                    "diverged": int((~g.finite).sum()), "steps": int(g.steps.max())})
    return [{k: float(f"{x:.6g}") if isinstance(x, float) else x for k, x in c.items()} for c in out]


def notes_from(data: dict, settings: dict | None = None) -> list[str]:
    a, r, lg = pd.DataFrame(data["alpha"]), pd.DataFrame(data["rank"]), pd.DataFrame(data["long"])
    notes = []
    fails = sorted(a[a.violating == a.n].alpha.unique())
    holds = sorted(a[a.violating == 0].alpha.unique())
    mixed = sorted(set(a.alpha) - set(fails) - set(holds))
    notes.append(f"the line in α: fails at every η for α ∈ {{{', '.join(f'{x:g}' for x in fails)}}}, holds at every η for "
                 f"α ∈ {{{', '.join(f'{x:g}' for x in holds)}}}" + (f", mixed at {mixed}" if mixed else "") +
                 (f"; so α* ∈ ({max(fails):g}, {min(holds):g})" if fails and holds and max(fails) < min(holds) else ""))
    bad = a[a.violating > 0]
    mono = a[(a.eta_fraction <= 0.5) & (a.alpha >= 1)]
    notes.append(f"(η/η_c(α), α) map: {int(a.violating.sum())} of {int(a.n.sum())} seeds violate, in {len(bad)} of "
                 f"{len(a)} cells; inside η ≤ η_c(α)/2 with α ≥ 1: {int(mono.violating.sum())} of {int(mono.n.sum())}; "
                 f"diverged seeds: {int(a.diverged.sum())}")
    for alpha, g in a.groupby("alpha"):
        v = g[g.violating > 0]
        notes.append(f"α = {alpha:g}: violating cells at η/η_c(α) = "
                     f"{', '.join(f'{x:g}' for x in v.eta_fraction) or 'none'}; worst relative margin "
                     f"{g.worst_rel.min():.3g}")
    bad = r[r.violating > 0]
    low = r[r.rank_hat <= r.d - r["rank"]]
    notes.append(f"(r̂, ε) map: {int(r.violating.sum())} of {int(r.n.sum())} seeds violate, in {len(bad)} of {len(r)} "
                 f"cells; with r̂ ≤ d − r: {int(low.violating.sum())} of {int(low.n.sum())}; violating cells (r̂, ε): "
                 f"{', '.join(f'({int(x.rank_hat)}, {x.eps:g})' for x in bad.itertuples()) or 'none'}")
    notes.append(f"longer horizon for r̂ ≥ d − r ({int(lg.steps.min())} … {int(lg.steps.max())} steps): "
                 f"{int(lg.violating.sum())} of {int(lg.n.sum())} seeds violate; violating cells (r̂, ε): "
                 f"{', '.join(f'({int(x.rank_hat)}, {x.eps:g}): first at step {int(x.first_violation)}' for x in lg[lg.violating > 0].itertuples()) or 'none'}; "
                 f"worst relative margin {lg.worst_rel.min():.3g}")
    return notes


def _map(ax, t: pd.DataFrame, x: str, y: str, xl: str, yl: str, title: str):
    """Cells coloured by the worst relative margin (symmetric log scale: red below 0, blue above); the text is
    the number of seeds violating of the cell's seeds, × where the wide net left the floats."""
    from matplotlib.colors import SymLogNorm

    xs, ys = sorted(t[x].unique()), sorted(t[y].unique())
    Z = np.full((len(ys), len(xs)), np.nan)
    for c in t.itertuples():
        i, j = ys.index(getattr(c, y)), xs.index(getattr(c, x))
        Z[i, j] = c.worst_rel
        label = f"{c.violating}/{c.n}" + (" ×" if c.diverged else "")
        ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=6,
                color="w" if abs(c.worst_rel) > 1e-3 else "k")
    norm = SymLogNorm(linthresh=1e-13, linscale=0.2, vmin=-1, vmax=1, base=10)
    im = ax.pcolormesh(np.arange(len(xs) + 1), np.arange(len(ys) + 1), np.ma.masked_invalid(Z), cmap="RdBu",
                       norm=norm)
    ax.grid(False)
    ax.set_xticks(np.arange(len(xs)) + 0.5)
    ax.set_xticklabels([f"{v:g}" for v in xs], rotation=90, fontsize=7)
    ax.set_yticks(np.arange(len(ys)) + 0.5)
    ax.set_yticklabels([f"{v:g}" for v in ys], fontsize=7)
    ax.set(xlabel=xl, ylabel=yl, title=title)
    return im, xs, ys


def _tables(names: list[str]) -> pd.DataFrame:
    frames = []
    for n in names:
        spec = f"docs/sweeps/theorem2-gd-{n}.toml"
        path = recorded(f"{SWEEP}-{n}/results.parquet", f"python -m sweep.maps {spec} --out {SWEEP}-{n}")
        tomllib.loads(Path(spec).read_text())  # the spec must parse (it names the grid the table holds)
        frames.append(pd.read_parquet(path))
    return pd.concat(frames, ignore_index=True)


def make(ctx):
    s = ctx.settings
    by = ["rank_hat", "eps", "d", "rank"]
    data = {"alpha": cells(_tables(s["alpha"]), ["alpha", "eta_fraction"]), "rank": cells(_tables(s["rank"]), by),
            "long": cells(_tables(s["long"]), by)}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    ta = pd.DataFrame(data["alpha"])
    im, xs, ys = _map(axes[0], ta, "alpha", "eta_fraction", "α", r"$\eta/\eta_c(\alpha)$",
                      "r̂ = 20, ε = 1e-2: seeds violating / seeds")
    half = np.interp(0.5, ys, np.arange(len(ys)) + 0.5)
    axes[0].axhline(half, color="k", ls="--", lw=1)
    tr = pd.DataFrame(data["rank"])
    _, xs, _ = _map(axes[1], tr, "rank_hat", "eps", r"$\hat r$", "ε", "α = 5, η = 0.25 η_c(α): seeds violating / seeds")
    line = int(tr.d.iloc[0] - tr["rank"].iloc[0])
    axes[1].axvline(np.interp(line, xs, np.arange(len(xs)) + 0.5), color="k", ls="--", lw=1)
    plt.colorbar(im, ax=axes[1], label="worst margin / ‖M*‖² (symmetric log)")
    return fig, data, notes_from(data)

"""The α speed-up law: measured fit steps of the compressed DLN against theory's fit time, over Fig. 16's α grid.

Reads the sweep ``docs/sweeps/alpha-law.toml`` (its table ``docs/sweeps/alpha-law/results.parquet``, one
row per (α, L) with each mode's first logged step at 0.99 σ*_i): nothing is run here.
"""


import numpy as np
import pandas as pd

import theory
from cdln.plotting import COLORS, plt, recorded

TITLE = "α speed-up law — fit steps against theory over α = 0.5 … 9.75 and L = 2, 3, 4"
CAPTION = ("Compressed DLN (Algorithm 1) on factorization, d = 100, r = 10, r̂ = 20, η = 10 (mean loss), for "
           "Fig. 16's grid of outer-layer step multipliers α and depths L = 2, 3, 4 (ε per depth: the legend). Left: the "
           "speed-up T(1)/T(α) of the slowest mode's fit step (first logged step with σ_r ≥ 0.99 σ*_r), measured "
           "(dots) and from theory.fit_time (lines; L = 2: exactly α). Right: measured fit step over theory's "
           "fit time / η_sum − 1, for every mode: positive, as the first logged step comes after the crossing (by up to one logging interval) and GD lags the flow by O(αη).")
PAPER = None
SWEEP = "docs/sweeps/alpha-law"
FULL = dict(results=f"{SWEEP}/results.parquet", spec="docs/sweeps/alpha-law.toml")
FAST = dict(FULL)  # the same table: the sweep is run once (cdln sweep), the figure only reads it
MARKERS = {2: "o", 3: "s", 4: "^"}
SHADES = {2: 0.55, 3: 0.8, 4: 1.0}


def predictions(df: pd.DataFrame) -> pd.DataFrame:
    """theory.fit_time of each mode of each row, in GD steps (flow time / η_sum), beside the measured steps."""
    out = []
    for _, row in df.iterrows():
        sig = theory.authors_target((int(row["d"]), int(row["d"])), int(row["rank"]), int(row["seed"])).sigma
        eta_sum = float(theory.convert_step_size(row.eta, int(row.d) ** 2, frm=row.loss, to="sum"))
        t = theory.fit_time(sig, depth=int(row.depth), eps=float(row.eps), alpha=float(row.alpha))
        for i, (m, p) in enumerate(zip(row.fit_steps, t / eta_sum)):
            out.append(dict(depth=int(row.depth), alpha=float(row.alpha), mode=i, measured=int(m), predicted=float(p),
                            log_every=int(row.log_every)))
    return pd.DataFrame(out)


def notes_from(data: dict, settings: dict | None = None) -> list[str]:
    notes = []
    for L, d in data["by_depth"].items():
        res = np.asarray(d["speedup_measured"]) / np.asarray(d["speedup_theory"]) - 1
        notes.append(f"L = {L}: every mode fitted for every α: {d['all_fitted']}; speed-up T(1)/T(α) at α = "
                     f"{d['alpha'][-1]:g}: measured {d['speedup_measured'][-1]:.3f}, theory {d['speedup_theory'][-1]:.3f}; "
                     f"largest |measured/theory − 1| of the speed-up over the grid: {np.max(np.abs(res)):.3g}; "
                     f"fit steps against theory's (all modes): {min(d['step_residual']):+.3g} … {max(d['step_residual']):+.3g}")
    return notes


def make(ctx):
    s = ctx.settings
    path = recorded(s["results"], f"cdln sweep {s['spec']} --out {SWEEP}")
    df = pd.read_parquet(path)
    if not (df.status == "completed").all():
        bad = df[df.status != "completed"]
        raise ValueError(f"{len(bad)} runs of {path} did not complete: {bad[['alpha', 'depth', 'status']].to_dict('records')}")
    pred = predictions(df)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    data = {"by_depth": {}}
    for L, g in pred.groupby("depth"):
        slow = g[g["mode"] == g["mode"].max()].sort_values("alpha")
        a = slow.alpha.to_numpy()
        one = slow[slow.alpha == 1.0].iloc[0]
        sm = one.measured / slow.measured.to_numpy()
        st = one.predicted / slow.predicted.to_numpy()
        c = tuple(np.array(plt.matplotlib.colors.to_rgb(COLORS["compressed"])) * SHADES[L])
        a1.plot(a, st, "-", color=COLORS["theory"], lw=1)
        a1.plot(a, sm, MARKERS[L], color=c, ms=4, label=f"L = {L} (ε = {df[df.depth == L].eps.iloc[0]:g})")
        fitted = g.measured >= 0
        resid = g.measured[fitted] / g.predicted[fitted] - 1
        a2.plot(g.alpha[fitted], resid, MARKERS[L], color=c, ms=3, alpha=0.6, label=f"L = {L}")
        data["by_depth"][int(L)] = {"alpha": a, "speedup_measured": sm, "speedup_theory": st,
                                    "fit_steps_slowest": slow.measured.to_numpy(),
                                    "theory_steps_slowest": slow.predicted.to_numpy(),
                                    "all_fitted": bool(fitted.all()),
                                    "step_residual": [float(resid.min()), float(resid.max())]}
    a1.set(xlabel="α (outer-layer step multiplier)", ylabel="speed-up T(1)/T(α), slowest mode", xscale="log",
           yscale="log", title="measured (markers) and theory.fit_time (lines)")
    a1.legend()
    a2.axhline(0, color=COLORS["theory"], lw=0.8)
    a2.set(xlabel="α", ylabel="measured fit step / (theory fit time / η) − 1", title="every mode, every α")
    a2.legend()
    return fig, data, notes_from(data)

"""New figure — where Theorem 2's inequality holds along GD: maps over (η/η_c, α) and over (r̂/d, ε)."""

import json
from pathlib import Path

import numpy as np

import theory
from cdln.plotting import plt
from sim.instances import theorem2_gd_pair

TITLE = "Where Theorem 2 holds along GD: maps over (η/η_c, α) and (r̂/d, ε)"
CAPTION = ("Theorem 2's inequality ‖W_{L:1}(t) − M*‖_F² ≥ ‖W̃_{L:1}(t) − M*‖_F² checked at every GD step on small "
           "factorization instances, with the instances the verification suite uses (sim.instances.theorem2_gd_pair). "
           "Colour: the worst margin min_t (wide − compressed) / ‖M*‖_F² (blue: holds, red: fails; symmetric-log "
           "scale; a margin within the rounding band 16·(L·d + d²)·eps of a difference of two relative squared "
           "errors counts as a tie, the band verify uses). Left: σ* = (1, 0.5), d = 4, L = 3, ε = 0.1, r̂ = r, over the step "
           "η as a fraction of the wide net's η_c and the outer multiplier α; the curves are theory's compressed-net "
           "stability limit η_c(α) and its monotone limit η_c(α)/2. Right: σ* = (1, 0.5), d = 6, L = 3, α = 1, "
           "η = 0.3 η_c, over the compressed width r̂/d and the init scale ε.")
PAPER = None
FULL = dict(fracs=list(np.round(np.linspace(0.05, 0.95, 13), 3)), alphas=list(np.round(np.geomspace(0.5, 8, 13), 3)),
            rank_hats=[1, 2, 3, 4, 5, 6], epss=list(np.round(np.geomspace(1e-3, 0.3, 9), 5)))
FAST = dict(fracs=[0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95], alphas=[0.5, 0.8, 1.0, 1.5, 2.5, 4.0, 6.0],
            rank_hats=[1, 2, 3, 4, 5, 6], epss=[3e-3, 1e-2, 3e-2, 0.1, 0.3])

SIG = np.array([1.0, 0.5])


def _margin(**kw):
    with np.errstate(all="ignore"):
        ew, ec, *_ = theorem2_gd_pair(SIG, init="orthogonal", seed=0, **kw)
    m = np.min(ew - ec) / float(np.sum(SIG**2))
    return float(m) if np.isfinite(m) else -np.inf


def _show(ax, Z, xs, ys, xl, yl):
    lim = max(np.max(np.abs(Z[np.isfinite(Z)])), 1e-6)
    Zc = np.where(np.isfinite(Z), Z, -lim)
    im = ax.pcolormesh(np.arange(len(xs) + 1), np.arange(len(ys) + 1), Zc, cmap="RdBu",
                       norm=plt.matplotlib.colors.SymLogNorm(linthresh=1e-12, vmin=-lim, vmax=lim), shading="flat")
    ax.set(xticks=np.arange(len(xs)) + 0.5, yticks=np.arange(len(ys)) + 0.5, xlabel=xl, ylabel=yl)
    ax.set_xticklabels([f"{x:.3g}" for x in xs], rotation=45)
    ax.set_yticklabels([f"{y:g}" for y in ys])
    ax.grid(False)
    t = [v for v in (1e-1, 1e-4, 1e-8) if v < lim] + [lim]
    plt.colorbar(im, ax=ax, ticks=sorted([-v for v in t] + [-1e-12, 0, 1e-12] + t),
                 label="min_t (wide − compressed)/‖M*‖²", format="%.0e")
    return im


def make(ctx):
    s = ctx.settings
    fr, al = np.array(s["fracs"]), np.array(s["alphas"])
    Z1 = np.array([[_margin(d=4, depth=3, eps=0.1, frac=f, alpha=a) for f in fr] for a in al])
    rh, ep = np.array(s["rank_hats"]), np.array(s["epss"])
    Z2 = np.array([[_margin(d=6, depth=3, eps=e, frac=0.3, alpha=1.0, rank_hat=int(k)) for k in rh] for e in ep])
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4.6))
    _show(a0, Z1, fr, al, "η / η_c (wide net)", "α (outer-layer multiplier)")
    # theory's compressed-net limits η_c(α) and η_c(α)/2 as fractions of η_c(1), in cell coordinates
    eta_c1 = theory.critical_step_size(SIG[0], depth=3)
    ag = np.geomspace(al.min(), al.max(), 200)
    for k, ls in ((1.0, "-"), (0.5, "--")):
        fc = k * np.array([theory.critical_step_size(SIG[0], depth=3, alpha=a, eps=0.1) for a in ag]) / eta_c1
        a0.plot(np.interp(fc, fr, np.arange(len(fr)) + 0.5, left=np.nan, right=np.nan),
                np.interp(np.log(ag), np.log(al), np.arange(len(al)) + 0.5), "k" + ls, lw=1.2,
                label="η_c(α)" if k == 1 else "η_c(α)/2")
    a0.legend(loc="upper right")
    a0.set_title("σ* = (1, 0.5), d = 4, L = 3, ε = 0.1, r̂ = r")
    _show(a1, Z2, rh / 6, ep, "r̂ / d (d = 6, r = 2)", "ε")
    a1.set_title("α = 1, η = 0.3 η_c")
    # the rounding of a difference of two relative squared errors (the same band as verify.measures.gd_tie_band,
    # derived there: L−1 products of inner size d and a sum of d² squares, two errors, factor 4 for |W| vs W)
    tie = -16 * (3 * 6 + 6 * 6) * np.finfo(float).eps  # the larger instance (d = 6) bounds both maps
    cond = np.array([[a >= 1 and f * eta_c1 <= 0.5 * theory.critical_step_size(SIG[0], depth=3, alpha=a, eps=0.1)
                      for f in fr] for a in al])
    notes = [f"(η, α) map: holds in {int(np.sum(Z1 >= tie))} of {Z1.size} cells; in the verification's stated region "
             f"(α ≥ 1, η ≤ η_c(α)/2) it holds in {int(np.sum(Z1[cond] >= tie))} of {int(cond.sum())}",
             f"(η, α) map: fails in {int(np.sum(Z1[~cond] < tie))} of {int((~cond).sum())} cells outside that region "
             f"(α < 1 or η > η_c(α)/2); diverged (compressed net unstable): {int(np.sum(~np.isfinite(Z1)))}",
             "(r̂/d, ε) map: cells holding per r̂ (r = 2): " + ", ".join(
                 f"r̂={k}: {int(np.sum(Z2[:, j] >= tie))}/{len(ep)}" for j, k in enumerate(rh)),
             f"(r̂/d, ε) map: worst margin with r̂ < r {Z2[:, rh < 2].min():.3g}, r̂ = r {Z2[:, rh == 2].min():.3g}, "
             f"r̂ > r {Z2[:, rh > 2].min():.3g}"]
    vf = Path("docs/verification.json")
    if vf.is_file():
        for c in json.loads(vf.read_text()):
            if c["id"] in ("theorem2-gd", "theorem2-flow"):
                notes.append(f"verification report, {c['id']}: {c['verdict']} — {c['conditions']}")
    return fig, {"fracs": fr, "alphas": al, "margin_eta_alpha": Z1, "rank_hats": rh, "epss": ep,
                 "margin_rankhat_eps": Z2}, notes

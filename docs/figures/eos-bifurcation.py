"""New figure (the sequel) — bifurcation diagram of GD beyond the edge of stability, with theory's points drawn over it."""

import numpy as np

import sim
from cdln.plotting import COLORS, plt
from theory import eos

TITLE = "Beyond the edge of stability — GD's bifurcation diagram against theory's thresholds and period doublings"
CAPTION = ("GD (sim.eos, float64) on deep matrix factorization, sum loss, L = 3, the sequel's init W_1 = 0, "
           "W_2 = W_3 = 0.01·I. Left: the sequel's target diag(10, 9.5, 9, 0, 0); the top three end-to-end singular "
           "values over the last steps of each run against η, with each mode's edge of stability 2/(Lσ_i^{2−2/L}) "
           "(grey lines, theory.eos.eos_thresholds) and the top mode's period-doubling points r_k·η_c "
           "(black dashes, theory.eos.period_doubling_ratios). Right: one mode (σ* = 10) on a finer grid, GD "
           "(red dots) with the balanced map's attractor (black, theory.eos.attractor) and the crisis r_× η_c "
           "(dotted) past which GD collapses the mode to 0.")
PAPER = None
FULL = dict(depth=3, sequel=[10.0, 9.5, 9.0], d=5, etas=[0.0290, 0.0600, 160], one=10.0, ratios=[0.9, 1.95, 400],
            steps=3000, keep=64)
FAST = dict(depth=3, sequel=[10.0, 9.5, 9.0], d=5, etas=[0.0290, 0.0600, 32], one=10.0, ratios=[0.9, 1.95, 120],
            steps=2000, keep=48)


def make(ctx):
    s = ctx.settings
    L, keep = s["depth"], s["keep"]
    sig = np.array(s["sequel"])
    M = np.diag(np.concatenate([sig, np.zeros(s["d"] - sig.size)]))
    etas = np.linspace(*s["etas"][:2], int(s["etas"][2]))
    rows = []
    for eta in etas:
        tr = sim.eos.run_eos(M, depth=L, eta=float(eta), steps=s["steps"], keep=2)
        last = tr.singular_values[-keep:, :3] if tr.status == "bounded" else np.full((keep, 3), np.nan)
        rows.append({"eta": float(eta), "status": tr.status, "period": sim.eos.detect_period(last, max_period=keep // 3)
                     if tr.status == "bounded" else None, "values": last})
    one = s["one"]
    eta_c = float(eos.eos_thresholds([one], depth=L)[0])
    ratios = np.linspace(*s["ratios"][:2], int(s["ratios"][2]))
    single = []
    for r in ratios:
        tr = sim.eos.run_eos(np.array([[one]]), depth=L, eta=float(r * eta_c), steps=s["steps"], keep=2)
        last = tr.singular_values[-keep:, 0] if tr.status == "bounded" else np.full(keep, np.nan)
        kind = sim.eos.classify(tr, rank=1, max_period=keep // 3)
        single.append({"ratio": float(r), "kind": kind, "values": last,
                       "theory": eos.attractor(float(r), depth=L, sigma=one, keep=keep)})
    th = eos.eos_thresholds(sig, depth=L)
    pd = eos.period_doubling_ratios(depth=L, count=5)
    crisis = eos.positive_crisis_ratio(depth=L)
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4.4))
    for r in rows:
        a0.plot(np.full(r["values"].size, r["eta"]), r["values"].ravel(), ".", color=COLORS["wide"], ms=1.5)
    for t in th:
        a0.axvline(t, color="0.6", lw=1)
    for k in pd[1:]:
        a0.axvline(k * th[0], color=COLORS["theory"], ls="--", lw=0.7)
    a0.set(xlabel="η (sum loss)", ylabel="top end-to-end singular values (last steps)",
           title="diag(10, 9.5, 9, 0, 0), L = 3")
    for r in single:
        a1.plot(np.full(keep, r["ratio"]), r["theory"], ".", color=COLORS["theory"], ms=2.5)
        a1.plot(np.full(keep, r["ratio"]), r["values"], ".", color=COLORS["compressed"], ms=1.0)
    a1.axvline(crisis, color=COLORS["theory"], ls=":", lw=1)
    a1.set(xlabel="η / η_c", ylabel="end-to-end value (last steps)", title=f"one mode σ* = {one:g}: GD (red), theory (black)",
           ylim=(-0.5, None))
    data = {"eta_thresholds": th, "period_doubling_ratios": pd, "crisis_ratio": crisis,
            "sequel": [{"eta": r["eta"], "status": r["status"], "period": r["period"]} for r in rows],
            "single": [{"ratio": r["ratio"], "kind": r["kind"],
                        "max_gap_to_theory_set": _set_gap(r["values"], r["theory"])} for r in single]}
    return fig, data, notes_from(data, s)


def _set_gap(gd, th):
    """Largest distance from a GD value to the nearest theory attractor value (nan where either escaped)."""
    gd, th = np.asarray(gd, float), np.asarray(th, float)
    if not (np.all(np.isfinite(gd)) and np.all(np.isfinite(th))):
        return float("nan")
    return float(np.max(np.min(np.abs(gd[:, None] - th[None, :]), axis=1)))


def notes_from(data, settings) -> list[str]:
    pd, th = np.asarray(data["period_doubling_ratios"]), np.asarray(data["eta_thresholds"])
    first = {}
    for r in data["single"]:
        k = r["kind"]
        if k.startswith("period-") and k not in first:
            first[k] = r["ratio"]
    per = [f"{k} from {v:.4f} η_c" for k, v in sorted(first.items(), key=lambda kv: kv[1])]
    periodic = [r for r in data["single"] if r["kind"].startswith("period-") or r["kind"] == "converged"]
    gap = max((r["max_gap_to_theory_set"] for r in periodic), default=float("nan"))
    collapsed = [r["ratio"] for r in data["single"] if r["kind"] in ("collapsed", "diverged")]
    return [f"theory: edges of stability {', '.join(f'{t:.5f}' for t in th)}; top mode's period doublings at "
            f"{', '.join(f'{k:.5f}' for k in pd)} η_c; crisis at {data['crisis_ratio']:.5f} η_c",
            f"GD, one mode: first seen {'; '.join(per)}",
            f"GD on periodic orbits lies on theory's attractor to within {gap:.2g} (largest distance)",
            f"GD, one mode: collapsed or diverged from {min(collapsed):.4f} η_c" if collapsed else
            "GD, one mode: no collapse in the range drawn"]

"""New figure (the sequel) — the dimension of the oscillating subspace against η, measured and predicted."""

import numpy as np

import sim
from cdln.plotting import COLORS, plt
from theory import eos

TITLE = "Oscillating-subspace dimension against η — GD and theory's count, on and off the diagonal"
CAPTION = ("The sequel's spectrum (10, 9.5, 9), L = 3, sum loss. GD's oscillating dimension: the rank of the "
           "differences between the points of its orbit (sim.eos.oscillating_subspace, after sim.eos.detect_period) "
           "— for the sequel's own setting, diag(10, 9.5, 9, 0, 0) from W_1 = 0, W_l = 0.01·I (red), and for the "
           "same spectrum on Haar singular vectors from Haar-orthogonal layers (blue; a cross at −1 where GD has no "
           "period up to 16 or diverges). Black: theory's count #{i: η > 2/(Lσ_i^{2−2/L})} "
           "(theory.eos.oscillating_modes); grey: where the aligned orbit repels misalignment "
           "(theory.eos.aligned_cycle_radius > 1).")
PAPER = None
#: the aligned orbit's neutral eigenvalues are exactly 1, some in defective blocks whose computed moduli carry
#: ~√eps of rounding: 2^26 ulps ≈ √eps above 1 is still neutral (as verify/test_eos_subspace.py's RADIUS_TOL)
NEUTRAL = 2.0**26 * np.finfo(float).eps
FULL = dict(depth=3, sigma=[10.0, 9.5, 9.0], etas=[0.0290, 0.0385, 64], steps=3000, seed=0)
FAST = dict(depth=3, sigma=[10.0, 9.5, 9.0], etas=[0.0290, 0.0385, 24], steps=2500, seed=0)


def _haar(n, seed):
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def _dimension(tr, r):
    if tr.status != "bounded":
        return -1
    p = sim.eos.detect_period(tr.singular_values[:, :r], max_period=16)
    return -1 if p is None else sim.eos.oscillating_subspace(tr.tail, p)[0]


def make(ctx):
    s = ctx.settings
    sig, L = np.array(s["sigma"]), s["depth"]
    etas = np.linspace(*s["etas"][:2], int(s["etas"][2]))
    Md = np.diag(np.concatenate([sig, [0.0, 0.0]]))
    Mh = _haar(3, s["seed"]) @ np.diag(sig) @ _haar(3, s["seed"] + 1).T
    rows = []
    r1 = eos.period_doubling_ratios(depth=L, count=2)[1] * eos.eos_thresholds(sig[:1], depth=L)[0]
    for eta in etas:
        eta = float(eta)
        d = sim.eos.run_eos(Md, depth=L, eta=eta, steps=s["steps"], keep=48)
        h = sim.eos.run_eos(Mh, depth=L, eta=eta, steps=s["steps"], init="orthogonal", scale=0.1, seed=s["seed"], keep=48)
        in2 = eos.eos_thresholds(sig[:1], depth=L)[0] < eta < r1
        rows.append({"eta": eta, "count": eos.oscillating_modes(sig, depth=L, eta=eta), "diagonal": _dimension(d, 3),
                     "haar": _dimension(h, 3),
                     "radius": eos.aligned_cycle_radius(sig, depth=L, eta=eta) if in2 else None})
    e = np.array([r["eta"] for r in rows])
    fig, ax = plt.subplots(figsize=(8, 4.2))
    for r in rows:
        if r["radius"] is not None and r["radius"] > 1 + NEUTRAL:
            ax.axvspan(r["eta"] - 0.5 * (e[1] - e[0]), r["eta"] + 0.5 * (e[1] - e[0]), color="0.9", lw=0)
    ax.step(e, [r["count"] for r in rows], where="mid", color=COLORS["theory"], label="theory: #{i: η > η_i}")
    ax.plot(e, [r["diagonal"] for r in rows], "o", color=COLORS["compressed"], ms=5, label="GD, diagonal (sequel's scripts)")
    hv = np.array([r["haar"] for r in rows], float)
    ax.plot(e[hv >= 0], hv[hv >= 0] + 0.08, "s", color=COLORS["wide"], ms=4, label="GD, Haar U*, V* and layers")
    ax.plot(e[hv < 0], hv[hv < 0], "x", color=COLORS["wide"], ms=6)
    ax.axvline(r1, color=COLORS["theory"], ls="--", lw=0.8)
    ax.set(xlabel="η (sum loss)", ylabel="oscillating dimension", yticks=[-1, 0, 1, 2, 3])
    ax.legend(loc="upper left")
    data = {"rows": rows, "second_doubling_eta": float(r1)}
    return fig, data, notes_from(data, s)


def notes_from(data, settings) -> list[str]:
    rows = data["rows"]
    two = [r for r in rows if r["radius"] is not None]
    diag_ok = sum(r["diagonal"] == r["count"] for r in two)
    haar_ok = sum(r["haar"] == r["count"] for r in two)
    stable = [r for r in two if r["radius"] <= 1 + NEUTRAL]
    first_bad = min((r["eta"] for r in two if r["radius"] > 1 + NEUTRAL), default=None)
    return [f"2-period regime (η below the second doubling {data['second_doubling_eta']:.5f}): {len(two)} steps drawn; "
            f"diagonal GD matches the count at {diag_ok}, Haar GD at {haar_ok}",
            f"aligned orbit attracting (radius <= 1) at {len(stable)} of them; repelling from η = "
            + (f"{first_bad:.5f}" if first_bad is not None else "—"),
            f"Haar GD where the orbit attracts: matches at {sum(r['haar'] == r['count'] for r in stable)} of {len(stable)}"]

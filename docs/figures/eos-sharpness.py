"""New figure (the sequel) — sharpness along GD (Lanczos on Hessian–vector products) against the 2/η line."""

import numpy as np

import sim
from cdln.plotting import COLORS, plt
from theory import eos

TITLE = "Sharpness along GD beyond the edge of stability, against 2/η"
CAPTION = ("GD (sim.eos) on the sequel's target diag(10, 9.5, 9, 0, 0), L = 3, sum loss, init W_1 = 0, W_2 = W_3 = "
           "0.01·I. The top Hessian eigenvalue of the loss at the iterate (sim.eos.sharpness: ARPACK Lanczos on "
           "torch.func Hessian–vector products, never a dense Hessian), every few steps, for a step below the edge "
           "and two above it; dashed: 2/η of each run; black: the balanced minimum's sharpness Lσ_1^{2−2/L} "
           "(theory.eos.mode_sharpness). Below the edge the sharpness settles at the minimum's; above it GD cannot "
           "settle at a minimum sharper than 2/η, yet along its orbit the sharpness is not pinned at 2/η: with one "
           "oscillating mode it alternates across 2/η, with three both points of the 2-cycle lie above it.")
PAPER = None
FULL = dict(depth=3, sigma=[10.0, 9.5, 9.0], d=5, etas=[0.0300, 0.0330, 0.0360], steps=1500, every=3)
FAST = dict(depth=3, sigma=[10.0, 9.5, 9.0], d=5, etas=[0.0300, 0.0330, 0.0360], steps=900, every=7)


def make(ctx):
    s = ctx.settings
    sig = np.array(s["sigma"])
    M = np.diag(np.concatenate([sig, np.zeros(s["d"] - sig.size)]))
    runs = []
    for eta in s["etas"]:
        tr = sim.eos.run_eos(M, depth=s["depth"], eta=eta, steps=s["steps"], sharpness_every=s["every"], keep=2)
        runs.append({"eta": eta, "steps": tr.sharpness_steps, "sharpness": tr.sharpness, "status": tr.status})
    flat = eos.mode_sharpness(float(sig[0]), depth=s["depth"])
    fig, ax = plt.subplots(figsize=(8, 4.2))
    shades = [0.45, 0.75, 1.0]
    for r, c in zip(runs, shades):
        col = tuple(np.array(plt.matplotlib.colors.to_rgb(COLORS["compressed"])) * c)
        ax.plot(r["steps"], r["sharpness"], "-", color=col, lw=0.8, label=f"η = {r['eta']:g}")
        ax.axhline(2 / r["eta"], color=col, ls="--", lw=0.8)
    ax.axhline(flat, color=COLORS["theory"], lw=1, label="Lσ_1^{2−2/L} (balanced minimum)")
    ax.set(xlabel="GD step", ylabel="top Hessian eigenvalue", ylim=(0, 1.6 * max(2 / r["eta"] for r in runs)))
    ax.legend(loc="lower right")
    data = {"flat_sharpness": flat, "runs": runs}
    return fig, data, notes_from(data, s)


def notes_from(data, settings) -> list[str]:
    out = []
    for r in data["runs"]:
        x = np.asarray(r["sharpness"], float)
        tail = x[3 * len(x) // 4:]  # the last quarter: past the learning phase (~500 steps here)
        out.append(f"η = {r['eta']:g} (2/η = {2 / r['eta']:.4g}): sharpness over the last quarter {tail.min():.4g} … "
                   f"{tail.max():.4g}, mean {tail.mean():.4g}; final {x[-1]:.4g}")
    out.append(f"balanced minimum's sharpness Lσ_1^(2−2/L) = {data['flat_sharpness']:.4g} (2/η at the edge)")
    return out

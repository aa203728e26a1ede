"""New figure (the sequel) — the balancing gap along GD for several η, against theory's 2-cycle rate."""

import numpy as np

import sim
from cdln.plotting import COLORS, plt
from theory import eos

TITLE = "Balancing gap along GD — frozen below the edge, decaying at the 2-cycle's rate above it"
CAPTION = ("Left: one mode (σ* = 10), L = 3, sum loss, the sequel's init W_1 = 0, W_2 = W_3 = 0.01 (gap "
           "s_2² − s_1² = 1e-4 at the start); |s_2² − s_1²| of the layers' top singular values along GD for η below and "
           "above η_c, with theory's decay ρ^{t/2} per 2-cycle (theory.eos.two_cycle(...).gap_rate, black dashes, "
           "drawn from where GD reaches its orbit). Right: the sequel's target diag(10, 9.5, 9, 0, 0) at η = 0.0363: "
           "‖W_2ᵀW_2 − W_1W_1ᵀ‖_F of the whole network (blue) and on W_2's top-3 right singular directions (red; "
           "where W_2's values tie across the cut, as at W_2 = 0.01·I, the whole tied space: sim.eos.run_eos): the "
           "zero-target modes keep their gap, so the network's gap does not vanish.")
PAPER = None
FULL = dict(depth=3, sigma=10.0, ratios=[0.9, 1.05, 1.1, 1.2], steps=4000, sequel=[10.0, 9.5, 9.0], d=5, eta=0.0363)
FAST = dict(depth=3, sigma=10.0, ratios=[0.9, 1.05, 1.1, 1.2], steps=2500, sequel=[10.0, 9.5, 9.0], d=5, eta=0.0363)


def make(ctx):
    s = ctx.settings
    L, sig = s["depth"], s["sigma"]
    eta_c = float(eos.eos_thresholds([sig], depth=L)[0])
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(12, 4.2))
    runs = []
    for r, shade in zip(s["ratios"], np.linspace(0.4, 1.0, len(s["ratios"]))):
        tr = sim.eos.run_eos(np.array([[sig]]), depth=L, eta=r * eta_c, steps=s["steps"], keep=2)
        g = np.abs(eos.balancing_gap(tr.layer_singular_values)[:, 0, 0])
        col = tuple(np.array(plt.matplotlib.colors.to_rgb(COLORS["compressed"])) * shade)
        a0.semilogy(tr.steps, np.maximum(g, 1e-18), color=col, lw=1, label=f"η = {r:g} η_c")
        row = {"ratio": r, "initial": float(g[0]), "final": float(g[-1])}
        if r > 1:
            rho = eos.two_cycle(r, depth=L, sigma=sig).gap_rate
            s1 = tr.singular_values[:, 0]
            on = np.flatnonzero((np.abs(s1[2:] - s1[:-2]) <= 1e-7 * s1[2:]) & (g[2:] > 1e-4 * g[0]))
            if on.size:
                t0 = int(on[0]) + 2
                tt = np.arange(t0, tr.steps[-1] + 1)
                a0.semilogy(tt, g[t0] * rho ** ((tt - t0) / 2), "--", color=COLORS["theory"], lw=0.8)
                row.update(rho=rho, measured_rate=float(g[t0 + 2] / g[t0]), orbit_step=t0)
        runs.append(row)
    a0.set(xlabel="GD step", ylabel="|s_2² − s_1²| (top mode)", ylim=(1e-17, 1e-3), title=f"one mode σ* = {sig:g}, L = {L}")
    a0.legend()
    M = np.diag(np.concatenate([s["sequel"], np.zeros(s["d"] - len(s["sequel"]))]))
    full = sim.eos.run_eos(M, depth=L, eta=s["eta"], steps=s["steps"], keep=2)
    top = sim.eos.run_eos(M, depth=L, eta=s["eta"], steps=s["steps"], keep=2, gap_rank=len(s["sequel"]))
    a1.semilogy(full.steps, full.gap[:, 0], color=COLORS["wide"], label="whole network")
    a1.semilogy(top.steps, np.maximum(top.gap[:, 0], 1e-18), color=COLORS["compressed"], label="top-3 directions")
    a1.set(xlabel="GD step", ylabel="‖W_2ᵀW_2 − W_1W_1ᵀ‖_F", title=f"diag(10, 9.5, 9, 0, 0), η = {s['eta']:g}")
    a1.legend()
    data = {"single": runs, "sequel": {"whole_start": float(full.gap[0, 0]), "whole_end": float(full.gap[-1, 0]),
                                       "top_start": float(top.gap[0, 0]), "top_end": float(top.gap[-1, 0])}}
    return fig, data, notes_from(data, s)


def notes_from(data, settings) -> list[str]:
    out = []
    for r in data["single"]:
        line = f"η = {r['ratio']:g} η_c: gap {r['initial']:.3g} → {r['final']:.3g}"
        if "rho" in r:
            line += f"; per-period factor measured {r['measured_rate']:.6f}, theory ρ = {r['rho']:.6f}"
        out.append(line)
    q = data["sequel"]
    out.append(f"sequel's target at η = {settings['eta']:g}: whole-network gap {q['whole_start']:.4g} → {q['whole_end']:.4g}, "
               f"top-3 directions {q['top_start']:.4g} → {q['top_end']:.3g}")
    return out

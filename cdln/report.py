"""The theory report: what `theory` predicts for one setting (default: the paper's, SPEC §5).

Config (frozen dataclass, validated before any work) → numbers from `theory` → a text table
or a JSON object. Every number printed is computed here; none is typed in.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

import numpy as np

import theory
from theory.checks import option


@dataclass(frozen=True)
class ReportConfig:
    """The setting of ``cdln theory``; each field is a flag (``--rank-hat``), documented in its metadata."""

    dim: int = option(100, "d: the authors' target is d x d (paper: 100)")
    rank: int = option(10, "r: target rank, at most d/2 (paper: 10)")
    rank_hat: int = option(20, "r̂: the compressed DLN's width, in [r, d] (paper: 2r)")
    depth: int = option(3, "L: number of layers (paper: 3)")
    eps: float = option(1e-3, "ε: initialisation scale (paper text: 1e-3)")
    eta: float = option(10.0, "η: step size in the normalisation named by --loss (paper, Figs. 4-5: 10)",
                        unit="per --loss")
    loss: str = option("mean", "loss normalisation: sum ½‖·‖², or mean ½‖·‖²/d² (the authors' code)",
                       choices=("sum", "mean"))
    alpha: float = option(5.0, "α: step multiplier of the compressed DLN's outer layers (paper, Fig. 5: 5)")
    delta: float = option(0.01, "δ: a mode counts as fitted at (1 - δ)σ*, in (0, 1)")
    seed: int = option(0, "seed of the authors' Gaussian target generator")

    def __post_init__(self):
        from theory import checks
        checks.nonneg_int("dim", self.dim, 2)
        checks.nonneg_int("rank", self.rank, 1)
        if 2 * self.rank > self.dim:
            raise ValueError(f"rank must be in [1, dim/2 = {self.dim // 2}], got {self.rank}")
        checks.nonneg_int("rank_hat", self.rank_hat, 1)
        if not self.rank <= self.rank_hat <= self.dim:
            raise ValueError(f"rank_hat must be in [rank = {self.rank}, dim = {self.dim}], got {self.rank_hat}")
        checks.depth(self.depth)
        checks.positive("eps", self.eps)
        checks.positive("eta", self.eta)
        checks.positive("alpha", self.alpha)
        checks.open_unit("delta", self.delta)
        checks.choice("loss", self.loss, ("sum", "mean"))
        checks.nonneg_int("seed", self.seed, 0)


def build_report(cfg: ReportConfig) -> dict:
    """All the report's numbers, as plain Python types (JSON-ready)."""
    tgt = theory.authors_target(cfg.dim, cfg.rank, cfg.seed)
    sig = tgt.sigma
    N = theory.normaliser("factorization", cfg.dim)
    eta_sum = theory.convert_step_size(cfg.eta, N, frm=cfg.loss, to="sum")
    L, eps = cfg.depth, cfg.eps
    crit1 = theory.critical_step_size(sig[0], depth=L)
    crit_a = theory.critical_step_size(sig[0], depth=L, alpha=cfg.alpha, eps=eps)
    t_exact = theory.fit_time(sig, depth=L, eps=eps, delta=cfg.delta)
    t_alpha = theory.fit_time(sig, depth=L, eps=eps, delta=cfg.delta, alpha=cfg.alpha)
    t_asym = theory.fit_time_asymptotic(sig, depth=L, eps=eps, delta=cfg.delta)
    sched = theory.incremental_schedule(sig, depth=L, eps=eps, delta=cfg.delta, alpha=cfg.alpha, eta=eta_sum)
    stable = eta_sum < crit_a
    steps = (theory.fit_steps(sig, depth=L, eps=eps, eta=eta_sum, delta=cfg.delta, alpha=cfg.alpha,
                              max_steps=int(10 * sched.steps.max()) + 10)
             if stable else np.full(sig.size, -1))
    c1 = {s: theory.initial_errors(sig, shape=cfg.dim, rank_hat=cfg.rank_hat, depth=L, eps=eps, scaling=s)
          for s in ("proof", "eq3")}
    cost = theory.compare_costs(cfg.dim, depth=L, rank_hat=cfg.rank_hat)
    return {
        "config": asdict(cfg),
        "sigma_star": sig.tolist(),
        "step_size": {
            "eta_sum": eta_sum,
            "eta_mean": theory.convert_step_size(eta_sum, N, frm="sum", to="mean"),
            "critical_sum_alpha1": crit1,
            "critical_sum": crit_a,
            "critical_mean": theory.convert_step_size(crit_a, N, frm="sum", to="mean"),
            "fraction_of_critical": eta_sum / crit_a,
        },
        "modes": [
            {"i": i + 1, "sigma": float(sig[i]), "fit_time_alpha1": float(t_exact[i]),
             "fit_time_alpha1_asymptotic": float(t_asym[i]), "fit_time": float(t_alpha[i]),
             "flow_steps": int(sched.steps[i]), "gd_steps": int(steps[i])}
            for i in range(sig.size)
        ],
        "learning_order": (sched.order + 1).tolist(),
        "corollary1": {s: {k: v for k, v in asdict(e).items() if v is not None} for s, e in c1.items()},
        "cost": {**asdict(cost), "param_ratio": cost.param_ratio, "mac_ratio": cost.mac_ratio,
                 "memory_ratio": cost.memory_ratio},
    }


def format_report(rep: dict) -> str:
    c, st = rep["config"], rep["step_size"]
    out = []
    w = out.append
    w(f"cdln theory report — factorization, d={c['dim']}, r={c['rank']}, r̂={c['rank_hat']}, "
      f"L={c['depth']}, ε={c['eps']:g}, α={c['alpha']:g}, δ={c['delta']:g}, target seed {c['seed']}")
    w("")
    w("Step size (Theorem 1 recurrences, linear stability at the top mode)")
    w(f"  η = {c['eta']:g} ({c['loss']}-normalised) = {st['eta_sum']:.6g} sum = {st['eta_mean']:.6g} mean")
    w(f"  critical η_c, α=1:     {st['critical_sum_alpha1']:.6g} (sum)")
    w(f"  critical η_c, α={c['alpha']:g}:     {st['critical_sum']:.6g} (sum) = {st['critical_mean']:.6g} (mean)")
    verdict = "stable" if st["fraction_of_critical"] < 1 else "UNSTABLE: GD will not converge"
    w(f"  η / η_c = {st['fraction_of_critical']:.3f}  → {verdict}")
    w("")
    w("Incremental learning (gradient-flow fit time to (1-δ)σ*, time = η·steps)")
    w(f"  {'i':>3} {'σ*_i':>9} {'t_i (α=1)':>12} {'asymptotic':>12} {'t_i (α)':>12} {'steps ≈ t/η':>12} {'GD steps':>10}")
    for m in rep["modes"]:
        g = m["gd_steps"] if m["gd_steps"] >= 0 else "—"
        w(f"  {m['i']:>3} {m['sigma']:>9.4f} {m['fit_time_alpha1']:>12.5g} {m['fit_time_alpha1_asymptotic']:>12.5g} "
          f"{m['fit_time']:>12.5g} {m['flow_steps']:>12d} {g!s:>10}")
    w(f"  predicted learning order: {rep['learning_order']}")
    w("")
    w("Corollary 1 at t = 0 (squared Frobenius errors)")
    for s, e in rep["corollary1"].items():
        label = "proof scaling (ε per layer)" if s == "proof" else "Eq. (3) literal (√ε per layer)"
        w(f"  {label}: compressed {e['compressed']:.6g}; wide ≥ {e['wide_lower_bound']:.6g}; "
          f"gap worst {e['worst_case_gap']:+.3g}, mean {e['mean_gap']:+.3g} ± {2 * e['wide_scale'] * e['overlap_std']:.3g} (Haar Q)")
    w("")
    k = rep["cost"]
    w("Cost per GD step (explicit prefix/suffix gradients, float64)")
    w(f"  {'':12}{'wide':>14}{'compressed':>14}{'ratio':>9}")
    w(f"  {'parameters':12}{k['wide_params']:>14,}{k['compressed_params']:>14,}{k['param_ratio']:>9.1f}")
    w(f"  {'MACs':12}{k['wide_macs']:>14,}{k['compressed_macs']:>14,}{k['mac_ratio']:>9.1f}")
    w(f"  {'memory (B)':12}{k['wide_bytes']:>14,}{k['compressed_bytes']:>14,}{k['memory_ratio']:>9.1f}")
    return "\n".join(out)


def to_json(rep: dict) -> str:
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    return json.dumps(clean(rep), indent=2)

"""How many of the target's modes a run has fitted, and when theory expects the next one.

A mode i counts as fitted when the i-th singular value of the end-to-end matrix W_{L:1} at the run's last
log has reached (1 − δ)·σ*_i, δ = 0.01: theory's definition of a fit (:func:`theory.fit_time`,
:func:`theory.fit_steps`), the one the sweeps' ``fit_steps`` column uses. The measured side comes from the
run alone (``singular_values.npy``, the target's σ* from its config); the expected step is theory's:

* factorization, compressed DLN, GD: :func:`theory.fit_steps` — the exact mode recurrence that GD on
  Algorithm 1 follows (Theorem 1; its two-variable form for α ≠ 1), at the run's sum-loss step;
* gradient flow (``--mode flow``): :func:`theory.incremental_schedule`'s ⌈t_i/η⌉, the flow's own fit time;
* everything else (the wide DLN, completion, sensing): an *estimate* — the flow limit ⌈t_i/(κη)⌉ with κ the
  problem's curvature in expectation (:func:`theory.curvature_scale`: |Ω|/(n1·n2), m·s²) and, for the wide
  DLN, α = 1 (its modes follow the decoupled dynamics only approximately, from an unaligned start);
* AltMin has no step count in theory, and MovieLens / a ratings file no known target: none is given.

``mode_report(cfg, run)`` returns the numbers (they go into the run's ``summary.json`` as ``modes``);
``describe(report)`` is the clause of ``cdln run``'s closing line.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import theory

__all__ = ["DELTA", "target_sigma", "mode_report", "describe"]

DELTA = 0.01  #: a mode counts as fitted at (1 − δ) σ*_i: theory.fit_time's default δ
#: the exact recurrence is iterated in Python (≈ 30 µs a step): beyond this many steps the flow limit,
#: which differs from it by O(η) relative (a few steps in 10^4 at the paper's setting), is given instead
EXACT_STEPS_LIMIT = 200_000


def target_sigma(cfg, seed: int) -> np.ndarray | None:
    """σ*_1 ≥ … ≥ σ*_r of the target ``sim`` builds for ``cfg`` at ``seed`` (None: no known target)."""
    if cfg.problem in ("movielens", "ratings"):
        return None
    if cfg.target == "authors":
        return np.asarray(theory.authors_target(cfg.shape, cfg.rank, seed).sigma, float)
    if cfg.target == "authors-asymptotic":
        return np.asarray(theory.authors_spectrum_asymptotic(cfg.shape, cfg.rank), float)
    if cfg.target == "spectrum":
        return np.sort(np.asarray(cfg.spectrum, float))[::-1]
    M = np.load(cfg.target_file, allow_pickle=False)  # checked by RunConfig: a plain 2-D finite array
    return np.linalg.svd(np.asarray(M, float), compute_uv=False)[: cfg.rank]


def _rate(cfg) -> tuple[float, bool]:
    """The step on ½‖W − M*‖² that one GD step makes, κ·η_sum, and whether it is exact (factorization)."""
    n1, n2 = cfg.shape
    n_obs = max(1, round(cfg.observed * n1 * n2))  # |Ω| in expectation (exactly, for --sampling fixed)
    kw = {"n_observed": n_obs} if cfg.problem == "completion" else (
        {"n_measurements": cfg.measurements} if cfg.problem == "sensing" else {})
    eta_sum = cfg.eta / theory.normaliser(cfg.problem, (n1, n2), **kw) if cfg.loss == "mean" else cfg.eta
    if cfg.problem == "sensing":  # entries N(0, 1/m) (isometric) or of std 1/m (the authors')
        kw["sensing_std"] = 1.0 / math.sqrt(cfg.measurements) if cfg.sensing_norm == "isometric" else 1.0 / cfg.measurements
    return eta_sum * theory.curvature_scale(cfg.problem, (n1, n2), **kw), cfg.problem == "factorization"


def expected_step(cfg, sigma: float) -> tuple[int | None, str]:
    """The GD step at which theory expects a mode of value ``sigma`` to reach (1 − δ)·sigma, and how it was
    obtained (``exact``, ``flow``, ``estimate``); ``None`` with the reason when theory gives none."""
    if cfg.model == "altmin":
        return None, "theory has no step count for AltMin"
    rate, exact = _rate(cfg)
    alpha = cfg.alpha if cfg.model == "compressed" else 1.0
    eps = math.sqrt(cfg.eps) if cfg.model == "wide" and cfg.resolved_init == "orthogonal-eq3" else cfg.eps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a step above theory's stable one is the run's business, not this hint's
        flow = theory.incremental_schedule([sigma], depth=cfg.depth, eps=eps, delta=DELTA, alpha=alpha, eta=rate)
        t = int(flow.steps[0])
        if cfg.mode == "flow":
            return t, "flow"
        if exact and cfg.model == "compressed" and t <= EXACT_STEPS_LIMIT:
            n = int(theory.fit_steps([sigma], depth=cfg.depth, eps=eps, eta=rate, delta=DELTA, alpha=alpha,
                                     max_steps=2 * EXACT_STEPS_LIMIT)[0])
            if n >= 0:
                return n, "exact"
    return t, "flow" if exact and cfg.model == "compressed" else "estimate"


HOW = {"exact": "theory.fit_steps: the mode recurrence GD on Algorithm 1 follows (Theorem 1)",
       "flow": "theory.incremental_schedule: gradient-flow fit time / step",
       "estimate": "estimate: gradient-flow fit time over the step κ·η (theory.curvature_scale), α = 1 for the "
                   "wide DLN"}


def mode_report(cfg, run) -> dict:
    """Per seed: the target's mode count, how many are fitted at the last log, the next mode (1-based) and
    the step theory expects it at. A run without a known target gets ``{"target_modes": None, "note": …}``."""
    sigmas = [target_sigma(cfg, s) for s in cfg.seed_list]
    if sigmas[0] is None:
        return {"target_modes": None, "note": f"problem {cfg.problem!r} has no known target: modes not counted"}
    sv = np.asarray(run.singular_values)[-1]  # (seeds, K) at the last log
    out = {"delta": DELTA, "target_modes": int(sigmas[0].size), "fitted": [], "next_mode": [], "next_step": [],
           "how": None, "note": None}
    for b, sig in enumerate(sigmas):
        k = min(sig.size, sv.shape[1])
        hit = np.zeros(sig.size, bool)
        hit[:k] = sv[b, :k] >= (1.0 - DELTA) * sig[:k]
        out["fitted"].append(int(hit.sum()))
        todo = np.flatnonzero(~hit)
        if todo.size == 0:
            out["next_mode"].append(None)
            out["next_step"].append(None)
            continue
        j = int(todo[0])  # the largest σ* not yet fitted: the one theory expects first
        out["next_mode"].append(j + 1)
        if not np.all(np.isfinite(sv[b])):  # a run that diverged (mode_report takes any Run): no step to give
            out["next_step"].append(None)
            out["note"] = f"seed {cfg.seed_list[b]}: W_{{L:1}} is not finite at the last log (diverged)"
            continue
        if cfg.model == "compressed" and j >= cfg.rank_hat:
            out["next_step"].append(None)
            out["note"] = f"r̂ = {cfg.rank_hat} < r = {sig.size}: the compressed DLN holds only r̂ modes"
            continue
        step, how = expected_step(cfg, float(sig[j]))
        out["next_step"].append(step)
        if step is None:
            out["note"] = how
        else:
            out["how"] = HOW[how]
    return out


def _span(values, fmt="{:,}") -> str:
    lo, hi = min(values), max(values)
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"


def describe(rep: dict) -> str:
    """One clause: ``10/10 target modes fitted`` or ``3/10 target modes fitted; theory expects mode 4 at step
    20,164`` (a range over seeds when they differ; ``estimate`` when theory only estimates it)."""
    if rep.get("target_modes") is None:
        return rep["note"]
    r, fitted = rep["target_modes"], rep["fitted"]
    seeds = f" (over {len(fitted)} seeds)" if len(fitted) > 1 and min(fitted) != max(fitted) else ""
    text = f"{_span(fitted, '{}')}/{r} target modes fitted (σ_i ≥ {1 - rep['delta']:g}·σ*_i){seeds}"
    steps = [s for s in rep["next_step"] if s is not None]
    modes = [m for m in rep["next_mode"] if m is not None]
    if not modes:
        return text
    if not steps:
        return f"{text}; next: {rep['note']}"
    how = rep["how"] or ""
    verb = "theory estimates" if how.startswith("estimate") else "theory expects"
    return f"{text}; {verb} mode {_span(modes, '{}')} at step {_span(steps)}"

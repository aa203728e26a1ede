"""Region maps that are not `cdln run` sweeps: many small measurements on matrices, one parquet table.

Some conditional verdicts are about quantities no training run logs (Corollary 1 is a statement at
t = 0). Their maps are measured here, on the matrices ``sim.instances`` builds, spread over a Dask
``LocalCluster`` (or any ``distributed.Client``) one task per (d, L), and written as
``OUT/results.parquet`` with ``OUT/spec.toml`` beside it. Everything in a table follows from its spec
(a TOML file under ``docs/sweeps/``) and the seeds it lists; nothing is typed in.

    python -m sweep.maps docs/sweeps/corollary1-map.toml --out docs/sweeps/corollary1-map --workers 2

A spec names its ``map`` (one of :data:`MAPS`) and that map's settings; see the spec files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd


def _quiet_threads():
    """One BLAS/torch thread per task: the cluster's workers are the parallelism."""
    import torch

    torch.set_num_threads(1)


# ------------------------------------------------------------------ corollary1: t = 0 on matrices
def corollary1_task(d: int, depth: int, spec: dict) -> list[dict]:
    """Every (r̂, ε, init) of one (d, L): both nets at t = 0 (sim.instances.initial_pair), proof's scaling.

    The gap is formed from the end-to-end matrices P (wide) and P̃ (Algorithm 1) as
    ‖P‖² − ‖P̃‖² − 2⟨P − P̃, M*⟩ (the same number as the difference of the two squared errors,
    without its cancellation); the columns also hold that difference, the overlap ω = tr(QᵀM*)
    and the norms a rounding band needs.
    """
    import theory
    from sim.gd import end_to_end
    from sim.instances import initial_pair

    _quiet_threads()
    r = int(spec["rank"])
    sig = theory.authors_target(d, r, int(spec["target_seed"])).sigma
    seeds = int(spec["haar_seeds"][str(d)])
    rows = []
    for dr in spec["rank_hat_minus_rank"]:
        rh = r + int(dr)
        for eps in spec["eps"]:
            for init, seed in [("aligned", 0)] + [("haar", s) for s in range(seeds)]:
                t0 = time.perf_counter()
                pair = initial_pair(sig, d=d, rank_hat=rh, depth=depth, eps=float(eps), scaling="proof",
                                    aligned=init == "aligned", seed=seed)
                P = end_to_end(pair.wide_layers)[0].numpy()
                Pc = end_to_end(pair.compressed_layers)[0].numpy()
                M = pair.problem.target[0].numpy()
                wsq, csq = float(np.sum(P * P)), float(np.sum(Pc * Pc))
                D = P - Pc
                rows.append(dict(
                    d=d, rank=r, rank_hat=rh, rank_hat_minus_rank=int(dr), depth=depth, eps=float(eps), init=init,
                    seed=seed, gap=wsq - csq - 2.0 * float(np.sum(D * M)),
                    gap_of_errors=pair.wide_error - pair.compressed_error, overlap=pair.overlap,
                    wide_error=pair.wide_error, compressed_error=pair.compressed_error, wide_sq=wsq,
                    compressed_sq=csq, diff_norm=float(np.linalg.norm(D)), target_norm=float(np.linalg.norm(M)),
                    time_s=time.perf_counter() - t0))
    return rows


# ------------------------------------------------------------------ theorem2: both nets along GD, every step
def _along_gd(Ws, scales, eta: float, problem, steps: int, measure, until: int | None = None) -> np.ndarray:
    """``measure()`` (a tuple of (B,) arrays, the first an error) at steps 0 … ``steps`` of GD, as a (T, k, B)
    array. It stops early at step ``until``, or once every instance's error has left the floats
    (cumulatively); the rows past that are NaN: nothing more is measured there."""
    until = steps if until is None else min(int(until), steps)
    import torch

    from sim.gd import gd_step

    out = finite = None
    with torch.no_grad():
        for t in range(until + 1):
            vals = np.stack(measure())
            if t == 0:
                out = np.full((steps + 1,) + vals.shape, np.nan)
                finite = np.ones(vals.shape[1], bool)
            out[t] = vals
            finite &= np.isfinite(vals[0])
            if not finite.any():
                break
            if t < until:
                gd_step(Ws, scales, eta, problem)
    return out


def _theorem2_cell(d: int, r: int, depth: int, eps: float, seeds: list[int], target_seed: int):
    """The run configs, problem and target singular vectors of one (d, r, L) of the Theorem 2 maps."""
    import warnings

    import torch

    import theory
    from sim.build import make_problem
    from sim.config import RunConfig
    from sim.instances import CPU

    sig = theory.authors_target(d, r, int(target_seed)).sigma
    kw = dict(problem="factorization", target="spectrum", spectrum=tuple(float(x) for x in sig), d=d, depth=depth,
              eps=eps, loss="sum", eta=1.0, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cw = RunConfig(model="wide", rank_hat=r, init="orthogonal", **kw)
    p = make_problem(cw, seeds, CPU)
    U, _, Vh = torch.linalg.svd(p.target)
    return sig, kw, cw, p, U[..., :r], Vh[..., :r, :].transpose(-1, -2)


def wide_errors(d: int, r: int, depth: int, *, eps: float, eta: float, steps: int, seeds: list[int],
                target_seed: int) -> np.ndarray:
    """The wide DLN's squared error ‖W_{L:1}(t) − M*‖_F² at every step (T, B) of one (d, r, L): the same for
    every r̂ of the cell (its init does not depend on r̂), so a map runs it once per (d, r, L)."""
    import torch

    from sim.gd import end_to_end
    from sim.instances import CPU
    from sim.models import init_wide

    _quiet_threads()
    _, _, cw, p, _, _ = _theorem2_cell(d, r, int(depth), eps, seeds, target_seed)
    Ww, sw = init_wide(cw, seeds, CPU)

    def measure():
        return (torch.linalg.matrix_norm(end_to_end(Ww) - p.target) ** 2).numpy(),

    return _along_gd(Ww, sw, eta, p, steps, measure)[:, 0]


def _steps_measured(finite: np.ndarray) -> int:
    """How many steps of a (T, B) run are measured: up to and including the first at which every seed has had a
    non-finite value (``finite`` per step and seed), where a run stops; all T if none."""
    dead = np.flatnonzero(~np.logical_and.accumulate(finite, axis=0).any(axis=1))
    return int(dead[0]) + 1 if dead.size else len(finite)


def margin_stats(ew: np.ndarray, ec: np.ndarray, beta: np.ndarray) -> dict[str, np.ndarray]:
    """Per seed, from the (T, B) squared errors of both nets and the compressed net's β-mode error: the least
    margin m = e_wide − e_comp over the steps (``min_margin``, at its first step ``worst_step``, with β there),
    the least m + β, the first step with m < 0 (−1 if none), whether both stayed finite, and the final errors.

    The steps run up to the first at which every seed has had a non-finite error (either net), where a joint
    run stops; a NaN margin is never the least. The same numbers as running minima along the run
    (tests/test_maps.py)."""
    finite = np.isfinite(ew) & np.isfinite(ec)
    T = _steps_measured(finite)
    ew, ec, beta = ew[:T], ec[:T], beta[:T]
    with np.errstate(invalid="ignore"):  # inf − inf is NaN here, on purpose: a margin that cannot be formed
        m, slack = ew - ec, ew - ec + beta
    cand = np.where(np.isnan(m), np.inf, m)
    worst_step = np.argmin(cand, axis=0)  # argmin: the first step of the least margin
    cols = np.arange(m.shape[1])
    worst = cand[worst_step, cols]
    viol = m < 0
    return dict(min_margin=worst, worst_step=worst_step,
                beta_error_at_worst=np.where(worst < np.inf, beta[worst_step, cols], 0.0),
                min_margin_plus_beta=np.min(slack, axis=0),  # NaN-propagating, as np.minimum along the run
                first_violation_step=np.where(viol.any(axis=0), np.argmax(viol, axis=0), -1),
                finite=finite[:T].all(axis=0), final_wide_error=ew[-1], final_compressed_error=ec[-1])


def pair_margins(d: int, r: int, rank_hat: int, depth: int, *, eps: float, alpha: float, eta: float, steps: int,
                 seeds: list[int], target_seed: int, wide: np.ndarray | None = None) -> list[dict]:
    """Both networks of one cell along GD at step ``eta`` (sum loss), every seed in one batch; per seed the
    worst margin over every step.

    Per seed: the wide DLN (α = 1) from a Haar-random orthogonal init at the proof's scale (per-layer ε)
    and Algorithm 1 (outer step αη), on the factorization target with the authors' spectrum; at every step
    both squared errors and the compressed net's error outside the target's r modes (its β modes:
    ‖P̃‖² − ‖UᵀP̃V‖², U, V the target's singular vectors), from the matrices. ``wide``: the wide net's
    errors of this (d, r, L, ε, η, steps, seeds) from :func:`wide_errors`, when a map has them already.
    """
    import warnings

    import torch

    from sim.build import make_problem
    from sim.config import RunConfig
    from sim.gd import end_to_end
    from sim.instances import CPU
    from sim.models import init_compressed

    _quiet_threads()
    L = int(depth)
    t0 = time.perf_counter()
    if wide is None:
        wide = wide_errors(d, r, L, eps=eps, eta=eta, steps=steps, seeds=seeds, target_seed=target_seed)
    if wide.shape != (steps + 1, len(seeds)):
        raise ValueError(f"wide must hold {steps + 1} steps of {len(seeds)} seeds, got shape {wide.shape}")
    sig, kw, _, p, U, V = _theorem2_cell(d, r, L, eps, seeds, target_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cc = RunConfig(model="compressed", rank_hat=rank_hat, alpha=alpha, **kw)
    Wc, sc = init_compressed(cc, make_problem(cc, seeds, CPU), CPU, seeds=seeds)
    M = p.target

    def measure():
        Pc = end_to_end(Wc)
        ec = torch.linalg.matrix_norm(Pc - M) ** 2
        beta = torch.linalg.matrix_norm(Pc) ** 2 - torch.linalg.matrix_norm(U.transpose(-1, -2) @ Pc @ V) ** 2
        return ec.numpy(), beta.numpy()

    # once every seed's wide net has left the floats nothing more is measured (margin_stats stops there): the
    # compressed net need not run past that step
    comp = _along_gd(Wc, sc, eta, p, steps, measure, until=_steps_measured(np.isfinite(wide)) - 1)
    st = margin_stats(wide, comp[:, 0], comp[:, 1])
    fro2 = float(np.sum(sig**2))
    dt = time.perf_counter() - t0
    B = len(seeds)
    return [dict(d=d, rank=r, rank_hat=rank_hat, rank_hat_minus_rank=rank_hat - r, depth=L, eps=eps, alpha=alpha,
                 seed=s, eta=eta, steps=steps, target_sq=fro2, **{k: v[i].item() for k, v in st.items()},
                 time_s=dt / B) for i, s in enumerate(seeds)]


def theorem2_task(d: int, r: int, rank_hats: list[int], depth: int, spec: dict) -> list[dict]:
    """Theorem 2 along the flow, every r̂ of one (d, r, L): both nets at η = step_fraction·η_c(σ*_1, L), GD at a
    small step standing in for the flow (its O(η) gap to the flow is what ode-vs-gd measures); horizon
    ``horizon`` × theory's flow fit time of the smallest mode. The wide net, the same for every r̂, runs once."""
    import theory

    L, eps = int(depth), float(spec["eps"])
    sig = theory.authors_target(d, r, int(spec["target_seed"])).sigma
    eta = float(spec["step_fraction"]) * theory.critical_step_size(float(sig[0]), depth=L)
    steps = int(float(spec["horizon"]) * theory.fit_time(float(sig.min()), depth=L, eps=eps) / eta) + 20
    run = dict(eps=eps, eta=eta, steps=steps, seeds=list(range(int(spec["seeds"]))),
               target_seed=int(spec["target_seed"]))
    t0 = time.perf_counter()
    wide = wide_errors(d, r, L, **run)
    wide_s = (time.perf_counter() - t0) / len(run["seeds"])
    rows = []
    for k in rank_hats:  # the wide run's time goes to the first cell, the one that would have run it alone
        cell = pair_margins(d, r, k, L, alpha=1.0, wide=wide, **run)
        rows += [dict(x, time_s=x["time_s"] + wide_s * (k == rank_hats[0])) for x in cell]
    return [{k: v for k, v in x.items() if k not in ("alpha", "finite")} for x in rows]


def theorem2_gd_task(d: int, r: int, rank_hat: int, depth: int, eps: float, alpha: float, eta_fraction: float,
                     spec: dict) -> list[dict]:
    """Theorem 2 along discrete GD at η = eta_fraction·η_c(α) — the compressed net's ε-exact critical step
    (theory.critical_step_size with α and ε) — for both nets; horizon ``horizon`` × the later of the two
    nets' fit times of the smallest mode (theory.fit_time, α = 1 for the wide net)."""
    import theory

    L = int(depth)
    sig = theory.authors_target(d, r, int(spec["target_seed"])).sigma
    eta_c = theory.critical_step_size(float(sig[0]), depth=L, alpha=alpha, eps=eps)
    eta = float(eta_fraction) * eta_c
    fit = max(theory.fit_time(float(sig.min()), depth=L, eps=eps, alpha=a) for a in (1.0, alpha))
    steps = int(float(spec["horizon"]) * fit / eta) + 20
    rows = pair_margins(d, r, rank_hat, L, eps=eps, alpha=alpha, eta=eta, steps=steps,
                        seeds=list(range(int(spec["seeds"]))), target_seed=int(spec["target_seed"]))
    return [dict(x, eta_fraction=float(eta_fraction), eta_c=eta_c) for x in rows]


def _theorem2_gd_tasks(s: dict):
    """One task per grid cell (every key of the spec a list), largest cost first."""
    import itertools

    keys = ("d", "rank", "rank_hat", "depth", "eps", "alpha", "eta_fraction")
    cells = [c for c in itertools.product(*[list(s[k]) for k in keys]) if c[1] <= c[2] <= c[0]]
    cells.sort(key=lambda c: (-c[0], c[6], -c[5]))
    return [(theorem2_gd_task, (int(d), int(r), int(k), int(L), float(e), float(a), float(f), s))
            for d, r, k, L, e, a, f in cells]


def theorem2_rank_hats(d: int, r: int, s: dict) -> list[int]:
    """The r̂ of one (d, r): r + each of ``rank_hat_minus_rank`` and d − r + each of ``rank_hat_around_d_minus_r``,
    those in [r, d]."""
    cand = {r + int(x) for x in s["rank_hat_minus_rank"]} | {d - r + int(x) for x in s["rank_hat_around_d_minus_r"]}
    return sorted(k for k in cand if r <= k <= d)


def _theorem2_tasks(s: dict):
    """One task per (ε, d, L, r), all its r̂ in it (one wide run); ``eps`` is one value or a list (the rows carry their ε)."""
    epss = s["eps"] if isinstance(s["eps"], list) else [s["eps"]]
    return [(theorem2_task, (int(d), int(r), theorem2_rank_hats(int(d), int(r), s), int(L), {**s, "eps": float(e)}))
            for e in epss for d in sorted(s["d"], reverse=True) for L in s["depth"]
            for r in sorted(s["rank"], reverse=True) if 2 * r <= d]


#: map name -> (the tasks of a spec as (function, args) pairs)
MAPS = {
    "corollary1": lambda s: [(corollary1_task, (int(d), int(L), s)) for d in sorted(s["d"], reverse=True)
                             for L in s["depth"]],
    "theorem2": _theorem2_tasks,
    "theorem2-gd": _theorem2_gd_tasks,
}


def load(path) -> dict:
    spec = tomllib.loads(Path(path).read_text())
    if spec.get("map") not in MAPS:
        raise SystemExit(f"{path}: 'map' must be one of {sorted(MAPS)}, got {spec.get('map')!r}")
    return spec


def run(spec_path, out, client=None, workers: int = 2) -> pd.DataFrame:
    """All tasks of the spec on ``client`` (or an embedded LocalCluster of ``workers``), written to ``out``."""
    spec = load(spec_path)
    tasks = MAPS[spec["map"]](spec)
    t0 = time.perf_counter()
    if client is None:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                Client(cl) as c:
            rows = sum(c.gather([c.submit(f, *a, pure=False) for f, a in tasks]), [])
    else:
        rows = sum(client.gather([client.submit(f, *a, pure=False) for f, a in tasks]), [])
    df = pd.DataFrame(rows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / "results.parquet", index=False)
    shutil.copyfile(spec_path, out / "spec.toml")
    print(f"{len(df)} rows in {time.perf_counter() - t0:.1f} s wall ({df.time_s.sum():.1f} s of measurements) "
          f"-> {out / 'results.parquet'}")
    return df


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sweep.maps", description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args(argv)
    run(a.spec, a.out, workers=a.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

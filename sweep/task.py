"""What a worker runs: one batch into the store, and each seed's outcome as a small dict.

A batch of configs (several points, ``config.seeds == 1``) runs as one computation with per-instance step
sizes (:func:`sim.many.run_many`), each point stored as its single run. A seed batch that diverges is rerun
seed by seed in the same task (``sim``'s divergence stops the whole
batch at its first diverging seed), so each seed gets its own status: ``completed`` with its run in
the store, or ``diverged`` with a record beside it. Any other error makes the batch's rows
``failed`` with the error's message; nothing here retries a run — a worker that dies is Dask's to
handle (its tasks are rescheduled on the others).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

import sim
import theory

from .store import Store

__all__ = ["run_batch", "completed_outcomes", "diverged_outcome", "failed_outcome", "OUTCOME_COLUMNS"]

#: columns every outcome has (the final metrics, ``final_<metric>``, follow them)
OUTCOME_COLUMNS = ("key", "status", "message", "steps_done", "stopped", "train_time_s", "batch_size",
                   "store_key", "eta_stable", "fit_steps")
_NOT_METRICS = {"step", "seed", "time_s", "t"}
FIT_DELTA = 0.01  #: a mode counts as fitted at (1 - δ) σ*_i, as in theory.fit_time's default


def target_sigma(cfg: sim.RunConfig) -> np.ndarray | None:
    """σ* of the target ``sim`` builds for this single config (authors' generator seeded by the run's seed,
    or the given spectrum); ``None`` for any other target (a file, MovieLens, …): no ``fit_steps`` then."""
    if cfg.problem not in ("factorization", "sensing", "completion"):
        return None
    if cfg.target == "spectrum":
        return np.sort(np.asarray(cfg.spectrum, float))[::-1]
    if cfg.target == "authors":
        return theory.authors_target(cfg.shape, cfg.rank, cfg.seed).sigma
    if cfg.target == "authors-asymptotic":
        return theory.authors_spectrum_asymptotic(cfg.shape, cfg.rank)
    return None


def fit_steps(run: sim.Run, index: int, sigma) -> list[int]:
    """First logged step at which :math:`σ_i(W_{L:1}) ≥ (1 − δ) σ^*_i`, per mode i (−1: not within the run)."""
    if sigma is None:
        return []
    steps = np.array(sorted(run.metrics["step"].unique()))
    sv = run.singular_values[:, index, : len(sigma)]
    hit = sv >= (1 - FIT_DELTA) * np.asarray(sigma)[None, : sv.shape[1]]
    return [int(steps[np.argmax(hit[:, i])]) if hit[:, i].any() else -1 for i in range(sv.shape[1])]


def completed_outcomes(run: sim.Run, points) -> list[dict]:
    """One outcome per seed of ``points`` (single configs) from a finished run holding them; ``batch_size`` is
    how many runs it was computed with (its seeds, or the size of its batch of configs: ``summary.json``)."""
    m = run.metrics
    last = m[m.step == m.step.max()].set_index("seed")
    out, first = [], int(run.config["seed"])
    for p in points:
        row = {"key": p.key(), "status": "completed", "message": "", "steps_done": int(run.summary["steps_done"]),
               "stopped": run.summary.get("stopped", ""), "train_time_s": float(run.summary["train_time_s"]),
               "batch_size": int(run.summary.get("batch_size", run.config["seeds"])), "store_key": run.config["key"], "eta_stable": math.nan,
               "fit_steps": fit_steps(run, p.seed - first, target_sigma(p))}
        for c in m.columns:
            if c not in _NOT_METRICS:
                row[f"final_{c}"] = float(last.loc[p.seed, c])
        out.append(row)
    return out


def diverged_outcome(point: sim.RunConfig, rec: dict) -> dict:
    return {"key": point.key(), "status": "diverged", "message": rec["message"], "steps_done": int(rec["step"]),
            "stopped": "diverged", "train_time_s": math.nan, "batch_size": 1, "store_key": rec["key"],
            "eta_stable": float(rec["eta_stable"]), "fit_steps": [], "final_train_loss": float(rec["loss"])}


def failed_outcome(point: sim.RunConfig, exc: BaseException, batch_size: int) -> dict:
    return {"key": point.key(), "status": "failed", "message": f"{type(exc).__name__}: {exc}",
            "steps_done": 0, "stopped": "failed", "train_time_s": math.nan, "batch_size": batch_size,
            "store_key": "", "eta_stable": math.nan, "fit_steps": []}


def _run_points(store: Store, cfg: sim.RunConfig, points) -> list[dict]:
    try:
        return completed_outcomes(store.run(cfg), points)
    except sim.DivergenceError as exc:
        if len(points) == 1:
            return [diverged_outcome(points[0], store.put_diverged(points[0], exc))]
    out = []
    for p in points:  # the batch diverged: which seeds did?
        out += _run_points(store, p, (p,))
    return out


def _run_many(store: Store, points) -> list[dict]:
    """A batch of configs (:func:`sim.many.run_many`); a point that diverged in it is rerun alone for its record."""
    out = []
    for p, r in zip(points, store.run_many(points)):
        if isinstance(r, sim.DivergenceError):
            out += _run_points(store, p, (p,))
        else:
            out += completed_outcomes(r, (p,))
    return out


def run_batch(config: dict, points: list[dict], store_root: str, threads: int = 1) -> list[dict]:
    """Run one batch (``config``: its ``RunConfig`` as a dict; ``points``: the single configs it covers)
    into the store at ``store_root`` with ``threads`` torch threads; returns one outcome per point."""
    import torch

    torch.set_num_threads(threads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # r̂ < r: reported once, by the client
        cfg = sim.RunConfig.from_dict(config)
        pts = tuple(sim.RunConfig.from_dict(p) for p in points)
    store = Store(store_root)
    try:
        if cfg.seeds == 1 and len(pts) > 1:
            return _run_many(store, pts)
        return _run_points(store, cfg, pts)
    except Exception as exc:  # noqa: BLE001 - any error is this batch's rows, never the sweep's crash
        return [failed_outcome(p, exc, len(pts)) for p in pts]


"""From a spec's run points to the work left: what the store already holds, and batches of the rest.

Points that differ only in their seed become one batched run (``RunConfig.seeds``: the engine's
batched GD, bitwise equal per seed to the single runs) of at most ``max_batch`` consecutive seeds.
Points that also differ in η, α or ε (a sweep cell over step sizes) become one batch of configs
(:func:`sim.many.run_many`: per-instance step sizes, each instance bitwise equal to its single run and
stored under its single key) of at most ``max_batch`` points. A point is *done* when the store holds
its single run (``cdln run --seed s``, a point of a batch of configs, or a seed whose batch diverged and
was rerun alone), its planned seed batch, or a record that it diverged. Gradient descent with a
tolerance or patience stop (``tol > 0``, ``patience > 0``) is not batched: a batch stops when every seed
is below ``tol`` (or has stopped improving), a single run when its own seed is, so the two would not agree; nor is the flow batched over η (its times are η·step).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import theory
from sim import RunConfig, widths_of

from .store import Store

__all__ = ["Batch", "Plan", "make_plan", "step_macs", "matmul_rate"]


@dataclass(frozen=True)
class Batch:
    """One task: a run of ``config.seeds`` consecutive seeds (``points``: their single configs), or, when
    ``config.seeds == 1`` and there are several ``points``, a batch of configs (:func:`sim.many.run_many`)."""

    config: RunConfig
    points: tuple

    @property
    def key(self) -> str:
        return self.config.key()


@dataclass(frozen=True)
class Plan:
    points: tuple          #: every (config, seed), in spec order
    done: dict             #: single key -> (store key, kind) for points the store answers: kind completed|diverged
    todo: tuple            #: Batches to run

    @property
    def n_todo_runs(self) -> int:
        return sum(len(b.points) for b in self.todo)


def _group_key(cfg: RunConfig) -> str:
    return dataclasses.replace(cfg, seed=0, seeds=1).key()


def _pool_key(cfg: RunConfig) -> str | None:
    """Points with equal pool keys may share one batch of configs (all fields but seed, η, α, ε equal);
    ``None``: never pooled (the flow, AltMin, a tolerance or patience stop)."""
    if cfg.mode != "gd" or cfg.model == "altmin" or cfg.early_stop:
        return None
    return dataclasses.replace(cfg, seed=0, seeds=1, eta=1.0, alpha=1.0, eps=1e-3).key()


def _seed_chunks(members, store: Store, done: dict, max_batch: int) -> list[list[RunConfig]]:
    """Points of one seed group not yet done, as runs of consecutive seeds (each at most ``max_batch``)."""
    left = []
    for p in sorted(members, key=lambda c: c.seed):
        k = p.key()
        if store.has_run(k):
            done[k] = (k, "completed")
        elif store.diverged(k) is not None:
            done[k] = (k, "diverged")
        else:
            left.append(p)
    batchable = left and (not left[0].early_stop or left[0].mode == "flow")
    chunks, cur = [], []
    for p in left:
        if cur and (not batchable or p.seed != cur[-1].seed + 1 or len(cur) >= max_batch):
            chunks.append(cur)
            cur = []
        cur.append(p)
    if cur:
        chunks.append(cur)
    out = []
    for ch in chunks:
        cfg = dataclasses.replace(ch[0], seeds=len(ch)) if len(ch) > 1 else ch[0]
        if len(ch) > 1 and store.has_run(cfg.key()):
            done.update({p.key(): (cfg.key(), "completed") for p in ch})
        else:
            out.append(ch)
    return out


def make_plan(points, store: Store, max_batch: int) -> Plan:
    groups: dict[str, list[RunConfig]] = {}
    for p in points:
        groups.setdefault(_group_key(p), []).append(p)
    done, pools = {}, {}
    for gk, members in groups.items():
        for ch in _seed_chunks(members, store, done, max_batch):
            pk = _pool_key(ch[0])
            pools.setdefault(("seeds", gk) if pk is None else ("configs", pk), []).append(ch)
    todo = []
    for chunks in pools.values():
        if len({(p.eta, p.alpha, p.eps) for ch in chunks for p in ch}) == 1 or _pool_key(chunks[0][0]) is None:
            # one (η, α, ε): seed batches, as before
            todo += [Batch(dataclasses.replace(ch[0], seeds=len(ch)) if len(ch) > 1 else ch[0], tuple(ch))
                     for ch in chunks]
            continue
        flat = [p for ch in chunks for p in ch]
        for i in range(0, len(flat), max_batch):
            piece = tuple(flat[i:i + max_batch])
            todo.append(Batch(piece[0], piece))
    return Plan(points=tuple(points), done=done, todo=tuple(todo))


# ------------------------------------------------------------------ cost estimate (theory's model)
def step_macs(cfg: RunConfig) -> int | None:
    """Multiply-accumulates of one GD step of one seed (``theory.gd_step_macs`` on the run's widths;
    sensing adds its measurement operator, m·n1·n2 forward and back). ``None``: AltMin and the flow
    have no per-step model in ``theory``."""
    if cfg.model == "altmin" or cfg.mode == "flow":
        return None
    ws = widths_of(cfg)
    factored = cfg.problem == "factorization" and 4 * ws[-2] <= min(cfg.shape)  # sim.uses_factored_step's rule
    macs = theory.gd_step_macs(ws, factored=factored)
    if cfg.problem == "sensing":
        macs += 2 * cfg.measurements * cfg.shape[0] * cfg.shape[1]
    return macs


def matmul_rate(seconds: float = 0.2, n: int = 100) -> float:
    """Multiply-accumulates per second of float64 100x100 batched products on this machine (torch),
    timed for about ``seconds``: the rate a d = 100 GD step can reach at best."""
    import torch

    a = torch.randn(4, n, n, dtype=torch.float64)
    torch.bmm(a, a)
    reps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        torch.bmm(a, a)
        reps += 1
    return reps * 4 * n ** 3 / (time.perf_counter() - t0)


def cost_estimate(plan: Plan) -> dict:
    """Total MACs of the work left (every step of every seed) and the runs the model cannot price."""
    macs, unpriced = 0, 0
    for b in plan.todo:
        m = step_macs(b.config)
        if m is None:
            unpriced += len(b.points)
        else:
            macs += m * b.config.steps * len(b.points)
    return {"macs": macs, "unpriced_runs": unpriced}


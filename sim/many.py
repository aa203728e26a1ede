r"""Many configs as one batched run: configs that differ only in η, α, ε (and the seed) share a batch.

A batch of seeds (``RunConfig.seeds``) already runs as one computation. Here the instances of a batch
may also have their own step size :math:`\eta_k`, outer-layer multiplier :math:`\alpha_k` and init
scale :math:`\epsilon_k` (a sweep cell over a grid of step sizes is then one batch): each layer moves by

.. math:: W_l^{(k)} \leftarrow W_l^{(k)} - \eta_k\, s_{l,k}\, u\, \nabla_{W_l^{(k)}}\ell ,

applied as one fused multiply–add per entry with a per-instance coefficient (:class:`sim.fused.Coefficients`),
and ε scales each instance's init slice; every other product is the batched one. So each instance
is bitwise equal to its own single run (tests/test_speed_paths.py checks it), and its results are
stored under its own single-run key: any later ``cdln run`` of that config finds them. Bitwise at one
thread (the sweep's workers' setting); above one, the BLAS may split a long contraction differently for a
batch than for a batch of one (:mod:`sim.fused`, "Threads"), and an instance may then differ from its single run in the last bits.

Gradient descent only (no flow: its times are η·step), no tolerance stop (a batch would stop when
every instance is below it), and not AltMin (which has no η, α or ε).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import torch

from .build import make_problem
from .config import RunConfig
from .gd import DivergenceError, Trace, run_gd
from .models import init_compressed, init_wide
from .results import DEFAULT_ROOT, load_run, logged_sv_count, summarise, write_run

__all__ = ["PER_INSTANCE", "common_config", "execute_many", "run_many"]

PER_INSTANCE = ("eta", "alpha", "eps")  #: the fields that may differ within one batch (besides the seed)


def common_config(cfgs) -> RunConfig:
    """The config every instance shares (``cfgs[0]`` with seeds = 1); ValueError naming the first field on
    which two configs differ other than seed, η, α, ε, or a config this batching does not apply to."""
    cfgs = list(cfgs)
    if not cfgs:
        raise ValueError("cfgs must hold at least 1 config, got 0")
    base = dataclasses.replace(cfgs[0], seeds=1)
    if base.mode != "gd" or base.model == "altmin" or base.early_stop:
        raise ValueError(f"a batch of configs needs mode 'gd', model wide|compressed, tol = 0 and patience = 0; "
                         f"got mode "
                         f"{base.mode!r}, model {base.model!r}, tol {base.tol!r}, patience {base.patience!r}")
    ref = _shared(base)
    for c in cfgs:
        if c.seeds != 1:
            raise ValueError(f"each config of a batch is a single run (seeds = 1), got seeds = {c.seeds!r}")
        other = _shared(c)
        for name in sorted(set(ref) | set(other)):
            if other.get(name) != ref.get(name):
                raise ValueError(f"configs of one batch may differ only in seed, {', '.join(PER_INSTANCE)}; "
                                 f"{name} is {ref.get(name)!r} in one and {other.get(name)!r} in another")
    return base


def _shared(cfg: RunConfig) -> dict:
    """The config's identity (:meth:`sim.RunConfig.identity`, what its key hashes) without seed, η, α, ε: two
    configs that differ only in a field their problem ignores (``sampling`` of a factorization, ``width`` given
    as ``widths``) share a batch, as the sweep's plan pools them by key (``sweep.plan._pool_key``)."""
    d = cfg.identity()
    for name in ("seed", *PER_INSTANCE):
        d.pop(name, None)
    return d


def execute_many(cfgs, *, progress=None) -> list:
    """Run the configs as one batch in memory; returns, per config, (trace, summary) as :func:`sim.execute`
    would for it alone, or the :class:`sim.DivergenceError` of an instance that diverged (the batch goes
    on without it: ``run_gd(drop_diverged=True)``)."""
    cfgs = list(cfgs)
    base = common_config(cfgs)
    device = base.resolved_device()
    seeds = [c.seed for c in cfgs]
    torch.manual_seed(base.seed)  # as sim.execute: nothing draws from it
    t0 = time.perf_counter()
    problem = make_problem(base, seeds, device)
    eps = [c.eps for c in cfgs]
    if base.model == "wide":
        Ws, scales = init_wide(base, seeds, device, eps=eps)
        alpha = 1.0
    else:
        alpha = [c.alpha for c in cfgs]
        Ws, scales = init_compressed(base, problem, device, seeds=seeds, eps=eps, alpha=alpha)
    trace = run_gd(problem, Ws, scales, eta=[c.eta for c in cfgs], steps=base.steps, log_every=base.log_every,
                   tol=0.0, seeds=seeds, depth=base.depth, alpha=alpha, loss_name=base.loss,
                   n_sv=logged_sv_count(base, problem), progress=progress, drop_diverged=True,
                   kernel=base.kernel)
    wall = time.perf_counter() - t0
    out = []
    for k in range(len(cfgs)):
        if k in trace.diverged:
            out.append(trace.diverged[k])  # its hint is its own target's (Problem.sigma_max(k))
        else:
            tk = _instance(trace, k)
            out.append((tk, {**summarise(tk, wall, device), "batch_size": len(cfgs)}))
    return out


def _instance(trace: Trace, k: int) -> Trace:
    """Instance k of a batched trace, as its single run's trace (leading axis of length 1)."""
    pick = lambda xs: [x[k:k + 1] for x in xs]  # noqa: E731
    return Trace(steps=list(trace.steps), time_s=list(trace.time_s),
                 metrics={name: pick(v) for name, v in trace.metrics.items()},
                 singular_values=pick(trace.singular_values), align_u=pick(trace.align_u),
                 align_v=pick(trace.align_v), outer_align=pick(trace.outer_align), stopped=trace.stopped)


def run_many(cfgs, *, root=DEFAULT_ROOT, progress=None) -> list:
    """Run the configs not yet in ``root`` as one batch and write each as its single run (``root/<key>/``);
    returns per config its :class:`sim.Run` (``cached`` for those found) or its :class:`sim.DivergenceError`."""
    cfgs = list(cfgs)
    common_config(cfgs)
    root = Path(root)
    todo = list({c.key(): c for c in cfgs if not (root / c.key() / "summary.json").is_file()}.values())
    done = {}
    if todo:
        for c, res in zip(todo, execute_many(todo, progress=progress)):
            done[c.key()] = res if isinstance(res, DivergenceError) else write_run(c, *res, root / c.key())
    runs = []
    for c in cfgs:
        if c.key() in done:
            runs.append(done[c.key()])
        else:
            r = load_run(root / c.key())
            r.cached = True
            runs.append(r)
    return runs

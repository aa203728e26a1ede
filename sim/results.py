"""One place that builds a run from a config, runs it, and writes/reads its results.

``run(cfg)`` → problem + model → GD / AltMin / gradient flow → ``runs/<key>/`` with
``config.json``, ``metrics.csv``, ``singular_values.npy``, ``alignment.npz`` and
``summary.json``, written into a temporary folder and renamed into place (atomic: a crash or
a divergence leaves nothing half-written). A finished run is reused when its config is asked
for again (the folder name is the config's hash). ``load_run(DIR)`` reads one back.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from .altmin import run_altmin
from .config import RunConfig
from .flow import run_flow
from .checkpoint import DEFAULT_EVERY_S, Checkpoint
from .gd import DivergenceError, Trace, run_gd
from .models import init_compressed, init_wide
from .build import make_problem

__all__ = ["Run", "run", "load_run", "execute", "write_run", "DEFAULT_ROOT"]

DEFAULT_ROOT = Path("runs")


@dataclass
class Run:
    path: Path
    config: dict
    metrics: pd.DataFrame          #: step, seed, time_s, train_loss, recovery_error, … (t for flow)
    singular_values: np.ndarray    #: (n_logs, seeds, K) top singular values of :math:`W_{L:1}`
    alignment: dict = field(default_factory=dict)  #: u, v: (n_logs, seeds, r); outer: (n_logs, seeds, 2)
    summary: dict = field(default_factory=dict)
    cached: bool = False


def execute(cfg: RunConfig, *, progress=None, checkpoint=None) -> tuple[Trace, dict]:
    """Build and run ``cfg`` in memory; returns the trace and a summary. A sparse run on the CPU runs torch on
    one thread (:func:`sim.sparse_ops.quiet_torch_threads`): its cores belong to the sparse kernels.
    ``checkpoint`` (:class:`sim.checkpoint.Checkpoint`): a GD run saves its state there and resumes from it."""
    device = cfg.resolved_device()
    threads = torch.get_num_threads()
    if cfg.storage == "sparse":
        from .sparse_ops import quiet_torch_threads

        with quiet_torch_threads(device):
            trace, summary = _execute(cfg, device, progress, checkpoint)
        summary["threads"] = threads
        return trace, summary
    return _execute(cfg, device, progress, checkpoint)


def _execute(cfg: RunConfig, device, progress, checkpoint=None) -> tuple[Trace, dict]:
    seeds = cfg.seed_list
    torch.manual_seed(cfg.seed)  # nothing below draws from torch's global RNG; fixed regardless
    t0 = time.perf_counter()
    problem = make_problem(cfg, seeds, device)
    n_sv = logged_sv_count(cfg, problem)
    if cfg.model == "altmin":
        trace = run_altmin(problem, rank_hat=cfg.rank_hat, steps=cfg.steps, log_every=cfg.log_every,
                           n_sv=n_sv, tol=cfg.tol, progress=progress)
    else:
        if cfg.model == "wide":
            Ws, scales = init_wide(cfg, seeds, device)
        else:
            Ws, scales = init_compressed(cfg, problem, device)
        if cfg.mode == "flow":
            logged = sorted(set(range(0, cfg.steps + 1, cfg.log_every)) | {cfg.steps})
            trace = run_flow(problem, Ws, scales, cfg.eta * np.asarray(logged, float), n_sv=n_sv)
            trace.steps = logged
        else:
            trace = run_gd(problem, Ws, scales, eta=cfg.eta, steps=cfg.steps, log_every=cfg.log_every,
                           tol=cfg.tol, patience=cfg.patience, patience_delta=cfg.patience_delta,
                           seeds=seeds, depth=cfg.depth,
                           alpha=cfg.alpha if cfg.model == "compressed" else 1.0, loss_name=cfg.loss,
                           n_sv=n_sv, progress=progress, kernel=cfg.kernel, checkpoint=checkpoint)
    wall = time.perf_counter() - t0
    if getattr(trace, "resumed", None):  # the wall time before the resumption counts too
        wall += trace.resumed["wall_s_before"]
    return trace, summarise(trace, wall, device)


def logged_sv_count(cfg: RunConfig, problem) -> int:
    """How many singular values of :math:`W_{L:1}` a run logs: max(r̂, r) + 5, at most min(n1, n2)."""
    return min(min(problem.shape), max(cfg.rank_hat, cfg.rank if cfg.problem not in ("movielens", "ratings") else 0) + 5)


def summarise(trace: Trace, wall_s: float, device) -> dict:
    """A run's summary.json: status, stop reason, steps, times, where it ran, final metrics (seed means)."""
    out = {
        "status": "completed", "stopped": trace.stopped, "steps_done": trace.steps[-1],
        "wall_s": wall_s, "train_time_s": trace.time_s[-1], "device": str(device),
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "final": {k: float(np.mean(v[-1])) for k, v in trace.metrics.items()},
    }
    if getattr(trace, "resumed", None):
        out["resumed"] = dict(trace.resumed)
    return out


def _frame(trace: Trace, seeds: list[int]) -> pd.DataFrame:
    n, B = len(trace.steps), len(seeds)
    cols = {"step": np.repeat(trace.steps, B), "seed": np.tile(seeds, n),
            "time_s": np.repeat(trace.time_s, B)}
    if getattr(trace, "flow_times", None) is not None:
        cols["t"] = np.repeat(trace.flow_times, B)
    for k, v in trace.metrics.items():
        cols[k] = np.concatenate(v)
    return pd.DataFrame(cols)


def run(cfg: RunConfig, out: str | os.PathLike | None = None, *, root: str | os.PathLike = DEFAULT_ROOT,
        progress=None, checkpoint_every_s: float = DEFAULT_EVERY_S) -> Run:
    """Run ``cfg`` (or reuse its finished results) and write them atomically to ``out``. A GD run saves a
    checkpoint beside ``out`` every ``checkpoint_every_s`` seconds of wall time (``None``: never) and resumes
    from one it finds (:mod:`sim.checkpoint`); it is removed once the run is stored or has diverged."""
    key = cfg.key()
    dest = Path(out) if out is not None else Path(root) / key
    if (dest / "summary.json").is_file():
        old = json.loads((dest / "config.json").read_text())
        if old.get("key") != key:
            raise ValueError(f"out {str(dest)!r} already holds a different run (key {old.get('key')}, not {key})")
        r = load_run(dest)
        r.cached = True
        return r
    if dest.exists() and any(dest.iterdir()):
        raise ValueError(f"out {str(dest)!r} exists and is not an empty run folder")
    ck = None if checkpoint_every_s is None else Checkpoint(dest.parent / f".ckpt-{key}.pt", key, checkpoint_every_s)
    try:
        trace, summary = execute(cfg, progress=progress, checkpoint=ck)
    except DivergenceError:
        if ck is not None:
            ck.clear()  # a rerun would diverge at the same step: nothing to resume
        raise
    r = write_run(cfg, trace, summary, dest)
    if ck is not None:
        ck.clear()
    return r


def write_run(cfg: RunConfig, trace: Trace, summary: dict, dest: Path) -> Run:
    """Write a finished run into ``dest`` atomically (a second finisher of the same key returns the first's)."""
    key = cfg.key()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-", dir=dest.parent))
    try:
        (tmp / "config.json").write_text(json.dumps({**cfg.to_dict(), "key": key, "identity": cfg.identity()},
                                                    indent=2))
        _frame(trace, cfg.seed_list).to_csv(tmp / "metrics.csv", index=False)
        np.save(tmp / "singular_values.npy", np.stack(trace.singular_values))
        if trace.align_u:
            np.savez(tmp / "alignment.npz", u=np.stack(trace.align_u), v=np.stack(trace.align_v),
                     outer=np.stack(trace.outer_align))
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2))
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.replace(tmp, dest)
    except OSError:
        # another process finished the same key first (a sweep's second finisher): theirs is the run
        shutil.rmtree(tmp, ignore_errors=True)
        if (dest / "summary.json").is_file() and json.loads((dest / "config.json").read_text()).get("key") == key:
            r = load_run(dest)
            r.cached = True
            return r
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return load_run(dest)


def load_run(path: str | os.PathLike) -> Run:
    p = Path(path)
    if not (p / "summary.json").is_file():
        raise FileNotFoundError(f"{str(p)!r} is not a finished run folder (no summary.json)")
    align = {}
    if (p / "alignment.npz").is_file():
        with np.load(p / "alignment.npz") as z:
            align = {k: z[k] for k in z.files}
    return Run(path=p, config=json.loads((p / "config.json").read_text()),
               metrics=pd.read_csv(p / "metrics.csv"), singular_values=np.load(p / "singular_values.npy"),
               alignment=align, summary=json.loads((p / "summary.json").read_text()))

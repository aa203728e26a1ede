"""Nonlinear trainings (:mod:`sim.nonlinear`) on a Dask cluster: the ones the run cache lacks.

``cdln table1`` and ``cdln figures --paper`` need minutes-to-hours trainings of the MLP and the ViT
(Table 1, Figs. 1, 20, 21). Each is one Dask task that trains into the run cache
(``runs/nonlinear/<key>/``, written atomically by :func:`sim.nonlinear.train_cached`) on a fixed number
of torch threads and returns only its key and time, so the scheduler never ships a result around; the
caller then reads the cache. Tasks are submitted in the caller's order as priorities (first given,
first started), so a caller that lists seed 0 of every variant first has whole seeds done first. A worker
that dies has its task rescheduled by Dask; two processes finishing the same key is harmless (the one
that lands second drops its copy: :func:`sim.nonlinear.train_cached`).
"""

from __future__ import annotations

import time
from pathlib import Path

__all__ = ["missing_trainings", "train_missing"]


def missing_trainings(configs, runs_root) -> list:
    """The configs (distinct by key, in the given order) whose training the cache under ``runs_root`` lacks."""
    from sim.nonlinear.cache import config_key

    root, seen, out = Path(runs_root), set(), []
    for tc in configs:
        key = config_key(tc)
        if key not in seen and not (root / "nonlinear" / key / "result.json").is_file():
            seen.add(key)
            out.append(tc)
    return out


def _train_one(tc, runs_root: str, threads: int):
    """A Dask task: one training into the run cache on ``threads`` torch threads; (key, seconds, cached)."""
    import torch

    from sim.nonlinear import load_dataset, train_cached
    from sim.nonlinear.cache import config_key

    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    _, cached = train_cached(tc, runs_root, data=load_dataset(tc.dataset, tc.data_dir))
    return config_key(tc), time.perf_counter() - t0, cached


def train_missing(configs, runs_root, *, client=None, scheduler: str | None = None, workers: int | None = None,
                  threads: int = 1, progress=print) -> int:
    """Train the ``configs`` the cache lacks on a Dask cluster (``client``; else the one at ``scheduler``; else an
    embedded LocalCluster of ``workers`` processes), one per worker at a time on ``threads`` torch threads, in
    the given order; returns how many were trained. ValueError for ``threads`` < 1."""
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads!r}")
    todo = missing_trainings(configs, runs_root)
    if not todo:
        return 0
    from distributed import as_completed

    from .engine import _client

    with _client(client, scheduler, workers) as c:
        futures = [c.submit(_train_one, tc, str(runs_root), threads, priority=-i, pure=False)
                   for i, tc in enumerate(todo)]
        for k, fut in enumerate(as_completed(futures), 1):
            key, seconds, cached = fut.result()
            progress(f"  [{k}/{len(todo)}] nonlinear {key}: {'cached' if cached else f'trained in {seconds:.0f} s'}")
    return len(todo)

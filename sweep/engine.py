"""``sweep.run``: a spec's runs spread over a Dask cluster, gathered into one table.

The spec is checked and expanded first (:mod:`sweep.spec`), the store is asked what it already
holds and the rest is batched (:mod:`sweep.plan`); each batch is one Dask task
(:func:`sweep.task.run_batch`) on an embedded ``LocalCluster`` (processes with one thread each, as
many as cores) or on the cluster a ``Client`` or scheduler address names. Dask owns the
scheduling: a worker that dies has its tasks rescheduled on the others (up to
``distributed.scheduler.allowed-failures`` times, then its rows are ``failed``); there is no pool,
queue or retry loop here. Results go to the store as each batch finishes, so an interrupted sweep,
run again, only does what is missing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tempfile
import uuid
from pathlib import Path

import pandas as pd

from sim.io import atomic_write_text

from .plan import Plan, cost_estimate, make_plan, matmul_rate
from sim import RunConfig

from .spec import RUN_KEYS, Spec, load_spec, parse_spec, to_toml
from .store import Store
from .task import OUTCOME_COLUMNS, completed_outcomes, diverged_outcome, failed_outcome, run_batch

__all__ = ["run", "run_points", "as_spec", "plan_of", "describe", "calibrate", "table", "write_results"]


def as_spec(spec) -> Spec:
    """A :class:`Spec` from a Spec, a dict (the parsed TOML/JSON) or a path to a .toml/.json file."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, dict):
        return parse_spec(spec)
    if isinstance(spec, (str, os.PathLike)):
        return load_spec(spec)
    raise ValueError(f"spec must be a Spec, a dict or a path to a .toml/.json file, got {type(spec).__name__}")


def plan_of(spec: Spec) -> tuple[Store, Plan]:
    store = Store(spec.store)
    return store, make_plan(spec.points, store, spec.max_batch)


def describe(spec: Spec, workers: int | None = None) -> str:
    """What ``--dry-run`` prints: runs, batches, what the store holds, and the cost of the rest."""
    store, plan = plan_of(spec)
    cost = cost_estimate(plan)
    n_done = len(plan.done)
    lines = [f"sweep: {len(plan.points)} runs (config, seed); {n_done} already in the store {store.root}",
             f"to run: {plan.n_todo_runs} runs in {len(plan.todo)} batches "
             f"(largest {max((len(b.points) for b in plan.todo), default=0)} seeds)"]
    if plan.todo:
        rate = matmul_rate()
        w = workers or os.cpu_count() or 1
        secs = cost["macs"] / rate
        lines.append(f"cost (theory.gd_step_macs, every step of every seed): {cost['macs']:.3e} multiply-accumulates; "
                     f"at this machine's float64 100x100 bmm rate just measured ({rate:.3e} MAC/s) that is about "
                     f"{secs:.3g} s on one thread, {secs / min(w, len(plan.todo)):.3g} s on {min(w, len(plan.todo))} "
                     "(a rough guide: skinny products and a loaded machine run at other rates)")
        if cost["unpriced_runs"]:
            lines.append(f"not priced: {cost['unpriced_runs']} AltMin or gradient-flow runs (no per-step cost model)")
        cal = calibrate(plan)
        lines.append(f"calibrated (each of {cal['shapes']} batch shapes timed for a few steps here, {cal['timing_s']:.2g} s; "
                     f"its steps and logs extrapolated): about {cal['seconds']:.3g} s on one worker, "
                     f"{cal['seconds'] / min(w, len(plan.todo)):.3g} s on {min(w, len(plan.todo))}")
    for b in plan.todo[:20]:
        desc = ", ".join(f"{k}={v}" for k, v in _varying(spec, b.config).items())
        if b.config.seeds == 1 and len(b.points) > 1:  # a batch of configs (sim.many): its points' η, α, ε, seeds
            pts = "; ".join(f"seed {p.seed} η={p.eta:g} α={p.alpha:g} ε={p.eps:g}" for p in b.points[:4])
            more = f"; … {len(b.points) - 4} more" if len(b.points) > 4 else ""
            lines.append(f"  batch {b.key}: {len(b.points)} configs ({pts}{more})  {desc}")
        else:
            lines.append(f"  batch {b.key}: seeds {b.config.seed}..{b.config.seed + b.config.seeds - 1}  {desc}")
    if len(plan.todo) > 20:
        lines.append(f"  … and {len(plan.todo) - 20} more batches")
    return "\n".join(lines)


#: steps timed per batch shape by :func:`calibrate`
CALIBRATION_STEPS = 30
#: what decides a step's cost (not η, α, ε, the seed or the number of steps)
_SHAPE_FIELDS = ("problem", "model", "d", "d2", "rank_hat", "depth", "width", "widths", "measurements",
                 "observed", "sampling", "storage", "target", "target_file", "ratings_file", "mode", "device", "dtype",
                 "log_every")


def calibrate(plan: Plan, steps: int = CALIBRATION_STEPS) -> dict:
    """Time each distinct batch shape of the work left for a few steps and extrapolate: per batch,
    its steps × the measured seconds per step, plus its logs × the measured cost of one log (a log's
    SVDs can dominate a small run). The rate proxy of :func:`sweep.plan.cost_estimate` prices every
    product at the 100×100 rate; this measures the batch's own products, on this machine, as loaded as
    it is now. AltMin and flow runs are timed the same way (a step is an AltMin sweep, or a flow run's
    whole integration for its first ``steps`` log points)."""
    import time

    import sim

    per_shape: dict = {}
    total, t0 = 0.0, time.perf_counter()
    for b in plan.todo:
        cfg = dataclasses.replace(b.config, seed=b.config.seed, seeds=len(b.points))
        k = min(int(cfg.steps), steps)
        probe = dataclasses.replace(cfg, steps=k, log_every=k, tol=0.0, patience=0, patience_delta=0.0)
        shape = (len(b.points),) + tuple(getattr(probe, f) for f in _SHAPE_FIELDS)
        if shape not in per_shape:
            _, summary = sim.execute(probe)
            step_s = float(summary["train_time_s"]) / k
            log_s = max(float(summary["wall_s"]) - float(summary["train_time_s"]), 0.0) / 2  # two logs (0 and k), setup included
            per_shape[shape] = (step_s, log_s)
        step_s, log_s = per_shape[shape]
        n_logs = cfg.steps // max(cfg.log_every, 1) + 1
        total += cfg.steps * step_s + n_logs * log_s
    return {"seconds": total, "shapes": len(per_shape), "timing_s": time.perf_counter() - t0}


def _varying(spec: Spec, cfg) -> dict:
    keys = [k for k in list(spec.grid) + [k for z in spec.zip for k in z] if k != "seed"]
    return {k: getattr(cfg, k) for k in keys}


@contextlib.contextmanager
def _client(client, scheduler: str | None, workers: int | None):
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler, timeout="30s") as c:
            yield c
        return
    n = workers or os.cpu_count() or 1
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as c:
        yield c


def _done_outcomes(store: Store, plan: Plan) -> dict:
    """Outcomes of the points the store already answers (each stored run read once)."""
    out, by_run = {}, {}
    points = {p.key(): p for p in plan.points}
    for k, (store_key, kind) in plan.done.items():
        if kind == "diverged":
            out[k] = diverged_outcome(points[k], store.diverged(k))
        else:
            by_run.setdefault(store_key, []).append(points[k])
    for store_key, pts in by_run.items():
        for o in completed_outcomes(store.load(store_key), pts):
            out[o["key"]] = o
    return out


def table(points, outcomes: dict) -> pd.DataFrame:
    """One row per point: every config key, then the outcome columns, then the final metrics."""
    rows = [{**p.to_dict(), **outcomes[p.key()]} for p in points]
    df = pd.DataFrame(rows)
    finals = sorted(c for c in df.columns if c.startswith("final_"))
    cols = [c for c in RUN_KEYS if c in df.columns] + list(OUTCOME_COLUMNS) + finals
    return df[cols]


def write_results(df: pd.DataFrame, spec: Spec, out: str | os.PathLike) -> Path:
    """``OUT/results.parquet`` and ``OUT/spec.toml`` (the spec as run, its store as an absolute path),
    each written to a temporary file and renamed into place."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".results.parquet.")
    os.close(fd)
    try:
        df.to_parquet(tmp, index=False)
        os.chmod(tmp, 0o644)
        os.replace(tmp, d / "results.parquet")
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    atomic_write_text(d / "spec.toml", to_toml(dataclasses.replace(spec, store=str(Path(spec.store).absolute()))))
    return d / "results.parquet"


def run(spec, client=None, *, out: str | os.PathLike | None = None, scheduler: str | None = None,
        workers: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Run a sweep; return its table (one row per (config, seed)), also written to ``out`` if given.

    Args:
        spec: a :class:`Spec`, a dict (the TOML/JSON's content) or a path to a .toml/.json file.
        client: a ``distributed.Client`` to run on (default: ``scheduler``'s cluster, else an embedded
            ``LocalCluster`` of ``workers`` processes with one thread each, closed at the end).
        out: folder for ``results.parquet`` and ``spec.toml``.
        progress: a tqdm bar of runs done / total on stderr.
    """
    spec = as_spec(spec)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers is not None and (client is not None or scheduler is not None):
        raise ValueError("workers sizes the embedded LocalCluster; it does not apply with a client or scheduler")
    store, plan = plan_of(spec)
    df = _execute(plan, store, spec.threads, client, scheduler, workers, progress)
    if out is not None:
        write_results(df, spec, out)
    return df


def run_points(points, *, store: str | os.PathLike = "runs", client=None, scheduler: str | None = None,
               workers: int | None = None, max_batch: int = 16, threads: int = 1, progress: bool = False) -> pd.DataFrame:
    """The runs of an explicit list of single configs (``sim.RunConfig``, ``seeds = 1``), through the same plan,
    batching, store and cluster as :func:`run`; one row per point. A figure's declared runs come this way
    (``cdln figures --paper``): nothing is recomputed that the store holds."""
    pts = []
    for p in points:
        if not isinstance(p, RunConfig) or p.seeds != 1:
            raise ValueError(f"points must be single-seed sim.RunConfig objects, got {p!r}")
        if p.key() not in {q.key() for q in pts}:
            pts.append(p)
    st = Store(store)
    return _execute(make_plan(tuple(pts), st, int(max_batch)), st, int(threads), client, scheduler, workers, progress)


def _execute(plan: Plan, store: Store, threads: int, client, scheduler, workers, progress: bool) -> pd.DataFrame:
    """What the store answers, plus the rest computed on the cluster; one row per point of the plan."""
    outcomes = _done_outcomes(store, plan)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(plan.points), initial=len(outcomes), unit="run", file=sys.stderr, dynamic_ncols=True)
    try:
        if plan.todo:
            outcomes.update(_compute(plan, store, threads, client, scheduler, workers, bar))
    finally:
        if bar is not None:
            bar.close()
    return table(plan.points, outcomes)


def _compute(plan: Plan, store: Store, threads: int, client, scheduler, workers, bar) -> dict:
    from distributed import as_completed

    out = {}
    tag = uuid.uuid4().hex[:8]  # a fresh task key per sweep: a client never hands back an older result
    with _client(client, scheduler, workers) as c:
        futures = {}
        for b in plan.todo:
            f = c.submit(run_batch, b.config.to_dict(), [p.to_dict() for p in b.points], str(store.root),
                         threads, key=f"cdln-run-{b.key}-{tag}", pure=False)
            futures[f] = b
        for f in as_completed(futures):
            b = futures[f]
            try:
                res = f.result()
            except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker after Dask's allowed failures
                res = [failed_outcome(p, exc, len(b.points)) for p in b.points]
            for o in res:
                out[o["key"]] = o
            if bar is not None:
                bar.update(len(b.points))
            f.release()
    return out


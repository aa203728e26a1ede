"""`cdln sweep` / `sweep.run`: a 2x2x2 sweep on a 2-process LocalCluster, its rows and statuses, a row
against its single `cdln run` (bitwise), reruns that compute nothing, a separately started
`dask scheduler` + `dask worker`, a worker killed mid-sweep, and bad specs (exit 2, before any work).

Every cluster and process is started and stopped here, with timeouts."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

import sim  # noqa: E402
import sweep  # noqa: E402
import theory  # noqa: E402
from cdln.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DASK = Path(sys.executable).parent / "dask"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}

#: alpha given (RunConfig's default), so the `cdln run` of a row (whose first-contact default is α = 5) is that row
BASE = dict(problem="factorization", d=8, rank=2, rank_hat=4, eps=1e-2, loss="mean", steps=60, log_every=20, alpha=1.0)
#: 2 models x 2 step sizes (one far above the critical one, so both of its seeds diverge) x 2 seeds
GRID = dict(model=["wide", "compressed"], eta=[2.0, 1000.0], seed=[0, 1])


def write_spec(path: Path, store: Path, base=BASE, grid=GRID, **top) -> Path:
    spec = {"store": str(store), **top, "base": base, "grid": grid}
    path.write_text(json.dumps(spec))
    return path


def drop_timing(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=["train_time_s"])


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The 2x2x2 sweep through `cdln sweep --workers 2` (an embedded 2-process LocalCluster)."""
    tmp = tmp_path_factory.mktemp("sweep")
    spec = write_spec(tmp / "grid.json", tmp / "store")
    assert main(["sweep", str(spec), "--workers", "2", "--out", str(tmp / "out"), "--quiet"]) == 0
    return dict(tmp=tmp, spec=spec, store=tmp / "store", out=tmp / "out",
                df=pd.read_parquet(tmp / "out" / "results.parquet"))


# ------------------------------------------------------------------ spec and plan (no cluster)
def test_spec_expands_to_one_point_per_config_and_seed_and_batches_by_seed_and_step_size(tmp_path):
    spec = sweep.parse_spec({"store": str(tmp_path), "base": BASE, "grid": GRID})
    assert len(spec.points) == 8 and all(p.seeds == 1 for p in spec.points)
    store, plan = sweep.plan_of(spec)
    # one batch of configs per model: 2 step sizes x 2 seeds (sim.many: per-instance step sizes)
    assert len(plan.todo) == 2 and all(b.config.seeds == 1 and len(b.points) == 4 for b in plan.todo)
    assert [{p.model for p in b.points} for b in plan.todo] == [{"wide"}, {"compressed"}]
    # one step size: seed batches as before
    one = sweep.parse_spec({"store": str(tmp_path), "base": {**BASE, "eta": 2.0}, "grid": {"seed": [0, 1]}})
    assert [(b.config.seed, b.config.seeds) for b in sweep.plan_of(one)[1].todo] == [(0, 2)]
    assert {p.key() for b in plan.todo for p in b.points} == {p.key() for p in spec.points}
    # zip groups vary together; base.seeds expands; max_batch splits; tol > 0 is never batched
    base = {k: v for k, v in BASE.items() if k not in ("rank", "rank_hat")}
    z = sweep.parse_spec({"store": str(tmp_path), "max_batch": 2, "base": {**base, "seeds": 5},
                          "zip": [{"rank": [1, 2], "rank_hat": [2, 4]}]})
    assert [(p.rank, p.rank_hat) for p in z.points] == [(1, 2)] * 5 + [(2, 4)] * 5
    assert [b.config.seeds for b in sweep.plan_of(z)[1].todo] == [2, 2, 1, 2, 2, 1]
    t = sweep.parse_spec({"store": str(tmp_path), "base": {**BASE, "tol": 1e-3, "seeds": 3}})
    assert [b.config.seeds for b in sweep.plan_of(t)[1].todo] == [1, 1, 1]


@pytest.mark.parametrize("raw,needle", [
    ({"grid": {"etaa": [1.0]}}, "key 'etaa' is not a cdln run key"),
    ({"grid": {"eta": []}}, "key 'eta' is an empty list"),
    ({"grid": {"eta": [1.0, -2.0]}}, "eta must be in (0, inf), got -2.0"),
    ({"grid": {"dtype": ["float64", "float16"]}}, "dtype must be one of float64, float32; got 'float16'"),
    ({"grid": {"d": [8]}}, "key 'd' is given in both [base] and [grid]"),
    ({"zip": [{"depth": [2, 3], "init": ["spectral"]}]}, "lists must have one length"),
    ({"grid": {"eta": 1.0}}, "key 'eta' must be a list of values, got 1.0"),
    ({"gird": {"eta": [1.0]}}, "unknown top-level key 'gird'"),
])
def test_a_bad_spec_exits_2_naming_the_key_and_value_before_any_work(tmp_path, capsys, raw, needle):
    spec = {"store": str(tmp_path / "store"), "base": BASE, **raw}
    (tmp_path / "bad.json").write_text(json.dumps(spec))
    with pytest.raises(SystemExit) as exc:
        main(["sweep", str(tmp_path / "bad.json"), "--out", str(tmp_path / "out"), "--workers", "1"])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "store").exists() and not (tmp_path / "out").exists()


def test_a_bad_spec_exits_2_from_the_shell(tmp_path):
    (tmp_path / "bad.toml").write_text('[base]\nproblem = "factorization"\n[grid]\nrank_hat = [4, 0]\n')
    r = subprocess.run([sys.executable, "-m", "cdln", "sweep", str(tmp_path / "bad.toml")], capture_output=True,
                       text=True, cwd=tmp_path, env=ENV, timeout=120)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.count("\n") == 1, r.stderr
    assert "rank_hat must be an integer in [1, 100], got 0" in r.stderr and "rank_hat=0" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_dry_run_prints_runs_batches_and_theory_cost_and_runs_nothing(tmp_path, capsys):
    spec = write_spec(tmp_path / "s.json", tmp_path / "store")
    assert main(["sweep", str(spec), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "8 runs (config, seed)" in out and "8 runs in 2 batches" in out
    # theory's cost model, by hand: 2 step sizes x 2 seeds x steps x (wide + compressed MACs per step)
    macs = 2 * 2 * BASE["steps"] * (theory.gd_step_macs((8, 8, 8, 8)) + theory.gd_step_macs((8, 4, 4, 8)))
    assert f"{macs:.3e} multiply-accumulates" in out
    assert not (tmp_path / "store").exists()


# ------------------------------------------------------------------ the 2x2x2 sweep
def test_rows_statuses_and_columns(local):
    df = local["df"]
    assert len(df) == 8 and df.key.is_unique
    for f in dataclasses.fields(sim.RunConfig):
        assert f.name in df.columns
    ok = df.eta == 2.0
    assert (df.status[ok] == "completed").all() and (df.status[~ok] == "diverged").all()
    assert df.message[~ok].str.contains("GD diverged at step").all() and (df.message[ok] == "").all()
    assert (df.steps_done[ok] == BASE["steps"]).all() and (df.steps_done[~ok] < BASE["steps"]).all()
    assert (df.eta_stable[~ok] < 1000.0).all() and np.isfinite(df.final_recovery_error[ok]).all()
    assert (df.batch_size[ok] == 4).all() and (df.batch_size[~ok] == 1).all()  # diverged: rerun alone
    for _, row in df.iterrows():  # the key is the row's own single-run config hash
        assert sweep.config_of(row).key() == row.key
    as_run = tomllib.loads((local["out"] / "spec.toml").read_text())
    assert as_run["grid"] == GRID and as_run["base"] == BASE and as_run["store"] == str(local["store"])


def test_a_row_equals_its_single_cdln_run_bitwise(local, tmp_path):
    row = local["df"].query("model == 'compressed' and eta == 2.0 and seed == 1").iloc[0]
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in {**BASE, "model": "compressed", "eta": 2.0, "seed": 1}.items()]
    assert main(["run", *flags, "--out", str(tmp_path / "single"), "--quiet"]) == 0
    single = sim.load_run(tmp_path / "single")
    # it came from a batch of 4 configs (2 step sizes x 2 seeds), stored under its own single key
    assert single.config["key"] == row.key == row.store_key and row.batch_size == 4
    batch = sim.load_run(local["store"] / row.store_key)
    b = batch.metrics.drop(columns="time_s").reset_index(drop=True)
    assert b.equals(single.metrics.drop(columns="time_s"))
    assert np.array_equal(batch.singular_values, single.singular_values)
    last = single.metrics.iloc[-1]
    assert row.final_train_loss == last.train_loss and row.final_recovery_error == last.recovery_error


class _NoCluster:
    def submit(self, *a, **k):
        raise AssertionError("a rerun submitted work")


def test_a_rerun_recomputes_nothing_and_an_interrupted_one_only_what_is_missing(local, capsys, tmp_path):
    spec = sweep.load_spec(local["spec"])
    before = {p.name: p.stat().st_mtime_ns for p in local["store"].iterdir()}
    sweep.run(spec, client=_NoCluster(), out=tmp_path, progress=True)
    again = pd.read_parquet(tmp_path / "results.parquet")
    assert again.equals(local["df"])  # every row read back from the store, timing included
    assert "8/8" in capsys.readouterr().err  # the bar: runs done / total
    assert {p.name: p.stat().st_mtime_ns for p in local["store"].iterdir()} == before
    # a sweep killed after some batches: a store lacking one batch plans exactly that batch
    store, plan = sweep.plan_of(spec)
    assert plan.todo == () and len(plan.done) == 8
    gone = local["df"].store_key[local["df"].batch_size == 4].iloc[0]
    partial = sweep.make_plan(spec.points, _Without(store, gone), spec.max_batch)
    assert [b.key for b in partial.todo] == [gone] and len(partial.done) == 7


class _Without(sweep.Store):
    def __init__(self, store, key):
        super().__init__(store.root)
        self.hidden = key

    def has_run(self, key):
        return key != self.hidden and super().has_run(key)


# ------------------------------------------------------------------ other clusters, a dying worker
def _stop(procs):
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in reversed(procs):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)


def test_a_separately_started_scheduler_and_worker_give_the_same_table(local, tmp_path):
    sched_file = tmp_path / "scheduler.json"
    procs = []
    try:
        procs.append(subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0",
                                       "--no-dashboard", "--scheduler-file", str(sched_file)],
                                      cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen([str(DASK), "worker", "--scheduler-file", str(sched_file), "--nthreads", "1",
                                       "--nworkers", "1", "--no-dashboard"],
                                      cwd=tmp_path, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 60
        while not sched_file.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        addr = json.loads(sched_file.read_text())["address"]
        with distributed.Client(addr, timeout="30s") as c:
            c.wait_for_workers(1, timeout=60)
        spec = write_spec(tmp_path / "grid.json", tmp_path / "store")  # a fresh store: all 8 runs computed there
        assert main(["sweep", str(spec), "--scheduler", addr, "--out", str(tmp_path / "out"), "--quiet"]) == 0
    finally:
        _stop(procs)
    there = pd.read_parquet(tmp_path / "out" / "results.parquet")
    assert drop_timing(there).equals(drop_timing(local["df"]))
    assert {p.name for p in (tmp_path / "store").iterdir()} == {p.name for p in local["store"].iterdir()}


def test_a_worker_killed_mid_sweep_loses_no_row(tmp_path):
    """Four single runs of about a second each on two workers; one worker is killed while it runs one.
    Dask reschedules that task (its nanny starts a fresh worker); every row comes back completed."""
    spec = sweep.parse_spec({"store": str(tmp_path / "store"),
                             "base": {**BASE, "model": "wide", "d": 60, "steps": 3000, "log_every": 1000},
                             "grid": {"eta": [1.0, 1.5, 2.0, 2.5]}})
    killed = {}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc) as c:
        pids = c.run(os.getpid)
        victim = sorted(pids)[0]

        def kill_when_busy():
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = c.processing().get(victim, ())
                if busy:
                    time.sleep(0.3)  # well inside a run of about a second
                    killed.update(task=busy[0], pid=pids[victim])
                    os.kill(pids[victim], signal.SIGKILL)
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_when_busy, daemon=True)
        killer.start()
        df = sweep.run(spec, client=c)
        killer.join(timeout=10)
        c.wait_for_workers(2, timeout=60)
        now = c.run(os.getpid)
    assert killed, "the worker was never seen busy, so nothing was killed"
    assert victim not in now and killed["pid"] not in now.values()  # its nanny started a fresh worker
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)
    assert len(df) == 4 and (df.status == "completed").all(), df[["eta", "status", "message"]]
    assert (df.steps_done == 3000).all()


# ------------------------------------------------------------------ store and task edge cases
def test_a_second_finisher_of_a_key_is_not_an_error(tmp_path, monkeypatch):
    """Another worker lands the same run while this one computes it: the final rename fails, and sim.run (and
    the store over it) reads the first finisher's run instead of raising."""
    import sim.results

    cfg = sim.RunConfig(**{**BASE, "model": "compressed", "eta": 2.0})
    real = sim.results.execute

    def racing_execute(c, **kw):
        out = real(c, **kw)
        monkeypatch.setattr(sim.results, "execute", real)
        sim.run(c, root=root)  # the other finisher
        return out

    root = tmp_path / "plain"
    monkeypatch.setattr(sim.results, "execute", racing_execute)
    assert sim.run(cfg, root=root).cached  # sim.run itself returns the first finisher's run
    root = tmp_path / "store"
    monkeypatch.setattr(sim.results, "execute", racing_execute)
    r = sweep.Store(root).run(cfg)
    assert r.cached and r.config["key"] == cfg.key()
    assert sorted(p.name for p in root.iterdir()) == [cfg.key()]  # no temporary folder left behind


def test_a_failed_run_is_a_row_and_is_tried_again(tmp_path, monkeypatch):
    spec = sweep.parse_spec({"store": str(tmp_path), "base": {**BASE, "model": "wide", "eta": 2.0, "seeds": 2}})
    (b,) = sweep.plan_of(spec)[1].todo

    def boom(cfg, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(sim, "run", boom)
    rows = sweep.run_batch(b.config.to_dict(), [p.to_dict() for p in b.points], str(tmp_path))
    assert [r["status"] for r in rows] == ["failed", "failed"]
    assert rows[0]["message"] == "RuntimeError: disk on fire"
    assert len(sweep.plan_of(spec)[1].todo) == 1  # not recorded: the next sweep tries it again


def test_fit_steps_are_each_modes_first_logged_step_at_099_sigma(tmp_path):
    """The `fit_steps` column: the first logged step at which σ_i(W) reaches 0.99 σ*_i (σ* from theory's
    generator of the same target), and σ_i is below it at every earlier logged step."""
    cfg = sim.RunConfig(**{**BASE, "model": "compressed", "eps": 0.1, "eta": 2.0, "steps": 600, "log_every": 5,
                           "seed": 3})
    r = sim.run(cfg, root=tmp_path)
    (row,) = sweep.task.completed_outcomes(r, (cfg,))
    sigma = theory.authors_target((8, 8), 2, 3).sigma
    steps = np.array(sorted(r.metrics.step.unique()))
    assert len(row["fit_steps"]) == 2 and min(row["fit_steps"]) > 0  # both modes fitted, neither at once
    for i, s in enumerate(row["fit_steps"]):
        k = int(np.searchsorted(steps, s))
        assert r.singular_values[k, 0, i] >= 0.99 * sigma[i] > r.singular_values[:k, 0, i].max()

"""sim.checkpoint: a run stopped mid-way resumes from its last checkpoint, bitwise as if never stopped."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import sim
from sim import RunConfig
from sim.checkpoint import Checkpoint
from sim.results import execute

BASE = dict(problem="factorization", model="compressed", d=20, rank=2, rank_hat=4, eps=0.3, eta=0.02, loss="sum",
            steps=400, log_every=50, seeds=2)


class Stop(Exception):
    """Stands for a kill: raised from the progress callback at a chosen log."""


def _stopping_at(step):
    def progress(t, *_):
        if t == step:
            raise Stop(t)
    return progress


def _same_numbers(a, b):
    """Every logged number equal (not the timings, which are the wall clock's)."""
    assert a.steps == b.steps and a.stopped == b.stopped
    assert a.metrics.keys() == b.metrics.keys()
    for k in a.metrics:
        assert all(np.array_equal(x, y) for x, y in zip(a.metrics[k], b.metrics[k])), k
    for name in ("singular_values", "align_u", "align_v", "outer_align"):
        assert all(np.array_equal(x, y) for x, y in zip(getattr(a, name), getattr(b, name))), name


@pytest.mark.parametrize("kw", [dict(BASE), dict(BASE, kernel="numpy")], ids=["torch", "kernel numpy"])
def test_a_run_stopped_at_a_log_resumes_from_its_checkpoint_bitwise(tmp_path, kw):
    cfg = RunConfig(**kw)
    ref, _ = execute(cfg)
    ck = Checkpoint(tmp_path / "ck.pt", cfg.key(), every_s=0)  # a save at every log
    stop = ref.steps[len(ref.steps) // 2]
    with pytest.raises(Stop):
        execute(cfg, progress=_stopping_at(stop), checkpoint=ck)
    assert ck.path.is_file()
    back, summary = execute(cfg, checkpoint=ck)
    # the progress callback runs before the save of its log: the last checkpoint is the log before
    assert back.resumed["step"] == ref.steps[ref.steps.index(stop) - 1] and summary["resumed"] == back.resumed
    _same_numbers(back, ref)
    assert back.time_s[:len(ref.steps) // 2] == sorted(back.time_s[:len(ref.steps) // 2])  # training time goes on


def test_the_patience_state_resumes_too(tmp_path):
    """A patience stop after a resumption comes at the same log as without one (best and logs-since saved),
    on test_patience.py's noisy ratings, whose test error turns back up."""
    from tests.test_patience import _noisy_ratings

    cfg = RunConfig(problem="ratings", ratings_file=_noisy_ratings(tmp_path), model="compressed", rank_hat=8, eps=0.3,
                    eta=1.0, loss="mean", alpha=2.0, steps=600, log_every=10, seeds=2, patience=5)
    ref, _ = execute(cfg)
    assert ref.stopped == "patience" and ref.steps[-1] < 600
    ck = Checkpoint(tmp_path / "ck.pt", cfg.key(), every_s=0)
    stop = ref.steps[-3]  # two logs before the stop: the checkpoint holds a run part-way into its patience
    with pytest.raises(Stop):
        execute(cfg, progress=_stopping_at(stop), checkpoint=ck)
    back, _ = execute(cfg, checkpoint=ck)
    assert back.resumed["step"] == ref.steps[-4]
    _same_numbers(back, ref)


def test_sim_run_keeps_a_checkpoint_only_while_the_run_is_unfinished(tmp_path):
    cfg = RunConfig(**BASE)
    ck = tmp_path / f".ckpt-{cfg.key()}.pt"
    with pytest.raises(Stop):
        sim.run(cfg, root=tmp_path, progress=_stopping_at(300), checkpoint_every_s=0)
    assert ck.is_file() and not (tmp_path / cfg.key()).exists()  # nothing half-written in the store
    r = sim.run(cfg, root=tmp_path, checkpoint_every_s=0)
    assert r.summary["resumed"]["step"] == 250 and not ck.exists()
    fresh = sim.run(cfg, root=tmp_path / "fresh")
    assert "resumed" not in fresh.summary
    cols = [c for c in r.metrics.columns if c != "time_s"]
    assert r.metrics[cols].equals(fresh.metrics[cols])
    assert np.array_equal(r.singular_values, fresh.singular_values)


def test_a_checkpoint_of_another_run_is_set_aside_with_a_warning(tmp_path):
    a, b = RunConfig(**BASE), RunConfig(**dict(BASE, eta=0.01))
    ck = Checkpoint(tmp_path / "ck.pt", a.key(), every_s=0)
    with pytest.raises(Stop):
        execute(a, progress=_stopping_at(200), checkpoint=ck)
    other = Checkpoint(tmp_path / "ck.pt", b.key(), every_s=0)
    with pytest.warns(UserWarning, match="is not this run's"):
        tr, summary = execute(b, checkpoint=other)
    assert "resumed" not in summary and tr.steps[-1] == 400
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="could not be read"):
        assert Checkpoint(tmp_path / "bad.pt", a.key()).load([torch.zeros(1)]) is None


def test_a_save_that_fails_midway_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    ck = Checkpoint(tmp_path / "ck.pt", "k", every_s=0)
    W = [torch.ones(2, 3, dtype=torch.float64)]
    ck.save({"Ws": W, "t": 1})

    def torn(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", torn)
    with pytest.raises(OSError, match="disk full"):
        ck.save({"Ws": W, "t": 2})
    monkeypatch.undo()
    assert ck.load(W)["t"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]  # no temporary file left behind


def test_a_diverged_run_leaves_no_checkpoint(tmp_path):
    cfg = RunConfig(**dict(BASE, eta=50.0))
    with pytest.raises(sim.DivergenceError):
        sim.run(cfg, root=tmp_path, checkpoint_every_s=0)
    assert list(tmp_path.iterdir()) == []


def test_bad_checkpoint_intervals_are_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="every_s must be a number of seconds >= 0, got -1"):
        Checkpoint(tmp_path / "x.pt", "k", every_s=-1)
    out = subprocess.run([sys.executable, "-m", "cdln", "run", "--checkpoint-minutes", "-1", "--steps", "10",
                          "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert out.returncode == 2 and "--checkpoint-minutes must be a finite number of minutes >= 0" in out.stderr
    assert not (tmp_path / "r").exists()

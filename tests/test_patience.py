"""`--patience P`: stop a run with a held-out test split when its test error has made no new minimum in P logs.

Fig. 7 trains the wide DLN on MovieLens "until its test error stops improving"; this is that stop. The rule is
re-derived here from a run without it (the same seeds, the same numbers up to the stop), so the test checks the
stop's step against the logged curve, not against itself."""

import dataclasses

import numpy as np
import pytest

import sim
from sim.many import run_many
from sweep import plan
from tests.test_sparse import _write_ratings


def _noisy_ratings(tmp_path):
    """A rank-3 rating matrix with noise on the ratings: fitting the noise makes the test error turn back up."""
    r, c, v = _write_ratings(tmp_path)
    v = v + np.random.default_rng(9).standard_normal(v.shape)
    np.savez(tmp_path / "noisy.npz", row=r, col=c, value=v)
    return str(tmp_path / "noisy.npz")


def _stop_log(err: np.ndarray, patience: int, delta: float = 0.0):
    """First log index j >= 1 at which every seed's last new minimum is at least `patience` logs old
    (err: logs × seeds; a new minimum: below the previous one by more than delta times it); None if none."""
    last = np.zeros(err.shape[1], dtype=int)  # log index of each seed's current minimum
    for j in range(1, err.shape[0]):
        for k in range(err.shape[1]):
            if err[j, k] < err[last[k], k] * (1 - delta):
                last[k] = j
        if all(j - last[k] >= patience for k in range(err.shape[1])):
            return j
    return None


@pytest.mark.parametrize("storage", ["dense", "sparse"])
def test_patience_stops_where_the_curve_says_and_changes_nothing_before(tmp_path, storage):
    f = _noisy_ratings(tmp_path)
    cfg = sim.RunConfig(problem="ratings", ratings_file=f, model="compressed", rank_hat=8, eps=0.3, eta=1.0,
                        loss="mean", alpha=2.0, steps=600, log_every=10, seeds=2, storage=storage)
    full, _ = sim.execute(cfg)
    err = np.stack(full.metrics["test_error"])
    j = _stop_log(err, patience=5)
    assert j is not None and j < err.shape[0] - 1, "the fixture must overfit within the budget"
    cut, summary = sim.execute(dataclasses.replace(cfg, patience=5))
    assert summary["stopped"] == "patience" and cut.steps[-1] == full.steps[j]
    for name, logged in cut.metrics.items():  # the stop changes when the run ends, not its numbers
        assert np.array_equal(np.stack(logged), np.stack(full.metrics[name])[: j + 1]), name


def test_patience_delta_stops_a_creeping_test_error_where_the_curve_says(tmp_path):
    """With δ > 0 a decrease by less than δ·best is no new minimum: the run stops no later than with δ = 0,
    where the re-derivation from the unstopped curve says, with the same numbers up to there."""
    f = _noisy_ratings(tmp_path)
    cfg = sim.RunConfig(problem="ratings", ratings_file=f, model="compressed", rank_hat=8, eps=0.3, eta=1.0,
                        loss="mean", alpha=2.0, steps=600, log_every=10, seeds=2)
    full, _ = sim.execute(cfg)
    err = np.stack(full.metrics["test_error"])
    strict, loose = _stop_log(err, 5), _stop_log(err, 5, delta=0.05)
    assert loose is not None and loose < strict, "δ must cut the creeping tail short in this fixture"
    cut, summary = sim.execute(dataclasses.replace(cfg, patience=5, patience_delta=0.05))
    assert summary["stopped"] == "patience" and cut.steps[-1] == full.steps[loose]
    for name, logged in cut.metrics.items():
        assert np.array_equal(np.stack(logged), np.stack(full.metrics[name])[: loose + 1]), name
    base = dataclasses.replace(cfg, patience=5)
    assert "patience_delta" not in base.identity() and dataclasses.replace(base, patience_delta=0.05).key() != base.key()
    with pytest.raises(ValueError, match=r"patience_delta must be in \[0, 1\), got 1.0"):
        dataclasses.replace(base, patience_delta=1.0)
    with pytest.raises(ValueError, match=r"patience_delta = 0.05 applies only with patience > 0"):
        dataclasses.replace(cfg, patience_delta=0.05)


def test_patience_zero_is_the_run_without_it_and_bad_uses_are_refused(tmp_path):
    base = sim.RunConfig(problem="movielens", model="compressed")
    assert "patience" not in base.identity()  # keys of every stored run are unchanged by the option
    assert dataclasses.replace(base, patience=0).key() == base.key()
    assert dataclasses.replace(base, patience=3).key() != base.key()
    with pytest.raises(ValueError, match=r"patience must be an integer >= 0, got -1"):
        sim.RunConfig(problem="movielens", patience=-1)
    with pytest.raises(ValueError, match=r"patience needs a held-out test split.*problem 'factorization'"):
        sim.RunConfig(problem="factorization", patience=3)
    with pytest.raises(ValueError, match=r"model 'altmin'"):
        sim.RunConfig(problem="movielens", model="altmin", patience=3)


def test_a_patience_run_is_never_pooled_or_batched():
    cfg = sim.RunConfig(problem="movielens", model="compressed", patience=3)
    assert cfg.early_stop and plan._pool_key(cfg) is None
    with pytest.raises(ValueError, match=r"patience = 0"):
        run_many([cfg, dataclasses.replace(cfg, eta=0.5)])


def test_a_dense_ratings_run_sees_the_sparse_runs_split(tmp_path):
    """problem ratings with storage dense (it used to reach the synthetic-target path and fail): the same seeded
    split as the sparse storage, so the two agree up to the order of their sums."""
    f = _noisy_ratings(tmp_path)
    cfg = sim.RunConfig(problem="ratings", ratings_file=f, model="compressed", rank_hat=4, eps=0.3, eta=1.0,
                        loss="mean", steps=20, log_every=10, storage="dense")
    dense, _ = sim.execute(cfg)
    sparse, _ = sim.execute(dataclasses.replace(cfg, storage="sparse"))
    for name in ("train_loss", "test_error"):
        a, b = np.stack(dense.metrics[name]), np.stack(sparse.metrics[name])
        # 20 steps of sums over ~700 entries taken in another order: 1e4 eps leaves room for their rounding
        np.testing.assert_allclose(a, b, rtol=1e4 * np.finfo(np.float64).eps, atol=0, err_msg=name)

"""sim.nonlinear: the three penultimate variants, their counts, Algorithm 1's init, the loaders, training, CLI."""

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sim.nonlinear import (MLP, VARIANTS, DataError, TrainConfig, ViT, load_cifar10, load_fashion_mnist, load_mnist,
                           macs_per_example, param_count, penultimate_matrix, train)
from sim.nonlinear.train import _m_corr

ROOT = Path(__file__).resolve().parents[1]
H, DY, RH = 784, 10, 40


def _mlp_count(variant, h=H, d_in=784, dy=DY, rh=RH):
    body = d_in * h + h + h * h + h + h * dy + dy
    pen = {"original": h * h + h, "dln": 3 * h * h + h, "cdln": h * rh + rh * rh + rh * h + h}[variant]
    return body + pen


@pytest.mark.parametrize("variant", VARIANTS)
def test_mlp_parameter_counts_follow_table1(variant):
    m = MLP(784, 10, width=H, variant=variant, rank_hat=RH)
    assert param_count(m) == _mlp_count(variant)
    # Table 1 rounds them to 1.850 M, 3.080 M and 1.300 M
    assert round(param_count(m) / 1e6, 2) == {"original": 1.85, "dln": 3.08, "cdln": 1.30}[variant]
    assert m(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_macs_are_counted_from_the_layer_shapes():
    for v in VARIANTS:
        m = MLP(784, 10, width=H, variant=v, rank_hat=RH)
        pen = {"original": H * H, "dln": 3 * H * H, "cdln": 2 * H * RH + RH * RH}[v]
        assert macs_per_example(m, (1, 28, 28)) == 784 * H + H * H + pen + H * DY


def test_compressed_layer_is_the_intended_low_rank_map_at_init():
    """ε³ U Vᵀ: rank r̂, every nonzero singular value ε³, and V's leading columns span M^corr's row space."""
    torch.manual_seed(0)
    eps = 0.7
    m = MLP(784, 10, width=H, variant="cdln", rank_hat=RH, eps=eps).double()
    x, y = torch.rand(256, 1, 28, 28, dtype=torch.float64), torch.arange(256) % 10
    M = _m_corr(m, x, y, 10)
    m.penultimate.spectral_init(M, gen=torch.Generator().manual_seed(1))
    W = penultimate_matrix(m.penultimate)
    s = torch.linalg.svdvals(W)
    tol = 64 * torch.finfo(torch.float64).eps  # products of three orthonormal-scaled factors: a few ulps each
    assert torch.allclose(s[:RH], torch.full((RH,), eps**3, dtype=torch.float64), atol=tol)
    assert float(s[RH]) < tol
    V = m.penultimate.factors[0].weight.detach().T / eps  # d_in × r̂, orthonormal columns
    assert torch.allclose(V.T @ V, torch.eye(RH, dtype=torch.float64), atol=tol)
    # M^corr has rank <= d_y = 10, all inside span(V): M (I − V Vᵀ) = 0 to rounding
    resid = M - (M @ V) @ V.T
    assert float(torch.linalg.matrix_norm(resid)) < 1e3 * tol * float(torch.linalg.matrix_norm(M))


def test_vit_variants_change_only_the_last_mlp_output_and_keep_the_orderings():
    counts, macs = {}, {}
    for v in VARIANTS:
        torch.manual_seed(0)
        m = ViT((1, 28, 28), 10, preset="tiny", variant=v)
        assert m.blocks[-1].fc2 is m.penultimate
        assert all(isinstance(b.fc2, torch.nn.Linear) for b in m.blocks[:-1])
        assert m(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
        counts[v], macs[v] = param_count(m), macs_per_example(m, (1, 28, 28))
    assert counts["cdln"] < counts["original"] < counts["dln"]
    assert macs["cdln"] < macs["original"] < macs["dln"]
    d, mlp = 96, 384
    assert counts["dln"] - counts["original"] == 2 * d * d and counts["original"] - counts["cdln"] == mlp * d - (
        mlp * RH + RH * RH + RH * d)


# ------------------------------------------------------------------------------------------------ data
def test_fashion_mnist_real_files():
    d = load_fashion_mnist()  # checksums verified
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    s = d.subset(300, 200, seed=0)
    assert s.x_train.shape == (300, 1, 28, 28) and set(np.unique(s.y_train)) <= set(range(10))
    assert 0.0 <= s.x_train.min() and s.x_train.max() <= 1.0 and len(np.unique(s.y_train)) == 10


def test_mnist_from_the_wheel_as_plain_arrays():
    d = load_mnist()
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.y_train[:5].tolist() == [5, 0, 4, 1, 9]  # the canonical first MNIST labels


def test_missing_fashion_mnist_says_how_to_install(tmp_path):
    with pytest.raises(DataError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)


def _write_cifar(folder: Path, n=20, rng=np.random.default_rng(0)):
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n).tolist(),
             b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"x.png"] * n}
        with open(folder / name, "wb") as fh:
            pickle.dump(d, fh, protocol=2)


def test_cifar10_loader_on_files_in_the_standard_format(tmp_path):
    _write_cifar(tmp_path / "cifar-10-batches-py")
    d = load_cifar10(tmp_path)
    assert d.x_train.shape == (100, 3, 32, 32) and d.x_test.shape == (20, 3, 32, 32) and d.x_train.dtype == np.float32
    raw = pickle.load(open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "rb"), encoding="bytes")
    # channel-major rows: the first 1024 bytes are the red plane
    assert np.allclose(d.x_train[0, 0].ravel(), raw[b"data"][0, :1024] / 255.0)


def test_cifar10_wrong_folder_and_malicious_pickles_are_refused(tmp_path):
    with pytest.raises(DataError, match="missing data_batch_1"):
        load_cifar10(tmp_path)
    _write_cifar(tmp_path)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(tmp_path / "test_batch", "wb") as fh:
        pickle.dump({b"data": Evil(), b"labels": []}, fh)
    with pytest.raises(DataError, match="refusing to unpickle builtins.print"):
        load_cifar10(tmp_path)


# -------------------------------------------------------------------------------------------- training
def _tiny_data():
    d = load_fashion_mnist()
    return d.subset(600, 300, seed=0)


def test_one_short_training_run_lowers_the_loss_and_is_deterministic():
    data = _tiny_data()
    # 5 epochs: from the ε-small init the loss first plateaus near log(10) (a saddle) before it falls
    cfg = TrainConfig(arch="mlp", variant="cdln", width=64, lr=0.2, epochs=5, batch_size=32, evals_per_epoch=2)
    r1, r2 = train(cfg, data), train(cfg, data)
    assert r1.train_loss[-1] < 0.8 * r1.train_loss[1]  # mean minibatch loss of the last half-epoch vs the first
    assert r1.test_acc[-1] > 0.3  # ten classes: chance is 0.1
    # same seed, same device: the same numbers (the first loss entry is NaN: no minibatch before step 0)
    np.testing.assert_array_equal(r1.test_acc, r2.test_acc)
    np.testing.assert_array_equal(r1.train_loss, r2.train_loss)
    assert r1.time_to(0.99) <= r1.time_s[-1]


def test_outer_factors_step_at_alpha_times_lr():
    from sim.nonlinear import param_groups

    m = MLP(784, 10, width=64, variant="cdln", rank_hat=12)
    g = param_groups(m, 0.1, 3.0)
    assert g[1]["lr"] == pytest.approx(0.3) and len(g[1]["params"]) == 2
    assert len(param_groups(MLP(784, 10, width=64, variant="dln"), 0.1, 3.0)) == 1


@pytest.mark.parametrize("kw,msg", [
    (dict(rank_hat=5), r"rank_hat must be >= d_y = 10"),
    (dict(width=0), r"width must be an integer >= 1, got 0"),
    (dict(variant="wide"), r"variant must be one of original, dln, cdln; got 'wide'"),
    (dict(arch="cnn"), r"arch must be one of mlp, vit, linear; got 'cnn'"),
    (dict(variant="cdln", rank_hat=1000, width=784), r"rank_hat must be in \[10, width = 784\], got 1000"),
    (dict(variant="cdln", width=32), r"rank_hat must be in \[10, width = 32\], got 40"),
    (dict(lr=-1.0), r"lr must be in \(0, inf\), got -1.0"),
])
def test_bad_config_is_refused_up_front(kw, msg):
    with pytest.raises(ValueError, match=msg):
        TrainConfig(**kw)


@pytest.mark.parametrize("args,msg", [
    (["--seeds", "0"], "seeds must be an integer >= 1, got 0"),
    (["--data-dir", "/nonexistent/cifar"], "is not a directory"),
    (["--device", "tpu"], "device 'tpu' is not available"),
    (["--rank-hat", "5"], "rank_hat must be >= d_y = 10 (the number of classes), got 5"),
    (["--width", "0"], "width must be an integer >= 1, got 0"),
    (["--width", "32"], "rank_hat must be in [10, width = 32], got 40"),
])
def test_table1_cli_bad_input_exits_2_with_one_line(args, msg):
    res = subprocess.run([sys.executable, "-m", "cdln", "table1", "--fast", *args], cwd=ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 2 and msg in res.stderr and res.stderr.strip().count("\n") == 0


def test_table1_cli_wrong_format_data_dir(tmp_path):
    (tmp_path / "data_batch_1").write_bytes(b"not a pickle")
    for n in [f"data_batch_{i}" for i in range(2, 6)] + ["test_batch"]:
        (tmp_path / n).write_bytes(b"")
    res = subprocess.run([sys.executable, "-m", "cdln", "table1", "--fast", "--data-dir", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 2 and "not a CIFAR-10 python batch" in res.stderr


def test_table1_cli_missing_dataset_says_how_to_install(tmp_path):
    res = subprocess.run([sys.executable, "-m", "cdln", "table1", "--fast", "--fashion-dir", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 2 and "apt-get install dataset-fashion-mnist" in res.stderr
    assert res.stderr.strip().count("\n") == 0


# -------------------------------------------------------------------------------------------- Table 1's blocks
def test_table1_settings_per_block():
    from cdln.table1 import default_out, settings

    both = settings(True, None, None, "cpu", "float32")
    paper = settings(False, None, None, "cpu", "float32")
    mixed = settings(["ViT"], None, None, "cpu", "float32")
    assert mixed["MLP"] == paper["MLP"] and mixed["ViT"] == both["ViT"]
    assert mixed["MLP"]["epochs"] == 50 and "n_train" not in mixed["MLP"]  # Table 1: every image, 50 epochs
    assert mixed["seeds"] == {"MLP": 5, "ViT": 2} and both["seeds"] == {"MLP": 2, "ViT": 2}
    assert settings(["ViT"], 3, None, "cpu", "float32")["seeds"] == {"MLP": 3, "ViT": 3}
    assert default_out(True) == "docs/table1" and default_out({"ViT"}) == default_out(False) == "docs/table1-paper"
    with pytest.raises(ValueError, match=r"fast: unknown block\(s\) 'vit'; valid: MLP, ViT"):
        settings(["vit"], None, None, "cpu", "float32")


def test_table1_cli_unknown_block_and_bad_workers_exit_2():
    for args, msg in ((["--fast", "CNN"], "unknown block(s) 'CNN'"), (["--fast", "--workers", "0"],
                                                                      "workers must be an integer >= 1, got 0")):
        res = subprocess.run([sys.executable, "-m", "cdln", "table1", *args], cwd=ROOT, capture_output=True, text=True)
        assert res.returncode == 2 and msg in res.stderr and res.stderr.strip().count("\n") == 0, res.stderr


def test_table1_trainings_on_dask_workers_equal_in_process_ones(tmp_path):
    """make_missing trains what the cache lacks on a 2-worker LocalCluster (one torch thread each): each result
    is bitwise the same training made here on one thread, and a second call makes nothing."""
    from cdln.table1 import configs, make_missing
    from sim.nonlinear.cache import config_key, train_cached

    tiny = dict(dataset="fashion-mnist", arch="mlp", width=32, rank_hat=10, n_train=300, n_test=100, epochs=1,
                batch_size=50, evals_per_epoch=1)
    cfg = {"MLP": tiny, "ViT": dict(tiny, arch="vit", vit_preset="tiny"), "seeds": {"MLP": 2, "ViT": 1}}
    logged = []
    assert make_missing(cfg, tmp_path, workers=2, progress=logged.append) == 9 == len(logged)
    assert make_missing(cfg, tmp_path, workers=2, progress=logged.append) == 0 and len(logged) == 9
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for tc in configs(cfg)[:3] + configs(cfg)[-1:]:  # the MLP's seed 0 and the ViT's last
            (here, _), (there, cached) = train_cached(tc, tmp_path / "here"), train_cached(tc, tmp_path)
            assert cached and (tmp_path / "nonlinear" / config_key(tc)).is_dir()
            np.testing.assert_array_equal(here.test_acc, there.test_acc)
            np.testing.assert_array_equal(here.train_loss, there.train_loss)
    finally:
        torch.set_num_threads(threads)


def test_a_training_another_process_lands_first_is_kept_and_nothing_is_left_behind(tmp_path, monkeypatch):
    """Two processes finishing the same key (two Dask workers, or a sweep and a table sharing a store): the
    second to land drops its copy instead of failing, and no temporary folder stays."""
    import dataclasses
    import json

    from sim.nonlinear import cache

    data = _tiny_data()
    cfg = TrainConfig(arch="mlp", variant="original", width=32, epochs=1, batch_size=100, evals_per_epoch=1)
    dest = tmp_path / "nonlinear" / cache.config_key(cfg)
    real = cache.train

    def racing(c, d, progress=None):
        res = real(c, d, progress=progress)
        dest.mkdir(parents=True)  # the other process's result lands while this one is still writing its own
        (dest / "result.json").write_text(json.dumps({k: v for k, v in dataclasses.asdict(res).items()
                                                      if k != "snapshots"}))
        return res

    monkeypatch.setattr(cache, "train", racing)
    res, cached = cache.train_cached(cfg, tmp_path, data=data)
    assert not cached and sorted(p.name for p in dest.parent.iterdir()) == [dest.name]
    monkeypatch.setattr(cache, "train", real)
    again, cached = cache.train_cached(cfg, tmp_path, data=data)
    assert cached and again.test_acc == res.test_acc

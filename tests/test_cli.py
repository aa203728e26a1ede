"""The command line explains itself (help generated from the configs' metadata, docs/cli.md current), a
file target means that file, and a run's identity is the same on every machine."""

import argparse
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sim
from cdln.cli import build_parser, main
from cdln.flags import cli_markdown, flag_name
from cdln.report import ReportConfig

ROOT = Path(__file__).resolve().parents[1]


def _subcommands():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return sub.choices


# --------------------------------------------------------------------------- help
def test_every_flag_of_every_subcommand_has_one_line_of_help():
    missing = [f"cdln {name} {a.option_strings or a.dest}" for name, p in _subcommands().items()
               for a in p._actions if not isinstance(a, argparse._HelpAction) and not (a.help or "").strip()]
    assert missing == []
    assert set(_subcommands()) >= {"theory", "run", "verify", "bench", "figures", "table1"}


@pytest.mark.parametrize("command,cls", [("run", sim.RunConfig), ("theory", ReportConfig)])
def test_config_flags_are_the_fields_with_their_choices_and_defaults(command, cls):
    actions = {a.option_strings[0]: a for a in _subcommands()[command]._actions if a.option_strings}
    for f in dataclasses.fields(cls):
        a = actions[flag_name(f.name)]
        assert f.metadata["help"] in a.help.replace("%%", "%")
        assert tuple(a.choices or ()) == tuple(f.metadata["choices"] or ())
        if f.default not in (None, (), "") and "default" not in f.metadata["help"]:
            assert f"(default: {f.default})" in a.help


def test_run_help_shows_choices_and_units(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for needle in ("--loss {sum,mean}", "--init {orthogonal,orthogonal-eq3,gaussian,uniform,spectral,oracle}",
                   "--problem {factorization,sensing,completion,movielens,ratings}", "[unit: per --loss]", "--target-file"):
        assert needle in out


@pytest.mark.parametrize("f", [f for f in dataclasses.fields(sim.RunConfig) if f.metadata["choices"]],
                         ids=lambda f: f.name)
def test_the_config_refuses_what_the_flag_refuses(f, capsys):
    """Validation reads the same choices as the flags: a value outside them fails in both places."""
    with pytest.raises(ValueError, match=rf"^{f.name} must be one of .*got 'bogus'"):
        sim.RunConfig(**{f.name: "bogus"})
    with pytest.raises(SystemExit) as exc:
        main(["run", flag_name(f.name), "bogus"])
    assert exc.value.code == 2 and "invalid choice: 'bogus'" in capsys.readouterr().err


def test_docs_cli_page_is_generated_from_the_parser():
    page = (ROOT / "docs" / "cli.md").read_text()
    assert page == cli_markdown(), "docs/cli.md is stale: run `python -m cdln.flags docs/cli.md`"
    for f in dataclasses.fields(sim.RunConfig):
        assert f"`{flag_name(f.name)}`" in page


# --------------------------------------------------------------------------- a file target means that file
@pytest.fixture
def target_file(tmp_path):
    rng = np.random.default_rng(0)
    M = rng.standard_normal((8, 3)) @ rng.standard_normal((3, 6))
    np.save(tmp_path / "M.npy", M)
    return tmp_path / "M.npy", M


def test_target_file_alone_selects_it_and_takes_its_shape(target_file):
    path, M = target_file
    cfg = sim.RunConfig(target_file=str(path), model="wide", rank=2, rank_hat=2, steps=0)
    assert (cfg.target, cfg.shape) == ("file", (8, 6))
    p = sim.make_problem(cfg, [0], torch.device("cpu"))
    assert torch.equal(p.target[0], torch.as_tensor(M))  # float64 file into a float64 run: the same bits
    same = sim.RunConfig(target_file=str(path), d=8, d2=6, target="file", model="wide", rank=2, rank_hat=2, steps=0)
    assert same == cfg and same.key() == cfg.key()  # the flags it made redundant may still be given


def _cli_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as exc:
        main(["run", "--quiet", *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1, err
    return err


def test_conflicting_shape_flags_are_an_error_naming_both(target_file, capsys):
    path, _ = target_file
    assert "d = 7 conflicts with target_file" in _cli_error(capsys, "--target-file", str(path), "--d", "7")
    err = _cli_error(capsys, "--target-file", str(path), "--d2", "5")
    assert "d2 = 5 conflicts with target_file" in err and "8x6" in err
    assert "target is 'authors'" in _cli_error(capsys, "--target", "authors", "--target-file", str(path))
    assert "both name the target" in _cli_error(capsys, "--target-file", str(path), "--spectrum", "1,2")
    assert "needs target 'spectrum'" in _cli_error(capsys, "--target", "authors", "--spectrum", "1,2")


def test_missing_or_unreadable_target_file_exits_2_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run, had one started, would create runs/ here
    assert "does not exist" in _cli_error(capsys, "--target-file", str(tmp_path / "nope.npy"))
    assert "does not exist" in _cli_error(capsys, "--target-file", str(tmp_path))  # a folder
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    assert "not a plain .npy array" in _cli_error(capsys, "--target-file", str(tmp_path / "junk.npy"))
    np.save(tmp_path / "v.npy", np.ones(5))
    assert "2-D real matrix" in _cli_error(capsys, "--target-file", str(tmp_path / "v.npy"))
    np.save(tmp_path / "nan.npy", np.full((3, 3), np.nan))
    assert "non-finite" in _cli_error(capsys, "--target-file", str(tmp_path / "nan.npy"))
    assert not (tmp_path / "runs").exists()


def test_config_file_keys_follow_the_same_rules(target_file, tmp_path, capsys):
    path, _ = target_file
    (tmp_path / "ok.json").write_text(json.dumps({"target_file": path.name, "model": "wide", "rank": 2,
                                                   "rank_hat": 2, "steps": 2, "log_every": 1}))
    assert main(["run", "--quiet", "--config", str(tmp_path / "ok.json"), "--out", str(tmp_path / "r")]) == 0
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())
    assert (cfg["target"], cfg["d"], cfg["d2"]) == ("file", 8, 6)  # relative to the config file's folder
    (tmp_path / "bad.json").write_text(json.dumps({"target_file": str(path), "d": 9}))
    assert "d = 9 conflicts" in _cli_error(capsys, "--config", str(tmp_path / "bad.json"))
    assert "cannot be read" in _cli_error(capsys, "--config", str(tmp_path / "none.json"))
    (tmp_path / "list.json").write_text("[1, 2]")
    assert "must hold a JSON object" in _cli_error(capsys, "--config", str(tmp_path / "list.json"))
    (tmp_path / "broken.json").write_text("{")
    assert "not valid JSON" in _cli_error(capsys, "--config", str(tmp_path / "broken.json"))


# --------------------------------------------------------------------------- a run's identity
def test_key_does_not_depend_on_the_machine(monkeypatch):
    auto = sim.RunConfig(device="auto")
    k = auto.key()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert auto.resolved_device().type == "cuda" and auto.key() == k  # what auto resolved to is not in it
    assert sim.RunConfig(device="cuda:1").key() == sim.RunConfig(device="cuda").key()
    assert sim.RunConfig(device="cpu").key() != sim.RunConfig(device="cuda").key()  # the request is


def test_key_is_the_same_in_another_process_with_other_threads_and_no_gpu():
    cfgs = [dict(), dict(problem="completion", model="wide", d=30, d2=20), dict(device="auto", seeds=3)]
    code = ("import json, sys, torch, sim; torch.set_num_threads(1); "
            "print(json.dumps([sim.RunConfig(**c).key() for c in json.loads(sys.argv[1])]))")
    out = subprocess.run([sys.executable, "-c", code, json.dumps(cfgs)], capture_output=True, text=True, check=True,
                         env={"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, cwd=ROOT)
    assert json.loads(out.stdout) == [sim.RunConfig(**c).key() for c in cfgs]


@pytest.mark.parametrize("a,b", [
    (dict(problem="factorization"), dict(problem="factorization", measurements=7, observed=0.9, sampling="fixed")),
    (dict(problem="completion"), dict(problem="completion", measurements=7, sensing_norm="authors")),
    (dict(problem="sensing", d=10, rank=2, rank_hat=4), dict(problem="sensing", d=10, rank=2, rank_hat=4, observed=0.9)),
    (dict(model="wide"), dict(model="wide", alpha=5.0)),
    (dict(model="wide", d=30), dict(model="wide", d=30, width=30, widths=(30, 30))),
    (dict(model="compressed"), dict(model="compressed", width=300)),
    (dict(model="compressed", init=None), dict(model="compressed", init="spectral")),
    (dict(d=50), dict(d=50, d2=50)),
    (dict(model="altmin", problem="completion"), dict(model="altmin", problem="completion", eta=3.0, depth=5, eps=0.1)),
    (dict(problem="movielens"), dict(problem="movielens", d=943, rank=3)),
    (dict(target="spectrum", spectrum=(2.0, 1.0)), dict(spectrum=(2.0, 1.0), rank=7)),
    (dict(mode="flow", loss="sum", eta=0.01), dict(mode="flow", loss="sum", eta=0.01, tol=1e-3)),
])
def test_key_ignores_what_the_run_does_not_use(a, b):
    assert sim.RunConfig(**a).key() == sim.RunConfig(**b).key()


@pytest.mark.parametrize("change", [dict(eta=3.0), dict(seed=1), dict(seeds=2), dict(rank_hat=19), dict(dtype="float32"),
                                    dict(loss="sum"), dict(steps=999), dict(problem="completion")])
def test_key_changes_with_what_the_run_uses(change):
    assert sim.RunConfig(**change).key() != sim.RunConfig().key()
    assert sim.RunConfig(problem="completion", observed=0.2).key() != sim.RunConfig(problem="completion").key()


def test_a_target_file_is_identified_by_its_bytes_not_its_path(target_file, tmp_path):
    path, M = target_file
    (tmp_path / "copy").mkdir()
    np.save(tmp_path / "copy" / "other-name.npy", M)
    k = sim.RunConfig(target_file=str(path), rank=2, rank_hat=2).key()
    assert sim.RunConfig(target_file=str(tmp_path / "copy" / "other-name.npy"), rank=2, rank_hat=2).key() == k
    np.save(path, M + 1e-16 * np.abs(M).max())  # one bit is another target
    assert sim.RunConfig(target_file=str(path), rank=2, rank_hat=2).key() != k


def test_a_rank_beyond_the_files_rank_is_refused(target_file, capsys):
    """M has rank 3: its 4th singular pair is the LAPACK's choice of null vector, so tracking it is refused."""
    path, _ = target_file
    assert "rank = 4 does not fit target_file" in _cli_error(capsys, "--target-file", str(path), "--rank", "4",
                                                             "--rank-hat", "4")
    np.save(path.parent / "tie.npy", np.diag([2.0, 1.0, 1.0, 0.5]))
    assert "not separated" in _cli_error(capsys, "--target-file", str(path.parent / "tie.npy"), "--rank", "2",
                                         "--rank-hat", "2")

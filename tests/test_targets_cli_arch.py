"""The authors' target generator, the `cdln theory` command, doctests and the layer contract."""

import doctest
import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import theory
from cdln.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_authors_target_is_seeded_and_well_formed():
    t = theory.authors_target(40, 4, seed=5)
    assert np.array_equal(t.matrix, theory.authors_target(40, 4, seed=5).matrix)
    assert not np.array_equal(t.matrix, theory.authors_target(40, 4, seed=6).matrix)
    G = np.random.default_rng(5).standard_normal((40, 40))
    S = np.linalg.svd(G, compute_uv=False)
    # indices 0, d/(2r), 2d/(2r), ... below d/2 (full vs values-only SVD agree to a few ulps)
    assert np.allclose(t.sigma, S[[0, 5, 10, 15]], rtol=1e-14, atol=0)
    assert np.allclose(t.U.T @ t.U, np.eye(4), atol=1e-14) and np.allclose(t.V.T @ t.V, np.eye(4), atol=1e-14)


def test_cli_theory_report(capsys):
    assert main(["theory", "--dim", "20", "--rank", "2", "--rank-hat", "4", "--eps", "0.05"]) == 0
    out = capsys.readouterr().out
    for section in ("Step size", "Incremental learning", "Corollary 1", "Cost per GD step"):
        assert section in out
    assert main(["theory", "--dim", "20", "--rank", "2", "--rank-hat", "4", "--eta", "1", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["learning_order"] == [1, 2] and rep["step_size"]["fraction_of_critical"] < 1


@pytest.mark.parametrize("args,needle", [
    (["theory", "--depth", "1"], "depth must be an integer >= 2, got 1"),
    (["theory", "--rank-hat", "5"], "rank_hat must be in [rank = 10, dim = 100], got 5"),
    (["theory", "--loss", "avg"], "invalid choice: 'avg'"),
    (["theory", "--eta", "abc"], "invalid float value: 'abc'"),
    (["nope"], "invalid choice: 'nope'"),
])
def test_cli_bad_input_exits_2_with_one_line(args, needle):
    r = subprocess.run([sys.executable, "-m", "cdln", *args], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2
    assert r.stdout == "" and r.stderr.count("\n") == 1 and needle in r.stderr


def test_theory_doctests():
    failures = 0
    for mod in pkgutil.iter_modules(theory.__path__):
        m = importlib.import_module(f"theory.{mod.name}")
        failures += doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE).failed
    assert failures == 0


def test_import_layers_contract():
    """`theory ← sim ← cdln`, and theory never imports torch (import-linter, pyproject.toml)."""
    exe = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(exe), "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    code = "import theory, sys; theory.compressed_spectrum([1.0], depth=3, eps=0.1, eta=0.1, steps=2); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.stdout.strip() == "False"

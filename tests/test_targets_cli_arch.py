"""The authors' target generator, the `cdln theory` command, doctests and the layer contracts."""

import ast
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
    """`theory ← sim ← verify ← cdln`, sim/theory never import verify/cdln, no private module used across
    packages, and theory never imports torch (import-linter, pyproject.toml)."""
    exe = Path(sys.executable).parent / "lint-imports"
    r = subprocess.run([str(exe), "--no-cache"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    # every contract ran over all four packages (a package dropped from root_packages would pass silently)
    assert "Contracts: 4 kept, 0 broken." in r.stdout, r.stdout
    assert "cdln -> verify -> sim -> theory KEPT" in r.stdout, r.stdout
    code = "import theory, sys; theory.compressed_spectrum([1.0], depth=3, eps=0.1, eta=0.1, steps=2); print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.stdout.strip() == "False"


# ------------------------------------------------------------------ the figure scripts' imports
#: what a figure script may import from this repository: theory and sim (public modules), the shared
#: plotting helpers, and Table 1's settings (fig21 plots Table 1's runs through the cache)
FIGURE_FIRST_PARTY = {"theory", "sim", "cdln.plotting", "cdln.table1"}
FIGURE_THIRD_PARTY = {"numpy", "scipy", "matplotlib", "torch", "pandas"}
#: ways to load another script by path, or to import around the checker
FIGURE_LOADERS = {"spec_from_file_location", "module_from_spec", "SourceFileLoader", "run_path", "__import__",
                  "import_module", "exec", "execfile"}


def figure_import_problems(source: str) -> list[str]:
    """What a figure script imports that it should not (empty when its imports keep the layering)."""
    bad = []

    def module(name: str, lineno: int):
        top = name.split(".")[0]
        if top in ("verify", "tests", "docs"):
            bad.append(f"l.{lineno}: imports {name} (figures use theory, sim and cdln.plotting, never verify)")
        elif top in ("theory", "sim", "cdln"):
            if any(part.startswith("_") for part in name.split(".")[1:]):
                bad.append(f"l.{lineno}: imports the private module {name}")
            elif top == "cdln" and not any(name == m or name.startswith(m + ".") for m in FIGURE_FIRST_PARTY):
                bad.append(f"l.{lineno}: imports {name} (of cdln only plotting and table1's settings)")
        elif top in ("importlib", "runpy", "imp"):
            bad.append(f"l.{lineno}: imports {name} (a figure never loads another script)")
        elif top not in FIGURE_THIRD_PARTY and top not in sys.stdlib_module_names:
            bad.append(f"l.{lineno}: imports {name} (not a dependency of the figures)")

    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for a in node.names:
                module(a.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                bad.append(f"l.{node.lineno}: relative import (scripts are loaded by path)")
                continue
            module(node.module, node.lineno)
            if node.module.split(".")[0] in ("theory", "sim", "cdln"):
                for a in node.names:
                    if a.name.startswith("_"):
                        bad.append(f"l.{node.lineno}: imports the private name {node.module}.{a.name}")
                    elif node.module in ("theory", "sim") and a.name not in ("*",):
                        pkg = importlib.import_module(node.module)
                        if a.name not in pkg.__all__:
                            bad.append(f"l.{node.lineno}: {node.module}.{a.name} is not in {node.module}.__all__")
        elif isinstance(node, ast.Name) and node.id in FIGURE_LOADERS:
            bad.append(f"l.{node.lineno}: uses {node.id} (a figure never loads another script)")
        elif isinstance(node, ast.Attribute) and node.attr in FIGURE_LOADERS:
            bad.append(f"l.{node.lineno}: uses .{node.attr} (a figure never loads another script)")
    return bad


def test_figure_scripts_import_only_theory_sim_and_the_plotting_helpers():
    scripts = sorted((ROOT / "docs" / "figures").glob("*.py"))
    assert len(scripts) >= 25  # every figure of the paper and the new ones
    problems = {p.name: figure_import_problems(p.read_text()) for p in scripts}
    assert not {k: v for k, v in problems.items() if v}


@pytest.mark.parametrize("source,needle", [
    ("from verify.corollary import instance", "never verify"),
    ("import verify.report", "never verify"),
    ("from sim._io import x", "private module sim._io"),
    ("from theory import _checks", "private name theory._checks"),
    ("from cdln.cli import main", "of cdln only plotting"),
    ("import importlib.util", "never loads another script"),
    ("m = importlib.util.spec_from_file_location('f', 'fig1.py')", "spec_from_file_location"),
    ("exec(open('fig1.py').read())", "uses exec"),
    ("from .fig1 import runs", "relative import"),
    ("import requests", "not a dependency"),
    ("from sim import not_exported", "not in sim.__all__"),
])
def test_the_figure_import_check_catches_each_kind_of_violation(source, needle):
    found = figure_import_problems(source)
    assert any(needle in f for f in found), found
    assert figure_import_problems("import numpy as np\nimport theory\nfrom sim.instances import setup\n"
                                  "from cdln.plotting import plt\n") == []

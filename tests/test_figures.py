"""`cdln figures`: discovery, bad input, one real figure drawn end to end, and the gallery page."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cdln import figures

ROOT = Path(__file__).resolve().parents[1]
FIG_DIR = ROOT / "docs" / "figures"

PAPER_FIGURES = ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "fig11", "fig12", "fig13",
                 "fig14", "fig15", "fig16", "fig18", "fig19", "fig20", "fig21", "fig22", "table3"]
NEW_FIGURES = ["ode-vs-gd", "theorem2-map", "corollary1-gap"]


def test_every_figure_the_issue_lists_has_a_script_and_a_committed_output():
    found = figures.discover(FIG_DIR)
    for name in PAPER_FIGURES + NEW_FIGURES:
        assert name in found, name
        meta = json.loads((FIG_DIR / f"{name}.json").read_text())
        assert meta["name"] == name and meta["notes"] and meta["settings"], name
        assert (FIG_DIR / f"{name}.png").stat().st_size > 10_000, name  # a real plot, not an empty canvas
    # natural order: fig2 before fig10, tables after figures, new figures last
    order = list(found)
    assert order.index("fig2") < order.index("fig10") < order.index("table3") < order.index("ode-vs-gd")


def test_every_script_defines_fast_and_full_settings():
    for name, path in figures.discover(FIG_DIR).items():
        mod = figures.load(path)
        assert isinstance(mod.FAST, dict) and isinstance(mod.FULL, dict) and mod.TITLE and mod.CAPTION, name


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "cdln", "figures", *args], cwd=cwd, capture_output=True, text=True)


def test_unknown_figure_exits_2_with_one_line():
    res = _cli("fig99")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "unknown figure 'fig99'" in res.stderr and "fig2" in res.stderr


def test_outside_the_repository_exits_2(tmp_path):
    res = _cli("--fast", cwd=tmp_path)
    assert res.returncode == 2 and "no figure scripts" in res.stderr


def test_list_names_every_figure():
    res = _cli("--list")
    assert res.returncode == 0
    assert all(n in res.stdout for n in PAPER_FIGURES + NEW_FIGURES)


def test_one_figure_end_to_end_writes_png_json_and_reuses_its_runs(tmp_path):
    """ode-vs-gd (fast): real GD runs through the cache, theory curves, PNG + JSON written atomically."""
    path = figures.discover(FIG_DIR)["ode-vs-gd"]
    out, runs = tmp_path / "figs", tmp_path / "runs"
    meta = figures.make_figure("ode-vs-gd", path, fast=True, runs_root=runs, out_dir=out, quiet=True)
    assert (out / "ode-vs-gd.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads((out / "ode-vs-gd.json").read_text())
    assert data["command"] == "cdln figures --fast ode-vs-gd" and not any(r["cached"] for r in data["runs"])
    assert sorted(p.name for p in out.iterdir()) == ["ode-vs-gd.json", "ode-vs-gd.png"]  # no temporaries left
    # the measured O(η) slope is in the notes, computed from the runs (GD vs flow: 1 within 5%)
    slope = float(meta["notes"][0].split(": ")[1].split()[0])
    assert abs(slope - 1.0) < 0.05
    again = figures.make_figure("ode-vs-gd", path, fast=True, runs_root=runs, out_dir=out, quiet=True)
    assert all(r["cached"] for r in json.loads((out / "ode-vs-gd.json").read_text())["runs"])
    assert again["notes"] == meta["notes"]


def test_gallery_lists_each_figure_with_command_and_settings(tmp_path):
    page = figures.write_gallery(FIG_DIR, tmp_path / "figures.md")
    text = page.read_text()
    for name in PAPER_FIGURES + NEW_FIGURES:
        assert f"(figures/{name}.png)" in text and f"cdln figures --fast {name}" in text, name

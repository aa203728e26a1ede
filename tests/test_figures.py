"""`cdln figures`: discovery, bad input, one real figure drawn end to end, and the gallery page."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import theory
from cdln import figures
from cdln.plotting import plt, png_size
from verify.corollary import instance
from verify.tolerance import ulps

ROOT = Path(__file__).resolve().parents[1]
FIG_DIR = ROOT / "docs" / "figures"

PAPER_FIGURES = ["fig1", "fig2", "fig3", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "fig11", "fig12", "fig13",
                 "fig14", "fig15", "fig15b", "fig16", "fig17", "fig18", "fig19", "fig20", "fig21", "fig22", "table3"]
NEW_FIGURES = ["ode-vs-gd", "theorem2-map", "corollary1-gap", "alpha-law", "sparse-scaling", "corollary1-map", "theorem2-flow",
               "incremental-map", "theorem2-gd-map", "eos-bifurcation", "eos-sharpness", "eos-balancing", "eos-subspace"]


def test_every_figure_the_issue_lists_has_a_script_and_committed_outputs_drawn_with_its_settings():
    found = figures.discover(FIG_DIR)
    for name in PAPER_FIGURES + NEW_FIGURES:
        assert name in found, name
        meta = json.loads((FIG_DIR / f"{name}.json").read_text())
        mod = figures.load(found[name])
        assert meta["name"] == name and meta["title"] == mod.TITLE and meta["notes"], name
        # the committed picture was drawn with the script's current settings (fast or full, as it says)
        assert meta["settings"] == json.loads(json.dumps(mod.FAST if meta["fast"] else mod.FULL)), name
        img = plt.imread(FIG_DIR / f"{name}.png")
        assert img.ndim == 3 and min(img.shape[:2]) > 200 and float(img[..., :3].std()) > 0.01, name  # not blank
    # natural order: fig2 before fig10, tables after figures, new figures last
    order = list(found)
    assert order.index("fig2") < order.index("fig10") < order.index("table3") < order.index("ode-vs-gd")


@pytest.mark.parametrize("name", ["ode-vs-gd", "corollary1-gap", "alpha-law", "sparse-scaling", "corollary1-map", "theorem2-flow",
                                  "incremental-map", "theorem2-gd-map", "eos-bifurcation", "eos-sharpness", "eos-balancing",
                                  "eos-subspace", "fig17"])
def test_committed_notes_are_recomputed_from_their_own_plotted_numbers(name):
    """The notes beside a picture say what its JSON's numbers say (nothing typed, nothing stale)."""
    meta = json.loads((FIG_DIR / f"{name}.json").read_text())
    mod = figures.load(figures.discover(FIG_DIR)[name])
    assert mod.notes_from(meta["data"], meta["settings"]) == meta["notes"]


def _check_png(out, name, meta_json):
    png = out / f"{name}.png"
    img = plt.imread(png)  # decodes (Pillow), independently of the header read that stated the size
    assert [img.shape[1], img.shape[0]] == meta_json["png_size"] == list(png_size(png))
    assert float(img[..., :3].std()) > 0.01  # something is drawn


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
    _check_png(out, "ode-vs-gd", data)
    # the plotted numbers: η = fraction·η_c from theory, and the notes follow from them
    s = data["settings"]
    eta_c = theory.critical_step_size(s["sigma"][0], depth=s["depth"])
    assert [r["fraction"] for r in data["data"]["rows"]] == pytest.approx(s["fractions"], rel=1e-5)
    assert [r["eta"] for r in data["data"]["rows"]] == pytest.approx([f * eta_c for f in s["fractions"]], rel=1e-5)
    assert figures.load(path).notes_from(data["data"], s) == meta["notes"]
    # the measured O(η) slope of GD against the flow (1 within 5 %), and GD = recurrence to rounding
    rows = data["data"]["rows"]
    slope = np.polyfit(np.log([r["eta"] for r in rows]), np.log([r["gap_flow"] for r in rows]), 1)[0]
    assert abs(slope - 1.0) < 0.05 and f"{slope:.3f}" in meta["notes"][0]
    # GD = the recurrence to rounding: at most one ulp of σ*_1 a step (the map contracts below η_c) over
    # the longest run's steps; a wrong recurrence departs by O(η), orders of magnitude more
    steps = max(np.ceil(data["data"]["T"] / r["eta"]) for r in rows)
    assert max(r["gap_recurrence"] for r in rows) < ulps(steps) * s["sigma"][0]
    again = figures.make_figure("ode-vs-gd", path, fast=True, runs_root=runs, out_dir=out, quiet=True)
    assert all(r["cached"] for r in json.loads((out / "ode-vs-gd.json").read_text())["runs"])
    assert again["notes"] == meta["notes"]


def test_gallery_lists_each_figure_with_command_and_settings(tmp_path):
    page = figures.write_gallery(FIG_DIR, tmp_path / "figures.md")
    text = page.read_text()
    for name in PAPER_FIGURES + NEW_FIGURES:
        if (FIG_DIR / "paper" / f"{name}.json").is_file():  # the paper-setting picture, the fast one linked
            assert f"(figures/paper/{name}.png)" in text and f"cdln figures --paper {name}" in text, name
            assert f"[{name}.png](figures/{name}.png)" in text, name
        else:
            assert f"(figures/{name}.png)" in text and f"cdln figures --fast {name}" in text, name
    # the status table: one row per paper figure, "yes" exactly where a paper-setting JSON is committed ("in
    # part" where the script says so), its time that JSON's training plus drawing time, and the script's PAPER_GAP
    table = [x for x in text.split("## The paper's figures at the paper's settings")[1].split("\n## ")[0].splitlines()
             if x.startswith("| Figure") or x.startswith("| Table")]
    assert len(table) == len(PAPER_FIGURES)
    drawn = 0
    for name, row in zip(PAPER_FIGURES, table):
        cells = [c.strip() for c in row.strip("|").split("|")]
        pj = FIG_DIR / "paper" / f"{name}.json"
        mod = figures.load(figures.discover(FIG_DIR)[name])
        gap = getattr(mod, "PAPER_GAP", None)
        assert cells[0] == mod.TITLE, name
        if pj.is_file():
            m = json.loads(pj.read_text())
            drawn += 1
            assert cells[1] == ("yes, in part" if getattr(mod, "PAPER_PARTIAL", False) else "yes"), name
            assert cells[2] == f"{((m.get('runs_train_s') or 0) + m['wall_s']) / 60:,.1f}", name
        else:
            assert cells[1].startswith("no") and cells[2] == "", name
        assert cells[3] == (gap or ("—" if pj.is_file() else "not drawn yet")), name
    assert f"{drawn} of {len(PAPER_FIGURES)} are drawn at the paper's settings" in text


def test_corollary_gap_figure_end_to_end_plots_what_the_verification_measures(tmp_path):
    """corollary1-gap with a few draws: the plotted gaps are theory's for the overlap that sim measures
    (the same numbers verify.corollary compares with the matrices), and the notes follow from them."""
    path = figures.discover(FIG_DIR)["corollary1-gap"]
    mod = figures.load(path)
    meta = figures.make_figure("corollary1-gap", path, fast=True, runs_root=tmp_path / "runs", out_dir=tmp_path,
                               quiet=True, settings=dict(mod.FAST, draws=12))
    data = json.loads((tmp_path / "corollary1-gap.json").read_text())
    _check_png(tmp_path, "corollary1-gap", data)
    s = data["settings"]
    for scaling in ("proof", "eq3"):
        want = [instance(np.array(s["sigma"]), d=s["d"], rank_hat=s["rank_hat"], depth=s["depth"], eps=s["eps"],
                         scaling=scaling, aligned=False, seed=k) for k in range(s["draws"])]
        # the JSON keeps 6 significant digits
        assert data["data"][scaling] == pytest.approx([w["gap_theory"] for w in want], rel=1e-5)
        # theory's gap agrees with the gap measured on the matrices (256 ulps of the error scale, as verify)
        assert all(abs(w["gap_theory"] - w["gap_measured"]) <= ulps(256) * w["scale"] for w in want)
    assert mod.notes_from(data["data"], s) == meta["notes"] and "of 12 draws" in meta["notes"][0]


def test_fig17_notes_read_the_curves():
    """Figure 17's notes on made-up curves: an interior minimum and a rise after it (overfitting), a tie at the
    minimum (the first step counts), a curve that never comes within 1 % of the best, and η/η_c(α)."""
    mod = figures.load(figures.discover(FIG_DIR)["fig17"])
    steps, t = [0, 100, 200, 300], [0.0, 1.0, 2.0, 3.0]
    data = {"rows": [{"alpha": 1.0, "eta_over_eta_c": 0.05}, {"alpha": 20.0, "eta_over_eta_c": 0.5}],
            "alpha=1": {"step": steps, "time_s": t, "test_error": [1.0, 0.5, 0.4, 0.4], "train_loss": [3, 2, 1, 1]},
            "alpha=20": {"step": steps, "time_s": t, "test_error": [1.0, 0.3, 0.35, 0.6], "train_loss": [3, 1, .5, .1]}}
    notes = mod.notes_from(data, dict(eta=0.5, loss="mean", steps=300))
    assert "α = 1: 0.050, α = 20: 0.500" in notes[0]
    assert "α = 1: 0.4000 (200), α = 20: 0.3000 (100)" in notes[1]  # the tie at 0.4: its first step
    assert "α = 1: +0.0000, α = 20: +0.3000" in notes[2]
    assert "α = 1: 1, α = 20: 0.1" in notes[3]
    assert "(0.3000, α = 20)" in notes[4] and "α = 1: never, α = 20: 100 (1.0 s)" in notes[4]


def test_fig17_end_to_end_on_a_short_budget(tmp_path):
    """Figure 17 (MovieLens, one compressed run per α) on a short budget: a picture, the runs' curves in the
    JSON, every α drawn below theory's stable step, and notes that follow from the JSON."""
    path = figures.discover(FIG_DIR)["fig17"]
    mod = figures.load(path)
    settings = dict(mod.FAST, alphas=[1.0, 5.0], steps=80, log_every=20)
    meta = figures.make_figure("fig17", path, fast=True, runs_root=tmp_path / "runs", out_dir=tmp_path, quiet=True,
                               settings=settings)
    data = json.loads((tmp_path / "fig17.json").read_text())
    _check_png(tmp_path, "fig17", data)
    assert [r["alpha"] for r in data["data"]["rows"]] == [1.0, 5.0]
    assert all(0 < r["eta_over_eta_c"] < 1 for r in data["data"]["rows"])
    for a in ("1", "5"):
        y = data["data"][f"alpha={a}"]["test_error"]
        assert len(y) == 80 // 20 + 1 and y[-1] < y[0]  # it learns within the budget
    assert mod.notes_from(data["data"], data["settings"]) == meta["notes"]


TOY = '''
import numpy as np
from cdln.plotting import plt
TITLE = "toy"
CAPTION = "toy"
PAPER = "toy statement"
BASE = dict(problem="factorization", d=4, rank=1, rank_hat=1, depth=2, eps=0.1, eta=0.05, loss="sum", log_every=5)
FULL = dict(steps=20)
FAST = dict(steps=10)


def make(ctx):
    a = ctx.run(model="compressed", steps=ctx.settings["steps"], **BASE)
    first = float(a.metrics["recovery_error"].iloc[-1])  # read before the next run is asked for
    b = ctx.run(model="wide", steps=ctx.settings["steps"], seeds=2, **BASE)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [first, float(b.metrics["recovery_error"].iloc[-1])])
    return fig, {"first": first}, [f"first {first:.3g}"]
'''


def test_paper_mode_collects_runs_without_making_them_then_makes_them_through_the_sweep(tmp_path):
    """--paper's collecting pass records missing runs instead of launching them (a script reading its runs one
    at a time needs one pass per run); the sweep engine then makes them all, a rerun makes none."""
    script = tmp_path / "toy.py"
    script.write_text(TOY)
    runs = tmp_path / "runs"
    pending, errors = figures.collect(["toy"], {"toy": script}, runs)
    assert errors == {} and [c.model for c in pending] == ["compressed"] and not runs.exists()
    log = []
    # threads reach each run's torch (one long paper run can have both cores: --workers 1 --threads 2)
    assert figures.make_paper_runs(["toy"], {"toy": script}, runs, workers=1, threads=2, log=log.append) == {}
    assert [x.split(":")[0] for x in log] == ["pass 1", "pass 2"]  # the second run is asked for only once the first is read
    assert figures.collect(["toy"], {"toy": script}, runs) == ([], {})
    log.clear()
    assert figures.make_paper_runs(["toy"], {"toy": script}, runs, workers=1, log=log.append) == {} and log == []
    meta = figures.make_figure("toy", script, fast=False, runs_root=runs, out_dir=tmp_path / "paper",
                               command="cdln figures --paper toy")
    assert meta["command"] == "cdln figures --paper toy" and meta["runs_train_s"] > 0
    assert all(u["cached"] for u in json.loads((tmp_path / "paper" / "toy.json").read_text())["runs"])


def test_paper_mode_refuses_bad_flags_with_one_line():
    for args, msg in ((["--paper", "--fast"], "exclude each other"), (["--workers", "2"], "only with --paper"),
                      (["--threads", "2"], "only with --paper"), (["--paper", "--workers", "0"], "--workers must be >= 1"),
                      (["--paper", "--threads", "0"], "--threads must be >= 1"),
                      (["--paper", "ode-vs-gd"], "not one of the paper's figures")):
        res = _cli(*args)
        assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and msg in res.stderr, (args, res.stderr)


def test_fig15_gap_quotes_theorys_fit_steps():
    """The fit steps fig15's PAPER_GAP quotes for the undrawn d = 200 panel (and for the drawn d = 100 one) are
    what theory's estimate gives for those settings now: a change in theory or in the settings shows here."""
    import sim
    import theory
    from cdln.modes import expected_step

    mod = figures.load(figures.discover(FIG_DIR)["fig15"])
    keys = ("d", "rank", "rank_hat", "depth", "eps", "eta", "loss", "alpha", "measurements")
    for over in ({}, mod.SECOND):
        s = {k: v for k, v in {**mod.FULL, **over}.items() if k in keys}
        last = float(theory.authors_target((s["d"], s["d"]), s["rank"], 0).sigma[-1])
        for model in ("wide", "compressed"):
            step, _ = expected_step(sim.RunConfig(problem="sensing", model=model, **s), last)
            assert f"{step:,}" in mod.PAPER_GAP, (over, model, step)
    # the drawn d = 200 panel (the authors' code's setting): its caption quotes theory's fit step of the wide
    # net's last mode, and its step budget lies beyond it
    second = figures.load(figures.discover(FIG_DIR)["fig15b"])
    s = {k: v for k, v in second.FULL.items() if k in keys}
    last = float(theory.authors_target((s["d"], s["d"]), s["rank"], 0).sigma[-1])
    step, _ = expected_step(sim.RunConfig(problem="sensing", model="wide", **s), last)
    assert f"({step:,}," in second.CAPTION and step < second.FULL["steps"], step


def test_context_records_the_nonlinear_trainings_a_script_reads(tmp_path):
    """ctx.train: a training made now is in the drawing time, one read from the cache adds its recorded
    training time once (however often it is read) to the figure's runs_train_s."""
    from cdln.plotting import Context
    from sim.nonlinear import TrainConfig, load_fashion_mnist

    data = load_fashion_mnist().subset(200, 100, seed=0)
    cfg = TrainConfig(arch="mlp", variant="cdln", width=32, rank_hat=10, epochs=1, batch_size=50, evals_per_epoch=1)
    first = Context(name="x", fast=True, settings={}, runs_root=tmp_path)
    made = first.train(cfg, data=data)
    assert first.trainings[0]["cached"] is False and first.cached_training_s() == 0.0
    again = Context(name="y", fast=True, settings={}, runs_root=tmp_path)
    for _ in range(2):
        read = again.train(cfg, data=data)
    assert [t["cached"] for t in again.trainings] == [True, True]
    assert again.cached_training_s() == made.time_s[-1] == read.time_s[-1] > 0


def test_paper_figures_declare_their_nonlinear_trainings_for_the_cluster(tmp_path):
    """Figs. 1, 20 and 21 declare the trainings they read (trainings(FULL)), so `cdln figures --paper` makes them on
    the Dask cluster before drawing: Figs. 1 and 20 share their two, Fig. 21's are Table 1's (the MLP at the
    paper's settings, the ViT fast), and what the cache holds is not asked for again."""
    import pytest

    from cdln.table1 import configs, settings
    from sim.nonlinear.cache import config_key
    from sweep.trainings import missing_trainings, train_missing

    scripts = figures.discover(FIG_DIR)
    declared = figures.trainings(["fig1", "fig20", "fig21"], scripts)
    assert len(declared) == 2 + 2 + 24  # 4 seeds × 3 variants × (MLP, ViT)
    want = configs(settings(["ViT"], 4, None, "cpu", "float32"))
    assert declared[4:] == want and {c.epochs for c in want[:12]} == {50} and {c.seed for c in want[:12]} == set(range(4))
    todo = missing_trainings(declared, tmp_path)
    assert len(todo) == 2 + 24 and todo[0] == declared[0]  # fig20's two are fig1's
    (tmp_path / "nonlinear" / config_key(todo[0])).mkdir(parents=True)
    (tmp_path / "nonlinear" / config_key(todo[0]) / "result.json").write_text("{}")
    assert missing_trainings(declared, tmp_path) == todo[1:]
    with pytest.raises(ValueError, match="threads must be an integer >= 1, got 0"):
        train_missing(declared, tmp_path, threads=0)

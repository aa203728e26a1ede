"""First contact (issue 15, item 5): `cdln run` with no flags learns its whole target, and a run's closing
line says how many of the target's modes are fitted and, when not all, when theory expects the next one."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import sim
import theory
from cdln.cli import main
from cdln.modes import DELTA, describe, mode_report
from cdln.run_cmd import FIRST_CONTACT

SPECTRUM = (6.0, 4.0, 3.0, 2.0)
#: a small exact case: factorization, compressed DLN, α = 2, sum loss at 52% of theory's η_c
SMALL = ["--d", "20", "--spectrum", ",".join(map(str, SPECTRUM)), "--rank-hat", "8", "--eps", "0.1",
         "--loss", "sum", "--eta", "0.02", "--alpha", "2", "--log-every", "1"]


def _fit_steps():
    return theory.fit_steps(list(SPECTRUM), depth=3, eps=0.1, eta=0.02, alpha=2.0, delta=DELTA)


def _cli(capsys, tmp_path, *argv) -> tuple[str, sim.Run]:
    out = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
    assert main(["run", "--quiet", *argv, "--out", str(out)]) == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1, line  # one closing line
    return line, sim.load_run(out)


def _logged_fitted(run, sigma) -> list[int]:
    """Per seed, how many σ_i(W_{L:1}) at the last log are >= (1 − δ) σ*_i: straight from singular_values.npy."""
    sv = run.singular_values[-1]
    return [int(np.sum(sv[b, : len(s)] >= (1 - DELTA) * np.asarray(s))) for b, s in enumerate(sigma)]


def test_bare_cdln_run_fits_every_mode_of_the_papers_target(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # its run goes to ./runs/<key>
    assert main(["run", "--quiet"]) == 0
    line = capsys.readouterr().out
    cfg = sim.RunConfig(**FIRST_CONTACT)
    run = sim.load_run(tmp_path / "runs" / cfg.key())  # the same run as RunConfig(**FIRST_CONTACT)
    assert (run.config["alpha"], run.config["steps"], run.config["log_every"]) == (5.0, 40_000, 100)
    sig = theory.authors_target(cfg.shape, cfg.rank, cfg.seed).sigma
    # enough steps by theory's own count: the exact recurrence GD on Algorithm 1 follows puts the last mode inside
    last = int(theory.fit_steps(sig, depth=cfg.depth, eps=cfg.eps, eta=cfg.eta / (cfg.d * cfg.d), alpha=cfg.alpha).max())
    assert 0 < last <= cfg.steps
    assert run.summary["modes"]["fitted"] == [10] == _logged_fitted(run, [sig])
    assert "10/10 target modes fitted" in line and "theory expects" not in line
    err = run.metrics.recovery_error.to_numpy()
    assert err[0] > 0.99 and err[-1] < 1e-6  # from the ε start to a fitted target (7e-11 measured)
    assert len(run.metrics) == cfg.steps // cfg.log_every + 1  # 401 logs: logging stays a small part of the run


def test_sim_runconfig_and_sweeps_keep_their_defaults():
    # cdln run's first-contact defaults live in the CLI only: every stored key built from RunConfig stays put
    d = sim.RunConfig()
    assert (d.alpha, d.steps, d.log_every) == (1.0, 1000, 10)
    assert set(FIRST_CONTACT) == {"alpha", "steps", "log_every"}


def test_config_file_and_flags_override_the_first_contact_defaults(tmp_path, capsys):
    (tmp_path / "c.json").write_text(json.dumps({"alpha": 1.0, "steps": 3, "log_every": 1, "d": 8, "rank": 2,
                                                  "rank_hat": 4}))
    _, run = _cli(capsys, tmp_path, "--config", str(tmp_path / "c.json"))
    assert (run.config["alpha"], run.config["steps"]) == (1.0, 3)
    _, run = _cli(capsys, tmp_path, "--config", str(tmp_path / "c.json"), "--alpha", "2", "--steps", "4")
    assert (run.config["alpha"], run.config["steps"], run.config["log_every"]) == (2.0, 4, 1)
    _, run = _cli(capsys, tmp_path, "--d", "8", "--rank", "2", "--rank-hat", "4", "--steps", "2")
    assert (run.config["alpha"], run.config["log_every"]) == (5.0, 100)  # not given anywhere: cdln run's


def test_help_names_both_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(cdln run: 5.0 unless given; sim.RunConfig (default: 1.0))" in text
    assert "(cdln run: 40000 unless given, AltMin: 1000; sim.RunConfig (default: 1000))" in text
    assert "(cdln run: 100 unless given, AltMin: 10; sim.RunConfig (default: 10))" in text
    assert "a key it leaves out takes cdln run's default (--alpha 5, --steps 40000 and --log-every 100 included)" in text


def test_altmin_keeps_runconfigs_step_budget(tmp_path):
    """AltMin's step is a least-squares solve and it fits in tens of them: 40,000 would take minutes."""
    from cdln.run_cmd import ALTMIN_KEEPS, first_contact

    assert first_contact({"model": "altmin"}) == {k: v for k, v in FIRST_CONTACT.items() if k not in ALTMIN_KEEPS}
    assert first_contact({}) == first_contact({"model": "wide"}) == FIRST_CONTACT
    cfg = sim.RunConfig.from_dict({**first_contact({"model": "altmin"}), "model": "altmin"})
    d = sim.RunConfig()
    assert (cfg.steps, cfg.log_every) == (d.steps, d.log_every)


def test_a_divergence_at_the_first_contact_alpha_says_where_alpha_came_from(tmp_path, capsys):
    """η between the stable step at α = 5 and at α = 1: the run diverges only because of cdln run's α."""
    eta = 1.5 * theory.critical_step_size(SPECTRUM[0], depth=3, alpha=FIRST_CONTACT["alpha"])
    assert eta < theory.critical_step_size(SPECTRUM[0], depth=3, alpha=1.0)
    argv = ["run", "--quiet", *SMALL[:10], "--eta", f"{eta!r}", "--steps", "400", "--log-every", "50"]
    for extra, hint in (([], True), (["--alpha", "5"], False)):
        with pytest.raises(SystemExit) as exc:
            main([*argv, *extra, "--out", str(tmp_path / f"r{len(extra)}")])
        err = capsys.readouterr().err
        assert exc.value.code == 1 and err.count("\n") == 1 and "diverged" in err, err
        assert ("is cdln run's default, not sim.RunConfig's 1" in err) == hint, err


def test_a_run_whose_last_log_is_not_finite_gives_no_next_step():
    cfg = sim.RunConfig.from_dict({**FIRST_CONTACT, "d": 20, "spectrum": SPECTRUM, "rank_hat": 8})
    sv = np.full((2, 1, 13), np.nan)
    rep = mode_report(cfg, type("R", (), {"singular_values": sv})())
    assert rep["fitted"] == [0] and rep["next_mode"] == [1] and rep["next_step"] == [None]
    assert describe(rep).endswith("next: seed 0: W_{L:1} is not finite at the last log (diverged)")


def test_closing_line_counts_fitted_modes_and_gives_theorys_next_step(tmp_path, capsys):
    ts = _fit_steps()
    assert np.all(np.diff(ts) > 0)  # four distinct fit steps: a stop between two of them is unambiguous
    stop = int(ts[1] + (ts[2] - ts[1]) // 2)  # after modes 1, 2 and before mode 3
    line, run = _cli(capsys, tmp_path, *SMALL, "--steps", str(stop))
    m = run.summary["modes"]
    assert m["fitted"] == [2] == _logged_fitted(run, [SPECTRUM])
    assert m["next_mode"] == [3] and m["next_step"] == [int(ts[2])]  # theory.fit_steps' own number
    assert m["how"].startswith("theory.fit_steps")
    assert f"2/4 target modes fitted (σ_i ≥ 0.99·σ*_i); theory expects mode 3 at step {int(ts[2]):,};" in line
    # and once past the last fit step, all four, with no next step
    line, run = _cli(capsys, tmp_path, *SMALL, "--steps", str(int(ts[-1]) + 1))
    assert run.summary["modes"]["fitted"] == [4] and "4/4 target modes fitted (σ_i ≥ 0.99·σ*_i);" in line
    assert "theory expects" not in line


def test_the_count_follows_the_logged_singular_values_at_every_stop(tmp_path, capsys):
    """GD on Algorithm 1 follows theory's mode recurrence: at each stop, the modes fitted by the logged
    singular values are the modes whose theory fit step has passed."""
    ts = _fit_steps()
    for stop in (int(ts[0]) - 1, int(ts[0]) + 1, int(ts[2]) + 1):
        _, run = _cli(capsys, tmp_path, *SMALL, "--steps", str(stop))
        assert run.summary["modes"]["fitted"] == [int(np.sum(ts <= stop))] == _logged_fitted(run, [SPECTRUM])


def test_several_seeds_give_a_count_per_seed_and_a_range(tmp_path, capsys):
    args = ["--d", "30", "--rank", "3", "--rank-hat", "6", "--eps", "0.1", "--loss", "sum", "--eta", "0.01",
            "--alpha", "2", "--log-every", "5", "--seeds", "3"]
    _, run = _cli(capsys, tmp_path, *args, "--steps", "2000")
    assert run.summary["modes"]["fitted"] == [3, 3, 3]
    cfg = sim.RunConfig.from_dict({**FIRST_CONTACT, "d": 30, "rank": 3, "rank_hat": 6, "eps": 0.1, "loss": "sum",
                                   "eta": 0.01, "alpha": 2.0, "seeds": 3})
    sigmas = [theory.authors_target((30, 30), 3, s).sigma for s in cfg.seed_list]
    fit = [theory.fit_steps(s, depth=3, eps=0.1, eta=0.01, alpha=2.0) for s in sigmas]
    stop = int(min(f[0] for f in fit) + 1)  # the first mode of the fastest seed only
    line, run = _cli(capsys, tmp_path, *args, "--steps", str(stop))
    m = run.summary["modes"]
    assert len(m["fitted"]) == 3 and m["fitted"] == _logged_fitted(run, sigmas)
    want = [int(np.sum(f <= stop)) for f in fit]
    assert m["fitted"] == want
    nxt = [int(f[k]) for f, k in zip(fit, want)]
    assert m["next_step"] == nxt
    lo, hi = min(want), max(want)
    span = f"{lo}/3" if lo == hi else f"{lo}–{hi}/3"
    assert f"{span} target modes fitted" in line
    s_lo, s_hi = min(nxt), max(nxt)
    assert (f"at step {s_lo:,}" if s_lo == s_hi else f"at step {s_lo:,}–{s_hi:,}") in line


def test_other_runs_say_how_theorys_step_was_obtained(tmp_path, capsys):
    base = ["--d", "20", "--spectrum", "6,4", "--rank-hat", "4", "--eps", "0.1", "--loss", "sum", "--eta", "0.02",
            "--steps", "5", "--log-every", "5"]
    line, run = _cli(capsys, tmp_path, *base, "--model", "wide")
    assert "0/2 target modes fitted" in line and "theory estimates mode 1 at step" in line
    assert run.summary["modes"]["how"].startswith("estimate")
    # the wide DLN's estimate: the flow limit at α = 1 (its outer layers take the plain step), κ = 1
    wide = theory.incremental_schedule([6.0], depth=3, eps=0.1, alpha=1.0, eta=0.02)
    assert run.summary["modes"]["next_step"] == [int(wide.steps[0])]
    line, run = _cli(capsys, tmp_path, *base, "--init", "oracle", "--mode", "flow")
    flow = theory.incremental_schedule([6.0], depth=3, eps=0.1, alpha=5.0, eta=0.02)
    assert run.summary["modes"]["next_step"] == [int(flow.steps[0])] and "flow" in run.summary["modes"]["how"]
    assert math.ceil(flow.times[0] / 0.02) == int(flow.steps[0])
    line, run = _cli(capsys, tmp_path, *base, "--problem", "completion", "--observed", "0.5")
    assert "theory estimates mode 1 at step" in line
    # completion's: the flow limit at the step κη, κ = |Ω|/(n1·n2) in expectation (theory.curvature_scale)
    kappa = theory.curvature_scale("completion", (20, 20), n_observed=round(0.5 * 20 * 20))
    est = theory.incremental_schedule([6.0], depth=3, eps=0.1, alpha=FIRST_CONTACT["alpha"], eta=kappa * 0.02)
    assert run.summary["modes"]["next_step"] == [int(est.steps[0])]
    # AltMin of rank 1 cannot hold the second mode; theory gives AltMin no step count
    line, run = _cli(capsys, tmp_path, "--d", "20", "--spectrum", "6,4", "--rank-hat", "1", "--model", "altmin",
                     "--steps", "3")
    assert run.summary["modes"]["fitted"] == [1] and run.summary["modes"]["next_step"] == [None]
    assert "1/2 target modes fitted (σ_i ≥ 0.99·σ*_i); next: theory has no step count for AltMin" in line


def test_compressed_net_narrower_than_the_target_says_why_no_step(tmp_path, capsys):
    line, run = _cli(capsys, tmp_path, *SMALL[:4], "--rank-hat", "2", *SMALL[6:], "--steps", str(int(_fit_steps()[-1])))
    m = run.summary["modes"]
    assert m["fitted"] == [2] and m["next_mode"] == [3] and m["next_step"] == [None]
    assert "r̂ = 2 < r = 4" in line


def test_a_problem_without_a_known_target_says_so(tmp_path, capsys):
    np.savez(tmp_path / "r.npz", row=np.array([0, 1, 2, 3, 0, 1]), col=np.array([0, 1, 2, 0, 3, 2]),
             value=np.array([1.0, 2.0, 3.0, 4.0, 5.0, 1.5]))
    line, run = _cli(capsys, tmp_path, "--problem", "ratings", "--ratings-file", str(tmp_path / "r.npz"),
                     "--rank-hat", "2", "--steps", "2", "--test-fraction", "0.3")
    assert "problem 'ratings' has no known target: modes not counted" in line
    assert run.summary["modes"]["target_modes"] is None


def test_a_cached_run_prints_the_same_line_and_its_folder_is_not_rewritten(tmp_path, capsys):
    cfg = sim.RunConfig.from_dict({**FIRST_CONTACT, "d": 20, "spectrum": SPECTRUM, "rank_hat": 8, "eps": 0.1,
                                   "loss": "sum", "eta": 0.02, "alpha": 2.0, "log_every": 1, "steps": 90})
    made = sim.run(cfg, tmp_path / "made")  # by sim, not cdln run: no `modes` in its summary
    before = (made.path / "summary.json").read_bytes()
    assert "modes" not in made.summary
    assert main(["run", "--quiet", *SMALL, "--steps", "90", "--out", str(made.path)]) == 0
    line = capsys.readouterr().out
    assert "cached" in line and "2/4 target modes fitted" in line
    assert (made.path / "summary.json").read_bytes() == before
    rep = mode_report(cfg, made)
    assert rep["fitted"] == [2] and describe(rep) in line


def test_describe_spans_seeds():
    rep = {"delta": 0.01, "target_modes": 10, "fitted": [3, 4], "next_mode": [4, 5], "next_step": [1200, 34567],
           "how": "theory.fit_steps: …", "note": None}
    assert describe(rep) == ("3–4/10 target modes fitted (σ_i ≥ 0.99·σ*_i) (over 2 seeds); theory expects mode 4–5 at "
                             "step 1,200–34,567")
    assert describe({**rep, "fitted": [10, 10], "next_mode": [None, None], "next_step": [None, None]}) == \
        "10/10 target modes fitted (σ_i ≥ 0.99·σ*_i)"


@pytest.mark.parametrize("argv,needle", [
    (["--steps", "-1"], "steps must be an integer >= 0, got -1"),
    (["--alpha", "0"], "alpha must be in (0, inf), got 0.0"),
    (["--log-every", "0"], "log_every must be an integer >= 1, got 0"),
])
def test_bad_input_still_exits_2_with_one_line_before_any_work(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        main(["run", "--quiet", *argv])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1 and needle in err, err
    assert not (tmp_path / "runs").exists()

"""`cdln sweep --dry-run`'s calibrated estimate: each batch shape timed here for a few steps, nothing stored."""

import subprocess
import sys
from pathlib import Path

import sweep
from sweep.engine import calibrate

ROOT = Path(__file__).resolve().parents[1]


def _spec(tmp_path):
    return {"store": str(tmp_path / "runs"),
            "base": {"problem": "factorization", "model": "wide", "rank": 1, "rank_hat": 1, "depth": 2,
                     "eta": 0.05, "loss": "sum", "steps": 200, "log_every": 50, "seeds": 2},
            "grid": {"d": [4, 6], "eps": [0.1, 0.2]}}


def test_calibration_times_each_shape_once_and_stores_nothing(tmp_path):
    spec = sweep.as_spec(_spec(tmp_path))
    _, plan = sweep.plan_of(spec)
    cal = calibrate(plan)
    assert cal["shapes"] == 2  # d = 4 and d = 6; ε does not change a step's cost
    assert cal["seconds"] > 0
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_dry_run_prints_the_calibrated_estimate(tmp_path):
    import json

    f = tmp_path / "spec.json"
    f.write_text(json.dumps(_spec(tmp_path)))
    res = subprocess.run([sys.executable, "-m", "cdln", "sweep", str(f), "--dry-run"], cwd=ROOT, capture_output=True,
                         text=True)
    assert res.returncode == 0, res.stderr
    assert "calibrated (each of 2 batch shapes" in res.stdout
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())

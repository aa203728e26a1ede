"""The verification report does not depend on the order the claim tests run in.

Two cheap claims (corollary1, corollary1-eq3: hypothesis searches with running tallies, a pinned
counterexample, a loop over seeds) are run by pytest in a subprocess in collection order, in
reversed order, and one file alone; the verdict files they write must agree byte for byte, except
for the wall-clock time.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verify.report import build

ROOT = Path(__file__).resolve().parents[1]
FILES = ["verify/test_corollary1.py", "verify/test_corollary1_eq3.py"]
CLAIMS = ["corollary1", "corollary1-eq3"]

#: a -p plugin: reverses the run order (when asked) and logs the order the tests ran in
PLUGIN = '''
import os


def pytest_collection_modifyitems(items):
    if os.environ.get("CDLN_TEST_REVERSE"):
        items.reverse()


def pytest_runtest_logstart(nodeid, location):
    with open(os.environ["CDLN_TEST_RUN_LOG"], "a") as fh:
        fh.write(nodeid + "\\n")
'''


def _verdicts(tmp_path: Path, name: str, files, *, reverse=False) -> dict:
    out, log = tmp_path / f"{name}.json", tmp_path / f"{name}.order"
    env = {**os.environ, "HYPOTHESIS_PROFILE": "ci", "CDLN_VERDICTS": str(out), "CDLN_TEST_RUN_LOG": str(log),
           "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("CDLN_TEST_REVERSE", None)
    if reverse:
        env["CDLN_TEST_REVERSE"] = "1"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           "-p", "cdln_order_plugin", *files]
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    data = json.loads(out.read_text())
    data.pop("seconds")
    data["ran"] = log.read_text().split()
    return data


def _covered(data: dict, claims) -> str:
    """The covered claims' outcomes, evidence and counterexamples as order-sensitive JSON text."""
    return json.dumps({part: {c: data[part].get(c) for c in claims}
                       for part in ("outcomes", "evidence", "counterexamples")}, sort_keys=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("order")
    (tmp / "cdln_order_plugin.py").write_text(PLUGIN)
    return {"normal": _verdicts(tmp, "normal", FILES), "reversed": _verdicts(tmp, "reversed", FILES, reverse=True),
            "one file": _verdicts(tmp, "one", FILES[1:])}


def test_reversed_order_gives_the_same_verdicts(runs):
    normal, rev = dict(runs["normal"]), dict(runs["reversed"])
    # the tests really ran in the other order (else this test could not fail)
    ran = normal.pop("ran")
    assert len(ran) >= 5 and rev.pop("ran") == ran[::-1]
    assert _covered(normal, CLAIMS) == _covered(rev, CLAIMS)
    assert json.dumps(normal, sort_keys=False) == json.dumps(rev, sort_keys=False)
    # and so does the report built from them
    rows = {k: [r for r in build(v) if r["id"] in CLAIMS] for k, v in runs.items() if k != "one file"}
    assert rows["normal"] == rows["reversed"] and all(r["verdict"] != "not-run" for r in rows["normal"])
    assert rows["normal"][0]["counterexample"]  # the pinned counterexample is there in both


def test_one_file_alone_gives_the_same_verdict_for_its_claim(runs):
    assert _covered(runs["one file"], ["corollary1-eq3"]) == _covered(runs["normal"], ["corollary1-eq3"])
    assert "corollary1" not in runs["one file"]["outcomes"]


def test_the_recorder_refuses_evidence_two_tests_would_fight_over(tmp_path):
    """Two tests writing one evidence key would make the report depend on which ran last."""
    (tmp_path / "conftest.py").write_text((ROOT / "verify" / "conftest.py").read_text())
    (tmp_path / "test_clash.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.claim('c')\ndef test_a(record):\n    record.evidence('c', 'k', 1)\n\n"
        "@pytest.mark.claim('c')\ndef test_b(record):\n    record.evidence('c', 'k', 2)\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                       cwd=tmp_path, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 1 and "1 failed, 1 passed" in r.stdout and "each key belongs to one test" in r.stdout

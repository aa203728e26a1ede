"""The verification report: a claim is printed with its verdict only if all its tests passed."""

import json
import subprocess
import sys
from pathlib import Path

from verify.claims import CLAIMS
from verify.report import build, main, markdown

ROOT = Path(__file__).resolve().parents[1]


def _verdicts(outcomes):
    return {"profile": "ci", "max_examples": 25, "seconds": 1.0, "outcomes": outcomes,
            "evidence": {"theorem1": {"instances": 3}}, "counterexamples": {}}


def test_failed_or_missing_tests_never_report_a_verdict():
    outcomes = {c.id: [{"test": f"t::{c.id}", "outcome": "passed", "when": "call", "message": ""}] for c in CLAIMS}
    outcomes["theorem1"].append({"test": "t::broken", "outcome": "failed", "when": "call", "message": "boom"})
    del outcomes["incremental"]
    rows = {r["id"]: r for r in build(_verdicts(outcomes))}
    assert rows["theorem1"]["verdict"] == "error" and "t::broken failed" in rows["theorem1"]["conditions"]
    assert rows["incremental"]["verdict"] == "not-run"
    assert rows["corollary1"]["verdict"] == "holds-with-conditions"
    assert [r["id"] for r in build(_verdicts(outcomes))] == [c.id for c in CLAIMS]


def test_report_files_and_exit_status(tmp_path):
    outcomes = {c.id: [{"test": "t", "outcome": "passed", "when": "call", "message": ""}] for c in CLAIMS}
    f = tmp_path / "v.json"
    f.write_text(json.dumps(_verdicts(outcomes)))
    assert main(["--verdicts", str(f), "--out", str(tmp_path / "rep")]) == 0
    rows = json.loads((tmp_path / "rep.json").read_text())
    assert {"id", "claim", "verdict", "conditions", "evidence", "counterexample"} <= set(rows[0])
    md = (tmp_path / "rep.md").read_text()
    assert "| `theorem1` |" in md and "instances: 3" in md
    outcomes["ode-vs-gd"][0]["outcome"] = "failed"
    f.write_text(json.dumps(_verdicts(outcomes)))
    assert main(["--verdicts", str(f), "--out", str(tmp_path / "rep")]) == 1
    assert "**error**" in markdown(build(_verdicts(outcomes)), _verdicts(outcomes), "t", "c")


def test_cdln_verify_needs_the_repository_root(tmp_path):
    r = subprocess.run([sys.executable, "-m", "cdln", "verify"], capture_output=True, text=True, cwd=tmp_path,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "repository root" in r.stderr


def test_every_bound_a_condition_quotes_is_asserted_by_a_claim_test():
    """claims.py's bounds are quoted by the condition texts and imported by the tests that assert them
    (directly, or through a helper of verify/measures.py built from them)."""
    import ast

    import verify.claims as claims

    bounds = [n for n, v in vars(claims).items() if n.isupper() and isinstance(v, (int, float))]
    assert len(bounds) >= 10

    def imported(tree, module):
        return {a.asname or a.name: a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                and node.module == module for a in node.names}

    # verify/measures.py's shared helpers: which bounds each of its top-level names is built from
    mtree = ast.parse((ROOT / "verify" / "measures.py").read_text())
    malias = imported(mtree, "verify.claims")
    via = {}
    for top in mtree.body:
        names = [t.id for t in getattr(top, "targets", []) if isinstance(t, ast.Name)] + \
                ([top.name] if isinstance(top, (ast.FunctionDef, ast.ClassDef)) else [])
        for name in names:
            via[name] = {malias[n.id] for n in ast.walk(top) if isinstance(n, ast.Name) and n.id in malias}
    used = {}
    for f in sorted((ROOT / "verify").glob("test_*.py")):
        tree = ast.parse(f.read_text())
        alias = {**imported(tree, "verify.claims"),
                 **{k: via.get(v, set()) for k, v in imported(tree, "verify.measures").items()}}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in alias:
                for bound in [alias[node.id]] if isinstance(alias[node.id], str) else alias[node.id]:
                    used.setdefault(bound, set()).add(f.name)
    assert not [b for b in bounds if b not in used], "bounds no test uses"
    text = " ".join(c.conditions for c in CLAIMS)
    quoted = {b: any(q in text for q in (f"{getattr(claims, b):g}", claims._num(getattr(claims, b)),
                                           f"{getattr(claims, b):.0%}")) for b in bounds}
    assert all(quoted.values()), [b for b, q in quoted.items() if not q]


def test_the_sequels_claims_have_their_own_section():
    from verify.report import SECTIONS

    outcomes = {c.id: [{"test": "t", "outcome": "passed", "when": "call", "message": ""}] for c in CLAIMS}
    rows = build(_verdicts(outcomes))
    sequel = [r for r in rows if r["paper"] == "eos"]
    assert {r["id"] for r in sequel} == {"eos-period-doubling", "eos-subspace", "eos-balancing", "eos-depth",
                                          "eos-shallow"}
    md = markdown(rows, _verdicts(outcomes), "t", "c")
    head = md.index(f"## {SECTIONS['eos']}")
    # every sequel row sits in the table after the section heading, every first-paper row before it
    assert all(md.index(f"| `{r['id']}` |") > head for r in sequel)
    assert all(md.index(f"| `{r['id']}` |") < head for r in rows if r["paper"] == "cdln")
    assert md.count("| claim | paper's statement |") == 2


def test_every_sequel_bound_a_condition_quotes_is_asserted_by_a_sequel_test():
    """verify/eos_bounds.py's bounds are quoted by the sequel's conditions and imported by its tests."""
    import ast

    import verify.eos_bounds as eb
    from verify.claims_sequel import SEQUEL_CLAIMS

    bounds = {n: v for n, v in vars(eb).items() if n.isupper() and isinstance(v, (int, float))}
    used = set()
    for f in sorted((ROOT / "verify").glob("test_eos_*.py")):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "verify.eos_bounds":
                used |= {a.name for a in node.names}
    assert not set(bounds) - used, "bounds no sequel test imports"
    text = " ".join(c.conditions for c in SEQUEL_CLAIMS)
    quoted = {b: any(q in text for q in (f"{v:g}", f"{v:.0%}")) for b, v in bounds.items()}
    assert all(quoted.values()), [b for b, q in quoted.items() if not q]

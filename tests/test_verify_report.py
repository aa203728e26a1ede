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
    assert "| [`theorem1`](#theorem1) |" in md and "| instances | 3 |" in md
    outcomes["ode-vs-gd"][0]["outcome"] = "failed"
    f.write_text(json.dumps(_verdicts(outcomes)))
    assert main(["--verdicts", str(f), "--out", str(tmp_path / "rep")]) == 1
    assert "⚠&nbsp;error</span>" in markdown(build(_verdicts(outcomes)), _verdicts(outcomes), "t", "c")


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
    head, first = md.index(f"## {SECTIONS['eos']}"), md.index(f"## {SECTIONS['cdln']}")
    # every sequel claim's section sits after the sequel's heading, every first-paper one between the two
    assert all(md.index(f"\n### {r['id']}\n") > head for r in sequel)
    assert all(first < md.index(f"\n### {r['id']}\n") < head for r in rows if r["paper"] == "cdln")
    assert md.count("| claim | the paper's statement |") == 1  # one verdict table, above both


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


# ---------------------------------------------------------------- the report's layout (issue 15)
import re  # noqa: E402
import shlex  # noqa: E402

import pytest  # noqa: E402

from verify import report as rp  # noqa: E402

REPORTS = ["docs/verification", "docs/verification-deep"]
_LINK = re.compile(r"^\| \[`([^`]+)`\]\(([^)#]*)#([^)]+)\) \| (.*) \| (<span .*</span>) \| (.*) \|$", re.M)


def _passed():
    return {c.id: [{"test": f"t::{c.id}", "outcome": "passed", "when": "call", "message": ""}] for c in CLAIMS}


def _with_counterexample():
    rows = json.loads((ROOT / "docs" / "verification.json").read_text())
    v = _verdicts(_passed())
    v["counterexamples"] = {"corollary1": rows[[r["id"] for r in rows].index("corollary1")]["counterexample"]}
    v["evidence"] = {"corollary1": {"ε^L vs 2Σ_{i>r̂}σ_i": 26, "a list": [1, 2], "a | pipe": "x*y*z"}}
    return v


def _html(md: str) -> str:
    import markdown as mdlib

    return mdlib.markdown(md, extensions=["tables", "admonition", "toc", "pymdownx.superfences", "pymdownx.arithmatex"],
                          extension_configs={"pymdownx.arithmatex": {"generic": True}})


def test_table_and_sections_are_generated_from_the_rows():
    rows = build(_with_counterexample())
    rows[1] = {**rows[1], "summary": "A ROW'S OWN SUMMARY", "conditions_summary": "A ROW'S OWN CONDITION"}
    md = markdown(rows, _with_counterexample(), "t", "c")
    table = {m[0]: m for m in _LINK.findall(md)}
    assert list(table) == [r["id"] for r in rows]  # one row per claim, in the claims' order
    for r in rows:
        _, target, anchor, summary, badge, cond = table[r["id"]]
        assert (target, anchor, summary, cond) == ("", r["anchor"], r["summary"], r["conditions_summary"])
        assert rp.BADGES[r["verdict"]][1] in badge
        assert f"\n### {r['id']}\n" in md and r["conditions"] in md
    assert "A ROW'S OWN SUMMARY" in md and "A ROW'S OWN CONDITION" in md  # the rows, not claims.py, are rendered
    sec = md[md.index("\n### corollary1\n"):md.index("\n### corollary1-eq3\n")]
    # evidence: a table of named numbers, data escaped (no raw TeX braces, no broken cell)
    assert "| ε^L vs 2Σ\\_(i>r̂)σ\\_i | 26 |" in sec and "| a list | \\[1, 2\\] |" in sec and "| a \\| pipe | x\\*y\\*z |" in sec
    # the counterexample: its numbers, the command that rechecks it, every number as stored (valid JSON)
    assert '!!! failure "Counterexample 1: Corollary 1 with r̂ = 1 < r = 2' in sec
    assert "    | eps | 0.1 |" in sec and "    python -m verify.recheck corollary1 1\n" in sec
    stored = sec.split("    ```json\n")[1].split("    ```")[0]
    assert json.loads(stored.replace("\n    ", "\n")) == _with_counterexample()["counterexamples"]["corollary1"][0]
    assert "![" in sec and "(figures/corollary1-map.png)" in sec
    assert "$$\n" + _formula("corollary1") + "\n$$" in sec


def _formula(cid):
    from verify.claims import BY_ID

    assert BY_ID[cid].formula
    return BY_ID[cid].formula


@pytest.mark.parametrize("out", REPORTS)
def test_every_claim_of_the_committed_report_has_a_row_and_a_section_its_link_reaches(out):
    from markdown.extensions.toc import slugify

    rows = json.loads((ROOT / f"{out}.json").read_text())
    md = (ROOT / f"{out}.md").read_text()
    assert [r["id"] for r in rows] == [c.id for c in CLAIMS]
    links = {m[0]: m[2] for m in _LINK.findall(md)}
    assert list(links) == [r["id"] for r in rows]
    headings = {slugify(h, "-") for h in re.findall(r"^### (.+)$", md, re.M)}
    assert set(links.values()) <= headings and all(links[r["id"]] == r["anchor"] for r in rows)
    # rendered: every link of the verdict table lands on an element with that id
    html = _html(md)
    first = html[html.index("<table>"):html.index("</table>")]
    hrefs = re.findall(r'href="#([^"]+)"', first)
    assert len(hrefs) == len(rows) and all(f'id="{h}"' in html for h in hrefs)
    for r in rows:  # every counterexample has its command, and every command names its report
        assert len(r["recheck"]) == len(r["counterexample"] or [])
        for cmd in r["recheck"]:
            assert cmd in md and (out == "docs/verification") == ("--from" not in cmd)
        for f in r["figures"]:
            assert (ROOT / "docs" / f["path"]).is_file() and f"]({f['path']})" in md


@pytest.mark.parametrize("out", REPORTS)
def test_the_committed_report_is_what_its_rows_render(out):
    """docs/verification{,-deep}.md is the rendering of its .json by verify/report.py (no hand edits,
    no drift after a change of wording in verify/claims.py: re-render with --from-json)."""
    rows = json.loads((ROOT / f"{out}.json").read_text())
    assert rp.refresh(rows, out) == rows
    md = (ROOT / f"{out}.md").read_text()
    when = re.search(r"Re-rendered from the committed rows on ([^(]+?) \(", md)
    profile = rows[0]["run"]["profile"]
    title = "Verification report" + ("" if profile == "ci" else f" ({profile} profile)")
    again = markdown(rows, rp._main_run(rows), title, f"cdln verify --profile {profile}", docs=ROOT / "docs",
                     rendered=when[1] if when else None)
    assert again == md


def test_the_home_pages_verdict_table_is_the_generated_one():
    rows = json.loads((ROOT / "docs" / "verification.json").read_text())
    block = rp.home_block_in(ROOT / "docs" / "index.md")
    assert block == rp.home_block(rows)
    assert {m[0] for m in _LINK.findall(block)} == {c.id for c in CLAIMS}
    assert all(m[1] == "verification.md" for m in _LINK.findall(block))


def test_the_readmes_verdict_table_is_the_generated_one_with_links_into_docs():
    rows = json.loads((ROOT / "docs" / "verification.json").read_text())
    block = rp.home_block_in(ROOT / "README.md")
    assert block == rp.home_block(rows, prefix="docs/")
    assert {m[0] for m in _LINK.findall(block)} == {c.id for c in CLAIMS}
    assert all(m[1] == "docs/verification.md" for m in _LINK.findall(block))
    assert rp.link_prefix(ROOT / "README.md", ROOT / "docs") == "docs/"
    assert rp.link_prefix(ROOT / "docs" / "index.md", ROOT / "docs") == ""


def test_update_home_rewrites_only_the_block(tmp_path):
    page = tmp_path / "index.md"
    page.write_text(f"# Home\n\nbefore\n\n{rp.HOME_START}\nstale\n{rp.HOME_END}\n\nafter\n")
    rows = build(_verdicts(_passed()))
    rp.update_home(page, rows)
    text = page.read_text()
    assert text.startswith("# Home\n\nbefore\n\n") and text.endswith("\n\nafter\n") and "stale" not in text
    assert rp.home_block_in(page) == rp.home_block(rows)
    page.write_text("# Home without markers\n")
    with pytest.raises(ValueError, match="home"):
        rp.update_home(page, rows)


@pytest.mark.parametrize("verdict", sorted(rp.BADGES))
def test_each_verdict_has_a_badge_with_a_word_and_a_symbol(verdict):
    sym, word, bg, fg = rp.BADGES[verdict]
    b = rp.badge(verdict)
    assert f"{sym}&nbsp;{word}" in b and f"background:{bg}" in b and f"color:{fg}" in b
    others = [w for v, (_, w, *_) in rp.BADGES.items() if v != verdict]
    assert word not in others and sym not in [s for v, (s, *_) in rp.BADGES.items() if v != verdict]


def test_badge_words_for_every_kind_show_in_the_table():
    outcomes = _passed()
    outcomes["ode-vs-gd"][0]["outcome"] = "failed"
    del outcomes["incremental"]
    rows = {r["id"]: r for r in build(_verdicts(outcomes))}
    table = {m[0]: m[4] for m in _LINK.findall(markdown(list(rows.values()), _verdicts(outcomes), "t", "c"))}
    expect = {"theorem1": "holds", "corollary1": "holds with conditions", "theorem1-alpha": "fails",
              "ode-vs-gd": "error", "incremental": "not run"}
    for cid, word in expect.items():
        assert f"&nbsp;{word}</span>" in table[cid], (cid, table[cid])
    assert rows["ode-vs-gd"]["conditions_summary"] == "1 of 1 tests did not pass"
    with pytest.raises(ValueError, match="verdict"):
        rp.badge("maybe")


def _recheck(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "verify.recheck", *args], capture_output=True, text=True, cwd=cwd,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_the_recheck_command_of_a_stored_counterexample_confirms_it():
    rows = {r["id"]: r for r in json.loads((ROOT / "docs" / "verification.json").read_text())}
    cmd = shlex.split(rows["corollary1"]["recheck"][0])
    assert cmd[:3] == ["python", "-m", "verify.recheck"]
    r = _recheck(*cmd[3:])
    assert r.returncode == 0, r.stderr
    stored = rows["corollary1"]["counterexample"][0]["margin_rechecked_with_numpy"]
    assert "confirmed" in r.stdout and f"{stored:+.6e}" in r.stdout


def test_the_recheck_command_says_when_numbers_do_not_contradict_the_claim(tmp_path):
    rows = json.loads((ROOT / "docs" / "verification.json").read_text())
    c = next(r for r in rows if r["id"] == "corollary1")["counterexample"][0]
    # swap the two networks: the wide net now has the smaller error, so the claim holds on these numbers
    c["wide_layers_W1_to_WL"], c["compressed_layers_W1_to_WL"] = c["compressed_layers_W1_to_WL"], c["wide_layers_W1_to_WL"]
    f = tmp_path / "rows.json"
    f.write_text(json.dumps(rows))
    r = _recheck("corollary1", "1", "--from", str(f))
    assert r.returncode == 1 and "NOT confirmed" in r.stdout


@pytest.mark.parametrize("args,names", [(["no-such-claim", "1"], "claim"), (["theorem1", "1"], "claim"),
                                        (["corollary1", "2"], "index"), (["corollary1", "0"], "index"),
                                        (["corollary1", "one"], "index"),
                                        (["corollary1", "1", "--from", "/nonexistent/r15.json"], "--from")])
def test_the_recheck_command_fails_loudly_on_a_bad_claim_or_index(args, names):
    r = _recheck(*args)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and names in r.stderr and not r.stdout, r.stderr


def test_the_recheck_commands_work_from_any_folder(tmp_path):
    """The report's commands name docs/… paths; run elsewhere (verify importable) they still read the
    repository's reports, and the whole-report form exits 0 there too."""
    rows = {r["id"]: r for r in json.loads((ROOT / "docs" / "verification-deep.json").read_text())}
    for cmd in (rows["corollary1"]["recheck"][0], "python -m verify.recheck corollary1 1"):
        r = _recheck(*shlex.split(cmd)[3:], cwd=tmp_path)
        assert r.returncode == 0 and "confirmed" in r.stdout, (cmd, r.stderr)
    r = _recheck(cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.count("confirmed") == r.stdout.count("\n") > 0, r.stderr


@pytest.mark.parametrize("args", [["/nonexistent/r15.json"], ["docs/verification.md.json"]])
def test_the_whole_report_recheck_fails_loudly_on_a_missing_file(args, tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "verification.md.json").write_text("{}")  # JSON, but not a report's rows
    r = _recheck(*args, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "REPORT.json" in r.stderr and not r.stdout, r.stderr


def test_recheck_commands_name_the_report_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert rp.recheck_command("x", 1, rp._json_path(tmp_path / "docs" / "verification")) == "python -m verify.recheck x 1"
    assert rp._json_path(tmp_path / "docs" / "verification-deep") == "docs/verification-deep.json"
    outside = tmp_path.parent / "elsewhere" / "rep"
    assert rp._json_path(outside) == str(outside.with_suffix(".json"))


def test_a_home_page_without_its_block_leaves_every_file_as_it_was(tmp_path):
    v = tmp_path / "v.json"
    v.write_text(json.dumps(_verdicts(_passed())))
    (tmp_path / "home.md").write_text("# no block\n")
    r = subprocess.run([sys.executable, "-m", "verify.report", "--verdicts", str(v), "--out", str(tmp_path / "rep"),
                        "--home", str(tmp_path / "home.md")], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "home" in r.stderr
    assert not (tmp_path / "rep.json").exists() and not (tmp_path / "rep.md").exists()


def test_stored_raises_value_error_naming_the_argument():
    from verify.recheck import stored

    rows = json.loads((ROOT / "docs" / "verification.json").read_text())
    with pytest.raises(ValueError, match=r"claim: 'nope' .*corollary1"):
        stored(rows, "nope", 1)
    with pytest.raises(ValueError, match=r"index: 4 is out of range for 'theorem2-gd', which has 3 counterexamples \(1 … 3\)"):
        stored(rows, "theorem2-gd", 4)
    assert stored(rows, "theorem2-gd", 3) == next(r for r in rows if r["id"] == "theorem2-gd")["counterexample"][2]


def test_render_from_json_round_trips_and_refuses_rows_claims_py_contradicts(tmp_path):
    v = _with_counterexample()
    f = tmp_path / "v.json"
    f.write_text(json.dumps(v))
    assert main(["--verdicts", str(f), "--out", str(tmp_path / "rep")]) == 0
    first = (tmp_path / "rep.md").read_text()
    assert main(["--from-json", str(tmp_path / "rep.json")]) == 0
    again = (tmp_path / "rep.md").read_text()
    assert re.sub(r" Re-rendered from the committed rows on [^(]+\(`[^`]*`\)\.", "", again) == first
    rows = json.loads((tmp_path / "rep.json").read_text())
    rows[0]["verdict"] = "fails"  # claims.py says theorem1 holds: only a run can settle it
    (tmp_path / "bad.json").write_text(json.dumps(rows))
    r = subprocess.run([sys.executable, "-m", "verify.report", "--from-json", str(tmp_path / "bad.json")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "theorem1" in r.stderr and "cdln verify" in r.stderr
    r = subprocess.run([sys.executable, "-m", "verify.report", "--from-json", str(tmp_path / "none.json")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--from-json" in r.stderr


def test_cdln_verify_render_only_rewrites_the_report_and_the_home_block(tmp_path, monkeypatch):
    import argparse

    from cdln.verify_cmd import verify_command

    (tmp_path / "verify").mkdir()
    (tmp_path / "verify" / "claims.py").write_text("")  # the repository-root marker; the package is ROOT's
    (tmp_path / "docs").mkdir()
    for name in ("verification.json", "verification.md"):
        (tmp_path / "docs" / name).write_text((ROOT / "docs" / name).read_text())
    (tmp_path / "docs" / "index.md").write_text(f"# Home\n\n{rp.HOME_START}\nstale\n{rp.HOME_END}\n")
    (tmp_path / "README.md").write_text(f"# cdln\n\n{rp.HOME_START}\nstale\n{rp.HOME_END}\n")
    (tmp_path / "docs" / "verification.md").write_text("# stale\n" + (ROOT / "docs" / "verification.md").read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    assert verify_command(argparse.Namespace(profile="ci", render_only=True), argparse.ArgumentParser()) == 0
    rows = json.loads((tmp_path / "docs" / "verification.json").read_text())
    assert rp.home_block_in(tmp_path / "docs" / "index.md") == rp.home_block(rows)
    assert rp.home_block_in(tmp_path / "README.md") == rp.home_block(rows, prefix="docs/")
    assert not (tmp_path / "docs" / "verification.md").read_text().startswith("# stale")


def test_every_figure_a_claim_names_is_drawn_by_a_script():
    ids = {c.id for c in CLAIMS}
    assert set(rp.FIGURES) <= ids
    for names in rp.FIGURES.values():
        for n in names:
            assert (ROOT / "docs" / "figures" / f"{n}.py").is_file(), n


def test_every_claim_has_one_line_texts_for_the_table():
    for c in CLAIMS:
        for text in (c.short, c.line):
            assert text and "\n" not in text and "|" not in text and len(re.sub(r"\$[^$]*\$", "xxxx", text)) <= 95, \
                (c.id, text)
            assert text.count("$") % 2 == 0, (c.id, text)
        assert c.claim.count("$") % 2 == 0 and c.conditions.count("$") % 2 == 0, c.id


def test_claims_rerun_alone_replace_only_their_rows(tmp_path):
    """--claims with --merge-into: the named claims' rows come from the new verdict file (their run marked with
    the claims), every other row stays as committed, and the header says which claims were re-run and when."""
    committed = json.loads((ROOT / "docs" / "verification.json").read_text())
    (tmp_path / "rep.json").write_text(json.dumps(committed))
    outcomes = {"theorem2-flow": [{"test": "t::flow", "outcome": "passed", "when": "call", "message": ""}]}
    v = {"profile": "ci", "max_examples": 25, "seconds": 7.0, "generated": "2026-12-02 08:00 UTC", "outcomes": outcomes,
         "evidence": {"theorem2-flow": {"region maps": "fresh"}}, "counterexamples": {}}
    (tmp_path / "v.json").write_text(json.dumps(v))
    args = ["--verdicts", str(tmp_path / "v.json"), "--merge-into", str(tmp_path / "rep.json"), "--out", str(tmp_path / "rep")]
    assert main([*args, "--claims", "theorem2-flow"]) == 0
    rows = {r["id"]: r for r in json.loads((tmp_path / "rep.json").read_text())}
    kept = {r["id"]: r for r in rp.refresh(committed, tmp_path / "rep")}
    assert rows["theorem2-flow"]["evidence"] == {"region maps": "fresh"} and rows["theorem2-flow"]["tests"] == 1
    assert rows["theorem2-flow"]["run"] == {"profile": "ci", "max_examples": 25, "seconds": 7.0,
                                           "generated": "2026-12-02 08:00 UTC", "claims": ["theorem2-flow"]}
    assert all(rows[i] == kept[i] for i in rows if i != "theorem2-flow")
    md = (tmp_path / "rep.md").read_text()
    main_run = committed[0]["run"]
    assert f"Generated by `cdln verify --profile ci` on {main_run['generated']}" in md
    assert ("Re-run alone since: `theorem2-flow` on 2026-12-02 08:00 UTC (7 s, `cdln verify --profile ci --claims "
            "theorem2-flow`)") in md
    # a claim that did not run in the verdict file, an unknown one, or --claims without --merge-into: exit 2
    for extra, msg in ((["--claims", "theorem1"], "no test of ['theorem1'] ran"),
                       (["--claims", "nope"], "unknown claim(s) ['nope']")):
        r = subprocess.run([sys.executable, "-m", "verify.report", *args, *extra], capture_output=True, text=True,
                           cwd=ROOT)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and msg in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "verify.report", "--verdicts", str(tmp_path / "v.json"), "--out",
                        str(tmp_path / "x"), "--claims", "theorem2-flow"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--claims and --merge-into go together" in r.stderr


def test_cdln_verify_claims_refuses_unknown_ids_and_a_missing_report_before_running(tmp_path):
    for args, msg in ((["--claims", "theorem9"], "unknown claim(s) 'theorem9'; valid: assumption1"),
                      (["--claims", "theorem1", "--render-only"], "--render-only runs none")):
        r = subprocess.run([sys.executable, "-m", "cdln", "verify", *args], capture_output=True, text=True, cwd=ROOT)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and msg in r.stderr, r.stderr
    (tmp_path / "verify").mkdir()
    (tmp_path / "verify" / "claims.py").write_text("")
    (tmp_path / "verify" / "test_theorem1.py").write_text('CLAIM = "theorem1"\n')
    r = subprocess.run([sys.executable, "-m", "cdln", "verify", "--profile", "dev", "--claims", "theorem1"],
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 2 and "docs/verification-dev.json, which is missing" in r.stderr, r.stderr



@pytest.mark.parametrize("out", REPORTS)
def test_the_sweep_tables_a_report_cites_have_the_rows_it_says(out):
    """Evidence that cites a committed sweep table ("docs/sweeps/NAME/results.parquet (N rows; …") is from that
    table as committed: a grown or remade sweep needs its claims re-run (`cdln verify --claims ID`)."""
    import pyarrow.parquet as pq

    stale = []
    for r in json.loads((ROOT / f"{out}.json").read_text()):
        for v in r["evidence"].values():
            for m in re.finditer(r"(docs/sweeps/[\w\-]+/results\.parquet) \((\d+) rows", str(v)):
                n = pq.ParquetFile(ROOT / m[1]).metadata.num_rows
                if n != int(m[2]):
                    stale.append(f"{r['id']}: {m[1]} cited with {m[2]} rows, has {n}")
    assert not stale, stale

"""Turn the recorded verdicts of a `pytest verify/` session into docs/verification{,-deep}.md/.json.

    python -m verify.report --verdicts FILE --out docs/verification [--home docs/index.md]
    python -m verify.report --from-json docs/verification.json [--home docs/index.md]
    python -m verify.report --verdicts FILE --claims ID[,ID] --merge-into docs/verification-deep.json --out …

A claim is reported with the verdict of verify/claims.py only if every one of its tests ran and
passed; a claim with a failed or errored test is reported as ``error`` (never as holding), and
one with no test run as ``not-run``.

The page opens with one compact verdict table (claim, the statement in one line, a badge that
reads without colour, the condition in one line), each row linking to the claim's section: the
statement with its formula, the verdict, the conditions, the evidence as a table of named numbers,
every counterexample with its numbers and the one-line command that re-checks it, and the claim's
figures. ``--home`` also writes the same table into the marked block of the home page.

``--from-json`` re-renders a report from its committed rows without running the tests: the
verdicts, evidence and counterexamples are the rows'; the texts (statements, conditions) are
verify/claims.py's, which is allowed only while every row's verdict is still the claim's own.

``--claims`` with ``--merge-into`` replaces only the named claims' rows of a committed report by those of a
verdict file that ran just their tests (``cdln verify --claims``); every other row is kept as committed (as
``--from-json`` would re-render it). Each row carries the run it came from, and the page's header names the
claims re-run since the report's main run, with their date and time.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
from pathlib import Path

from sim.io import atomic_write_text
from verify.claims import BY_ID, CLAIMS

#: the report's sections, one per paper (Claim.paper), in this order
SECTIONS = {"cdln": "The paper: Kwon et al., Efficient Compression of Overparameterized Deep Models through "
                    "Low-Dimensional Learning Dynamics (arXiv 2311.05061)",
            "eos": "The sequel: GD beyond the edge of stability (Ghosh, Kwon, Wang, Ravishankar, Qu, arXiv 2502.20531)"}

#: the figures of docs/figures/ (NAME.png, drawn by NAME.py) that show a claim's region map, law or overlay
FIGURES = {
    "theorem1": ("ode-vs-gd",),
    "corollary1": ("corollary1-map", "corollary1-gap"),
    "corollary1-eq3": ("corollary1-gap",),
    "ode-vs-gd": ("ode-vs-gd",),
    "theorem2-flow": ("theorem2-flow",),
    "theorem2-gd": ("theorem2-gd-map", "theorem2-map"),
    "incremental": ("incremental-map", "alpha-law"),
    "eos-period-doubling": ("eos-bifurcation",),
    "eos-subspace": ("eos-subspace",),
    "eos-balancing": ("eos-balancing",),
    "eos-depth": ("eos-sharpness",),
}

#: verdict -> (symbol, word, background, text colour): the symbol and the word carry the verdict in grey scale
BADGES = {
    "holds": ("✔", "holds", "#d8f0dc", "#0f4d1c"),
    "holds-with-conditions": ("◐", "holds with conditions", "#fdf0c4", "#5c4300"),
    "fails": ("✘", "fails", "#f8d7da", "#6b1019"),
    "error": ("⚠", "error", "#e2e3e5", "#222"),
    "not-run": ("○", "not run", "#e2e3e5", "#222"),
}
VERDICTS = ("holds", "holds-with-conditions", "fails")

#: the home page's generated block lies between these two lines
HOME_START, HOME_END = "<!-- verdicts:start -->", "<!-- verdicts:end -->"
#: the report the recheck command reads when it is not told another one
DEFAULT_JSON = "docs/verification.json"


# ------------------------------------------------------------------ rows
def build(verdicts: dict, out: str | Path | None = None) -> list[dict]:
    """One row per claim of verify/claims.py, in its order, from a verdict file's contents.

    ``out`` (the report's path without suffix) names the JSON the recheck commands read.
    """
    run = {"profile": verdicts.get("profile", "ci"), "max_examples": verdicts.get("max_examples"),
           "seconds": verdicts.get("seconds"), "generated": verdicts.get("generated")}
    rows = []
    for c in CLAIMS:
        outs = verdicts["outcomes"].get(c.id, [])
        failed = [o for o in outs if o["outcome"] != "passed"]
        if not outs:
            verdict, cond = "not-run", "no test of this claim ran"
        elif failed:
            verdict = "error"
            cond = "; ".join(f"{o['test']} {o['outcome']} ({o['when']})" for o in failed)
        else:
            verdict, cond = c.verdict, c.conditions
        cex = verdicts["counterexamples"].get(c.id) or None
        rows.append({"id": c.id, "paper": c.paper, "claim": c.claim, "verdict": verdict, "conditions": cond,
                     "evidence": verdicts["evidence"].get(c.id, {}), "counterexample": cex,
                     "tests_passed": sum(o["outcome"] == "passed" for o in outs), "tests": len(outs), "run": run})
    return [_texts(r, out) for r in rows]


def _texts(row: dict, out) -> dict:
    """The row with its derived fields: one-line texts, formula, anchor, figures, recheck commands."""
    c = BY_ID[row["id"]]
    n_failed = row["tests"] - row["tests_passed"]
    line = {"error": f"{n_failed} of {row['tests']} tests did not pass", "not-run": "no test of this claim ran"}
    src = _json_path(out)
    return {**row, "summary": c.short or c.claim, "conditions_summary": line.get(row["verdict"], c.line),
            "formula": c.formula, "anchor": anchor(c.id),
            "figures": [{"path": f"figures/{n}.png", "script": f"docs/figures/{n}.py"} for n in FIGURES.get(c.id, ())],
            "recheck": [recheck_command(c.id, i, src) for i in range(1, len(row["counterexample"] or []) + 1)]}


def refresh(rows: list[dict], out=None) -> list[dict]:
    """Committed rows with verify/claims.py's current texts, for re-rendering without a run.

    Raises ValueError when the rows and verify/claims.py no longer describe the same claims (a claim
    missing on either side, or a verdict that is not the claim's): then only ``cdln verify`` can say.
    """
    ids = [r.get("id") for r in rows]
    missing, unknown = [c.id for c in CLAIMS if c.id not in ids], [i for i in ids if i not in BY_ID]
    if missing or unknown:
        raise ValueError(f"rows: claims {missing} have no row and rows {unknown} no claim in verify/claims.py; "
                         "run `cdln verify` to make the report again")
    new = []
    for r in sorted(rows, key=lambda r: [c.id for c in CLAIMS].index(r["id"])):
        c = BY_ID[r["id"]]
        if r["verdict"] in VERDICTS and r["verdict"] != c.verdict:
            raise ValueError(f"rows: claim {c.id!r} has verdict {r['verdict']!r} in the rows but {c.verdict!r} in "
                             "verify/claims.py; run `cdln verify` to make the report again")
        r = {**r, "claim": c.claim, "paper": c.paper}
        if r["verdict"] in VERDICTS:
            r["conditions"] = c.conditions
        new.append(_texts(r, out))
    return new


def merge(committed: list[dict], verdicts: dict, claims: list[str], out=None) -> list[dict]:
    """``committed`` report rows with the rows of ``claims`` replaced by those a verdict file (of a run of just
    their tests) gives, each such row's run marked with the claims it re-ran. ValueError names a claim that is
    unknown or whose tests did not run in that file."""
    unknown = [c for c in claims if c not in BY_ID]
    if unknown or not claims:
        raise ValueError(f"--claims: unknown claim(s) {unknown} (valid: {', '.join(c.id for c in CLAIMS)})"
                         if claims else "--claims: no claim named")
    fresh = {r["id"]: r for r in build(verdicts, out)}
    absent = [c for c in claims if fresh[c]["verdict"] == "not-run"]
    if absent:
        raise ValueError(f"--claims: no test of {absent} ran in the verdict file")
    kept = refresh(committed, out)
    return [_texts({**fresh[r["id"]], "run": {**fresh[r["id"]]["run"], "claims": list(claims)}}, out)
            if r["id"] in claims else r for r in kept]


def _main_run(rows: list[dict]) -> dict:
    """The run most rows come from (the report's whole-profile run; rows re-run alone carry ``claims``)."""
    whole = [r["run"] for r in rows if not r["run"].get("claims")]
    return whole[0] if whole else rows[0]["run"]


def _reruns(rows: list[dict], main: dict) -> str:
    """The header's sentence naming the claims re-run apart from ``main`` (empty if none)."""
    seen = {}
    for r in rows:
        if r["run"] != main:
            seen.setdefault(json.dumps(r["run"], sort_keys=True), (r["run"], []))[1].append(r["id"])
    if not seen:
        return ""
    parts = [f"{', '.join(f'`{i}`' for i in ids)} on {run.get('generated')} ({_seconds(run.get('seconds'))}, "
             f"`cdln verify --profile {run['profile']} --claims {','.join(run.get('claims') or ids)}`)"
             for run, ids in seen.values()]
    return " Re-run alone since: " + "; ".join(parts) + "; their sections' evidence is from that run."


def anchor(claim_id: str) -> str:
    """The id of a claim's section heading: the heading is the id, which is already its own slug."""
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", claim_id):
        raise ValueError(f"claim_id: {claim_id!r} is not a lower-case slug (letters, digits, single hyphens)")
    return claim_id


def recheck_command(claim_id: str, index: int, source=None) -> str:
    """The one-line command that re-checks a stored counterexample (``index`` from 1) with NumPy alone."""
    src = "" if source in (None, DEFAULT_JSON) else f" --from {source}"
    return f"python -m verify.recheck {claim_id} {index}{src}"


def _json_path(out) -> str | None:
    """The JSON the recheck commands name: relative to the working directory (the repository root, where
    the commands run) when it lies under it, so that the page does not depend on how ``--out`` was spelled."""
    if out is None:
        return None
    p = Path(out).with_suffix(".json")
    if p.is_absolute():
        try:
            p = p.resolve().relative_to(Path.cwd().resolve())
        except ValueError:  # outside the working directory: only its absolute path names it
            pass
    return p.as_posix()


def _seconds(s) -> str:
    return "time not recorded" if s is None else f"{s:.0f} s"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ------------------------------------------------------------------ Markdown
def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _data(text) -> str:
    """A measured name or value (data, not Markdown): Markdown's specials escaped, and X^{…} / X_{…}
    written X^(…) / X_(…), so that no raw TeX shows in the text."""
    s = re.sub(r"([\^_])\{([^{}]*)\}", r"\1(\2)", str(text))
    return re.sub(r"([\\`*_\[\]|])", r"\\\1", s).replace("<", "&lt;")


def _value(v) -> str:
    return _data(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))


def badge(verdict: str) -> str:
    """The verdict as a badge: a symbol and a word on a tinted background (inline style, no CSS file)."""
    if verdict not in BADGES:
        raise ValueError(f"verdict: {verdict!r} is not one of {sorted(BADGES)}")
    sym, word, bg, fg = BADGES[verdict]
    return (f'<span class="cdln-verdict cdln-{verdict}" style="background:{bg};color:{fg};font-weight:700;'
            f'padding:0 .35em;border-radius:.25em">{sym}&nbsp;{word}</span>')


def verdict_table(rows: list[dict], link: str = "") -> str:
    """The compact table: one short line per cell, the claim linking to its section (``link`` + #anchor)."""
    out = ["| claim | the paper's statement | verdict | where it holds |", "|---|---|---|---|"]
    for r in rows:
        out.append(f"| [`{r['id']}`]({link}#{r['anchor']}) | {_cell(r['summary'])} | {badge(r['verdict'])} | "
                   f"{_cell(r['conditions_summary'])} |")
    return "\n".join(out)


def _counterexample(r: dict, i: int, c: dict) -> list[str]:
    scalars = {k: v for k, v in c.items() if k != "statement" and not isinstance(v, (list, dict))}
    arrays = {k: v for k, v in c.items() if isinstance(v, (list, dict))}
    title = str(c.get("statement", "")).replace('"', "'")
    body = ["| number | value |", "|---|---|"] + [f"| {_data(k)} | {_value(v)} |" for k, v in scalars.items()]
    if arrays:
        body += ["", "Matrices (nested lists, row by row): " + ", ".join(f"{_data(k)} {_shape(v)}"
                                                                          for k, v in arrays.items()) + "."]
    body += ["", "Re-check it from these numbers with NumPy alone (exit status 0: it still fails the claim):", "",
             "```bash", r["recheck"][i - 1], "```", "", "Every number, as stored:", "", "```json",
             "{\n" + ",\n".join(f" {json.dumps(k, ensure_ascii=False)}: {json.dumps(v, ensure_ascii=False)}"
                                for k, v in c.items()) + "\n}", "```"]
    lines = [ln for b in body for ln in b.split("\n")]
    return [f'!!! failure "Counterexample {i}: {title}"', ""] + [("    " + b) if b else "" for b in lines] + [""]


def _shape(v) -> str:
    dims = []
    while isinstance(v, list):
        dims.append(str(len(v)))
        v = v[0] if v else None
    return "×".join(dims) if dims else "(object)"


def section(r: dict, docs: Path | None = None) -> str:
    """A claim's section: statement (+ display formula), verdict, conditions, evidence, counterexamples, figures."""
    out = [f"### {r['id']}", "", f"**Statement.** {r['claim']}", ""]
    if r.get("formula"):
        out += ["$$", r["formula"], "$$", ""]
    out += [f"**Verdict:** {badge(r['verdict'])} — tests: {r['tests_passed']} of {r['tests']} passed.", "",
            f"**Conditions.** {r['conditions']}", ""]
    if r["evidence"]:
        out += ["**Evidence** (measured in this run):", "", "| name | value |", "|---|---|"]
        out += [f"| {_data(k)} | {_value(v)} |" for k, v in r["evidence"].items()] + [""]
    for i, c in enumerate(r["counterexample"] or [], 1):
        out += _counterexample(r, i, c)
    figs = [f for f in r.get("figures", []) if docs is None or (docs / f["path"]).is_file()]
    for f in figs:
        title = _figure_title(docs, f)
        out += [f"![{_data(title)}]({f['path']})", "", f"*Figure: {_data(title)}* (drawn by `{f['script']}`).", ""]
    return "\n".join(out)


def _figure_title(docs, f) -> str:
    meta = None if docs is None else (docs / f["path"]).with_suffix(".json")
    if meta is not None and meta.is_file():
        try:
            return json.loads(meta.read_text()).get("title") or Path(f["path"]).stem
        except ValueError:
            pass
    return Path(f["path"]).stem


def markdown(rows: list[dict], verdicts: dict, title: str, command: str, docs: Path | None = None,
             rendered: str | None = None) -> str:
    """The report page. ``docs``: the folder the page lives in (figures are linked only where their PNG is)."""
    when = verdicts.get("generated") or _now()
    again = f" Re-rendered from the committed rows on {rendered} (`python -m verify.report --from-json`)." \
        if rendered else ""
    again += _reruns(rows, verdicts)
    out = [f"# {title}", "",
           f"Generated by `{command}` on {when} (hypothesis profile `{verdicts['profile']}`, up to "
           f"{verdicts['max_examples']} examples per search, {_seconds(verdicts.get('seconds'))}).{again} Every verdict is "
           "backed by the tests in `verify/test_<id>.py`; a claim whose tests did not all pass is reported as "
           "`error`. Each counterexample is written out in full in its claim's section, with the one-line command "
           "that re-checks it with NumPy alone. What a verdict says, and what it does not: "
           "[reading a verdict](reading-a-verdict.md).", "",
           "## Verdicts", "", verdict_table(rows), ""]
    for paper, heading in SECTIONS.items():
        group = [r for r in rows if r.get("paper", "cdln") == paper]
        if group:
            out += [f"## {heading}", ""] + [section(r, docs) for r in group]
    return "\n".join(out)


def home_block(rows: list[dict], report: str = "verification.md", prefix: str = "") -> str:
    """The home page's block: the verdict table linking into ``report``, between the two marker lines.
    ``prefix`` is the docs folder as the page reaches it (``docs/`` from the README)."""
    run = rows[0].get("run", {}) if rows else {}
    report = prefix + report
    return "\n".join([HOME_START, "", verdict_table(rows, link=report), "",
                      f"From the [verification report]({report}) (hypothesis profile `{run.get('profile', '?')}`, "
                      f"{run.get('generated', '?')}); each claim links to its section there. "
                      f"[Reading a verdict]({prefix}reading-a-verdict.md) says what the three verdicts mean.", "",
                      HOME_END])


def link_prefix(page: str | Path, docs: str | Path) -> str:
    """The docs folder as a relative link from ``page`` ("" for a page inside it, "docs/" for the README)."""
    rel = os.path.relpath(Path(docs).absolute(), Path(page).absolute().parent)
    return "" if rel == "." else rel.replace(os.sep, "/") + "/"


def with_home_block(path: str | Path, rows: list[dict], prefix: str = "") -> str:
    """The page's text with its marked block replaced by :func:`home_block` (nothing is written).
    Raises ValueError unless the page has exactly one block."""
    path = Path(path)
    text = path.read_text()
    if text.count(HOME_START) != 1 or text.count(HOME_END) != 1 or text.index(HOME_START) > text.index(HOME_END):
        raise ValueError(f"home: {str(path)!r} needs exactly one {HOME_START} … {HOME_END} block")
    head, rest = text.split(HOME_START)
    _, tail = rest.split(HOME_END)
    return head + home_block(rows, prefix=prefix) + tail


def update_home(path: str | Path, rows: list[dict], prefix: str = "") -> None:
    """Replace a page's marked block with :func:`home_block` (atomically)."""
    _atomic(Path(path), with_home_block(path, rows, prefix))


def home_block_in(path: str | Path) -> str:
    """The marked block as the home page has it now (markers included)."""
    text = Path(path).read_text()
    i, j = text.index(HOME_START), text.index(HOME_END)
    return text[i:j + len(HOME_END)]


# ------------------------------------------------------------------ terminal
_TEX = {r"\hat r": "r̂", r"\varepsilon": "ε", r"\eta": "η", r"\alpha": "α", r"\beta": "β", r"\sigma": "σ",
        r"\le": "≤", r"\ge": "≥", r"\ne": "≠", r"\sum": "Σ", r"\times": "×", r"\dim": "dim", r"\delta": "δ",
        r"\mathrm": "", r"\lVert": "‖", r"\rVert": "‖", r"\,": " ", r"\#": "#", r"\{": "{", r"\}": "}"}


def plain(tex: str) -> str:
    """A one-line text with its LaTeX spelled in Unicode, for the terminal."""
    s = re.sub(r"\\(?:mathrm|text)\{([^{}]*)\}", r"\1", tex.replace("$", ""))
    for k in sorted(_TEX, key=len, reverse=True):
        s = s.replace(k, _TEX[k])
    return s.replace("\\", "")


def table(rows: list[dict]) -> str:
    w = max(len(r["id"]) for r in rows)
    lines = [f"{'claim':<{w}}  verdict                  condition"]
    for r in rows:
        cond = plain(r.get("conditions_summary") or r["conditions"])
        cond = cond if len(cond) < 90 else cond[:87] + "..."
        lines.append(f"{r['id']:<{w}}  {r['verdict']:<23}  {cond}")
    return "\n".join(lines)


_atomic = atomic_write_text


# ------------------------------------------------------------------ command line
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def write(rows: list[dict], run: dict, out: Path, title: str | None, command: str | None, home=None,
          rendered: str | None = None) -> None:
    """Write OUT.json and OUT.md (and the home pages' blocks), each atomically. Every text is made first,
    so a home page without its block (ValueError) leaves every file as it was."""
    profile = run["profile"]
    title = title or "Verification report" + ("" if profile == "ci" else f" ({profile} profile)")
    command = command or f"cdln verify --profile {profile}"
    pages = [home] if isinstance(home, (str, Path)) else list(home or [])
    texts = {page: with_home_block(page, rows, prefix=link_prefix(page, out.parent)) for page in pages}
    texts = {out.with_suffix(".json"): json.dumps(rows, indent=1, ensure_ascii=False),
             out.with_suffix(".md"): markdown(rows, run, title, command, docs=out.parent, rendered=rendered), **texts}
    for path, text in texts.items():
        _atomic(Path(path), text)


def main(argv=None) -> int:
    ap = _Parser(prog="python -m verify.report")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--verdicts", help="a verdict file recorded by `pytest verify/` (CDLN_VERDICTS)")
    src.add_argument("--from-json", help="re-render from a report's committed rows (OUT.json), without running tests")
    ap.add_argument("--out", help="path without suffix: writes OUT.md and OUT.json (default with --from-json: "
                                  "that file's path without .json)")
    ap.add_argument("--home", action="append", default=[],
                    help="also write the verdict table into this page's marked block (docs/index.md, README.md; "
                         "repeatable; links are made relative to the page)")
    ap.add_argument("--claims", default=None,
                    help="with --verdicts and --merge-into: the comma-separated claims whose rows the verdict file "
                         "replaces (the others stay as committed)")
    ap.add_argument("--merge-into", default=None, help="the committed report rows (OUT.json) that --claims updates")
    ap.add_argument("--title", default=None, help="page title (default: from the profile)")
    ap.add_argument("--command", default=None, help="the command quoted as the report's origin (default: from the profile)")
    a = ap.parse_args(argv)
    if a.verdicts is None and a.out is None:
        a.out = str(Path(a.from_json).with_suffix(""))
    if a.out is None:
        ap.error("--out is required with --verdicts")
    if (a.claims is None) != (a.merge_into is None) or (a.claims is not None and a.verdicts is None):
        ap.error("--claims and --merge-into go together, with --verdicts")
    if a.merge_into is not None and not Path(a.merge_into).is_file():
        ap.error(f"--merge-into: no such file {a.merge_into!r}")
    out = Path(a.out)
    given = Path(a.verdicts or a.from_json)
    if not given.is_file():
        ap.error(f"{'--verdicts' if a.verdicts else '--from-json'}: no such file {str(given)!r}")
    for page in a.home:
        if not Path(page).is_file():
            ap.error(f"--home: no such file {page!r}")
    try:
        data = json.loads(given.read_text())
        if a.verdicts and a.claims is not None:
            base = Path(a.merge_into).with_suffix("")
            committed = [{**r, "run": r.get("run") or _run_from_page(base)} for r in json.loads(Path(a.merge_into).read_text())]
            rows, rendered = merge(committed, {**data, "generated": data.get("generated") or _now()},
                                   [c.strip() for c in a.claims.split(",") if c.strip()], out), None
        elif a.verdicts:
            rows, rendered = build({**data, "generated": data.get("generated") or _now()}, out), None
        else:
            if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
                raise ValueError(f"--from-json: {str(given)!r} is not a list of report rows")
            rows, rendered = refresh([{**r, "run": r.get("run") or _run_from_page(out)} for r in data], out), _now()
        write(rows, _main_run(rows), out, a.title, a.command, home=a.home, rendered=rendered)
    except ValueError as exc:
        ap.exit(2, f"{ap.prog}: error: {str(exc).splitlines()[0]}\n")
    print(table(rows))
    return 0 if all(r["verdict"] in VERDICTS for r in rows) else 1


_HEADER = re.compile(r"Generated by `[^`]*` on (?P<generated>[^(]+?) \(hypothesis profile `(?P<profile>[^`]+)`, up to "
                     r"(?P<max_examples>\d+) examples per search, (?P<seconds>[\d.]+) s\)")


def _run_from_page(out: Path) -> dict:
    """The run's profile, size and date for rows written before they carried them: from the page's header."""
    page = out.with_suffix(".md")
    m = _HEADER.search(page.read_text()) if page.is_file() else None
    if m is None:
        raise ValueError(f"--from-json: the rows carry no 'run' and {str(page)!r} has no header to take it from")
    return {"profile": m["profile"], "max_examples": int(m["max_examples"]), "seconds": float(m["seconds"]),
            "generated": m["generated"].strip()}


if __name__ == "__main__":
    raise SystemExit(main())

"""Every example in README.md and docs/*.md runs, and shows the effect it illustrates (issue 15, item 6).

The code blocks are read from the pages themselves: each ```python block is executed (top-level expression
statements are evaluated and kept, so a check can read what a line returns), each ```bash block is split
into commands — ``cdln …`` runs in this process through :func:`cdln.cli.main`, ``python -m verify.recheck …``
through that module's ``main``, any other line (``echo … > my_run.json``) through bash. Everything runs in one
scratch folder shared by this module (its ``runs/`` is the store: the repository's is never touched, and two
pages that give the same command share the run), except the re-check commands, which read the committed
report and so run from the repository root. A block's checks (``CHECKS``) then assert what it claims.

Not run, with the reason beside each:

* a block preceded by ``<!-- no-test: reason -->`` (used only in the pages this test's authors own);
* programs in ``SKIP_PROGRAMS`` (``make``, ``mkdocs``, ``dask``) and ``cdln`` commands in ``SKIP_COMMANDS``
  (minutes or hours of work, a cluster, or a command that rewrites committed files).

Files that a command names and a reader brings are made here (``FIXTURES``): ``ratings.csv`` (a small
synthetic rank-3 ratings matrix), ``spec.toml`` (the example spec of docs/sweeps.md); a ```toml block whose
first line is ``# NAME.toml`` is written to NAME.toml before any block runs.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import re
import shlex
import subprocess
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
NO_TEST = re.compile(r"<!--\s*no-test\b[^>]*-->\s*$")

#: programs never run here: what they do is run elsewhere in the suite or needs more than this machine
SKIP_PROGRAMS = {
    "make": "sets the machine up and runs everything (minutes); `make test` runs this very test",
    "mkdocs": "builds the site: tests/test_docs_site.py builds it with --strict and opens it in Chromium",
    "dask": "starts a Dask scheduler or workers (a cluster)",
}
#: other commands not run: (leading tokens, reason)
SKIP_PREFIXES = [
    (("python", "-m", "verify.report"), "rewrites docs/verification*.md and docs/index.md from the committed rows "
                                         "(tests/test_verify_report.py checks that rendering)"),
]
#: cdln commands not run: (tokens that must all appear in the command, reason)
SKIP_COMMANDS = [
    (("bench",), "a benchmark: minutes of timing on a quiet machine (with --markdown it rewrites docs/)"),
    (("figures", "--fast"), "draws figures (minutes) into docs/figures/; tests/test_figures.py draws them small"),
    (("figures", "--paper"), "the paper's settings: hours on a CPU"),
    (("table1",), "trains MLPs and ViTs on image data (minutes); tests/test_nonlinear.py covers it small"),
    (("verify",), "runs verify/ (minutes) and rewrites docs/verification.*; the suite runs verify/ itself"),
    (("--scheduler",), "needs a running Dask cluster at that address"),
    (("--d", "100000"), "the scale demo: 10^7 observations at ~0.3 s a step; tests/test_sparse.py checks the "
                        "sparse path against the dense one"),
]
#: `cdln figures` with neither --fast nor --paper draws every figure at full settings
SKIP_COMMANDS.append((("figures",), "draws every figure at its full settings (hours)"))


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    body: str
    skip: str | None = None  # the no-test marker's reason

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass
class Result:
    values: dict = field(default_factory=dict)     #: python: source line of each top-level expression -> its value
    namespace: dict = field(default_factory=dict)  #: python: the block's globals
    commands: list = field(default_factory=list)   #: bash: (tokens, exit code, stdout) per command run


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = NO_TEST.search(before)
        out.append(Block(page, text[: m.start()].count("\n") + 1, m["lang"], textwrap.dedent(m["body"]),
                         marker.group(0) if marker else None))
    return out


def runnable(b: Block) -> bool:
    return b.lang == "python" or (b.lang in ("bash", "sh") and bool(commands_of(b.body)))


def commands_of(body: str) -> list[str]:
    """The block's command lines, continuations joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", body)
    return [ln.strip() for ln in joined.splitlines() if shlex.split(ln, comments=True)]


def skip_reason(tokens: list[str]) -> str | None:
    if tokens[0] in SKIP_PROGRAMS:
        return SKIP_PROGRAMS[tokens[0]]
    for lead, why in SKIP_PREFIXES:
        if tuple(tokens[: len(lead)]) == lead:
            return why
    if tokens[0] == "cdln":
        if tokens[1:3] == ["figures", "--list"]:
            return None
        for need, why in SKIP_COMMANDS:
            if all(t in tokens for t in need):
                return why
    return None


ALL = [b for p in PAGES for b in blocks(p) if runnable(b)]


# ---------------------------------------------------------------------------------------------- running
def run_python(body: str, cwd: Path) -> Result:
    tree = ast.parse(body)
    res = Result(namespace={"__name__": "__example__"})
    lines = body.splitlines()
    with contextlib.chdir(cwd):
        for node in tree.body:
            src = "\n".join(lines[node.lineno - 1: node.end_lineno])
            if isinstance(node, ast.Expr):
                res.values[src.split("#")[0].strip()] = eval(compile(ast.Expression(node.value), "<example>", "eval"),
                                                             res.namespace)
            else:
                exec(compile(ast.Module([node], []), "<example>", "exec"), res.namespace)
    return res


def run_command(line: str, cwd: Path) -> tuple[list[str], int, str]:
    tokens = shlex.split(line, comments=True)
    buf = io.StringIO()
    if tokens[0] == "cdln":
        from cdln.cli import main

        if tokens[1:3] == ["figures", "--list"]:  # lists the scripts of docs/figures/: read-only, from the repository root
            cwd = ROOT
        with contextlib.chdir(cwd), contextlib.redirect_stdout(buf):
            try:
                code = main(tokens[1:])
            except SystemExit as exc:
                code = exc.code
        return tokens, code, buf.getvalue()
    if tokens[:3] == ["python", "-m", "verify.recheck"]:  # reads the committed report: from the repository root
        mod = importlib.import_module("verify.recheck")
        with contextlib.chdir(ROOT), contextlib.redirect_stdout(buf):
            try:
                code = mod.main(tokens[3:])
            except SystemExit as exc:
                code = exc.code
        return tokens, code, buf.getvalue()
    r = subprocess.run(line, shell=True, cwd=cwd, capture_output=True, text=True, executable="/bin/bash")
    return tokens, r.returncode, r.stdout + r.stderr


class Session:
    """Runs the blocks of a page in order, once each (a later block may read what an earlier one made)."""

    def __init__(self, work: Path):
        self.work = work
        self.done: dict[str, Result | BaseException] = {}

    def result(self, b: Block) -> Result:
        for earlier in [x for x in ALL if x.page == b.page and x.line < b.line and x.skip is None]:
            self._once(earlier)  # its failure is its own test's to report
        self._once(b)
        out = self.done[b.id]
        if isinstance(out, BaseException):
            raise out
        return out

    def _once(self, b: Block) -> None:
        if b.id not in self.done:
            try:
                self._run(b)
            except Exception as exc:  # noqa: BLE001  (kept, and raised by the block's own test)
                self.done[b.id] = exc

    def _run(self, b: Block) -> None:
        if b.lang == "python":
            self.done[b.id] = run_python(b.body, self.work)
            return
        res = Result()
        for line in commands_of(b.body):
            tokens = shlex.split(line, comments=True)
            if skip_reason(tokens) is None:
                t, code, out = run_command(line, self.work)
                assert code == 0, f"{b.id}: `{line}` exited {code}:\n{out}"
                res.commands.append((t, code, out))
        self.done[b.id] = res


def _fixtures(work: Path) -> None:
    rng = np.random.default_rng(0)
    n1, n2, r = 60, 50, 3
    M = rng.standard_normal((n1, r)) @ rng.standard_normal((r, n2)) / 5.0  # σ* ≈ 5–11: stable at the docs' η
    rows, cols = np.nonzero(rng.random((n1, n2)) < 0.4)
    pd.DataFrame({"row": rows, "column": cols, "value": M[rows, cols]}).to_csv(work / "ratings.csv", index=False)
    for page in PAGES:  # named files: a ```toml block whose first line is "# NAME.toml"
        for b in blocks(page):
            first = b.body.splitlines()[0].strip() if b.body.strip() else ""
            if b.lang == "toml" and re.fullmatch(r"#\s*[\w.-]+\.toml", first):
                (work / first.lstrip("#").strip()).write_text(b.body)
    (work / "spec.toml").write_text((work / "alpha.toml").read_text())  # README's spec.toml: docs/sweeps.md's


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    work = tmp_path_factory.mktemp("examples")
    _fixtures(work)
    return Session(work)


# ---------------------------------------------------------------------------------------------- checks
def _runs(res: Result, session: Session, *need: str):
    """The finished runs of the block's `cdln run` commands that contain all of ``need``."""
    import sim

    for tokens, _, out in res.commands:
        if tokens[:2] == ["cdln", "run"] and all(n in tokens for n in need):
            path = out.rsplit("→", 1)[1].strip()
            yield tokens, out, sim.load_run(session.work / path)


def _all_modes_fitted(res, session, *need):
    """Every `cdln run` of the block containing ``need`` fitted all of its target's modes, and says so."""
    found = False
    for tokens, out, run in _runs(res, session, *need):
        found = True
        m = run.summary["modes"]
        assert m["target_modes"] and m["fitted"] == [m["target_modes"]] * len(m["fitted"]), (tokens, m)
        assert f"{m['target_modes']}/{m['target_modes']} target modes fitted" in out
        err = run.metrics.groupby("step").recovery_error.mean()
        # from 1 at the ε start to the error left once every mode is within 1% of σ*_i (below 1%)
        assert err.iloc[0] > 0.99 and err.iloc[-1] < 1e-2, (tokens, err.iloc[[0, -1]])
    assert found, need


def _held_out_error_falls(res, session, *need):
    found = False
    for tokens, out, run in _runs(res, session, *need):
        found = True
        e = run.metrics.groupby("step").test_error.mean()
        assert e.iloc[-1] < 0.5 * e.iloc[0], (tokens, e.iloc[[0, -1]])  # learned, not a rounding-level change
        assert "no known target" in out
    assert found, need


def _normalise(line: str) -> str:
    return re.sub(r"[\d.]+ s training", "T s training", line.split("→")[0]).strip()


_FLOAT = re.compile(r"\d+(?:\.\d+)?e[-+]?\d+")


def _same_line(got: str, quoted: str) -> None:
    """The printed closing line against the quoted one: the same words and counts; numbers in e-notation (the
    final train loss and recovery error, at the rounding floor after every mode is fitted) to their order only,
    within a factor 100: they come from sums whose order the BLAS picks, which differs between machines
    (MKL or OpenBLAS, Intel or AMD), and at 1e-11 relative that changes leading digits."""
    assert _FLOAT.sub("X", got) == _FLOAT.sub("X", quoted), (got, quoted)
    for a, b in zip(_FLOAT.findall(got), _FLOAT.findall(quoted)):
        assert abs(np.log10(float(a)) - np.log10(float(b))) <= 2, (a, b, got)


def check_readme_runs(res: Result, session: Session) -> None:
    readme = (ROOT / "README.md").read_text()
    bare = [out for tokens, _, out in res.commands if tokens == ["cdln", "run"]]
    assert bare, "the README's first command is a bare `cdln run`"
    quoted = re.search(r"```text\n(factorization/compressed: .*?)\n```", readme).group(1)
    _same_line(_normalise(bare[0]), _normalise(quoted))  # the closing line the README quotes is the one it prints
    assert "10/10 target modes fitted" in bare[0]
    for need in (("--problem", "completion"), ("--mode", "flow")):
        _all_modes_fitted(res, session, *need)
    _held_out_error_falls(res, session, "movielens")
    short = re.search(r"e\.g\. `cdln run --steps 20000`: `(.*?)`", " ".join(readme.split()))
    _, code, out = run_command("cdln run --steps 20000", session.work)  # the stop-short line it quotes
    assert code == 0 and short is not None and short.group(1) in out, out


def check_readme_theory(res: Result, session: Session) -> None:
    v = res.values
    spec = v["theory.compressed_spectrum([3.0, 1.0], depth=3, eps=0.1, eta=0.01, steps=2000, rank_hat=3, every=1000)"]
    flow = v["theory.flow_spectrum([3.0, 1.0], [0.0, 10.0, 20.0], depth=3, eps=0.1, rank_hat=3)"]
    assert np.all(spec[-1, :2] >= 0.99 * np.array([3.0, 1.0])) and spec[-1, 2] < spec[0, 2]  # fitted; β mode decays
    # GD and the flow at the same times t = η·steps agree to O(η) = 1e-2 (the Euler step's local error)
    assert np.max(np.abs(spec - flow) / np.array([3.0, 1.0, 1e-3])) < 1e-2
    assert v["theory.critical_step_size(19.6, depth=3, alpha=5)"] < v["theory.critical_step_size(19.6, depth=3)"]
    t = v["theory.fit_time([3.0, 1.0], depth=3, eps=0.1)"]
    assert t[0] < t[1]  # the larger mode is fitted first: incremental learning
    assert v["theory.symbolic.recurrence_matches_paper(3)"] == {"alpha=1": True, "any alpha": False}


def check_readme_sim(res: Result, session: Session) -> None:
    r = res.namespace["r"]
    err = r.metrics.recovery_error.to_numpy()
    assert err[0] > 0.99 and err[-1] < 1e-3  # the comment's "1.0 → 6e-4", to its order
    assert r.singular_values.shape[:2] == (400 // 20 + 1, 1)  # steps 0, 20, …, 400; one seed


def check_sparse(res: Result, session: Session) -> None:
    _held_out_error_falls(res, session, "ratings")


def check_sweep_commands(res: Result, session: Session) -> None:
    outs = {" ".join(t[1:]): out for t, _, out in res.commands}
    dry = next(o for k, o in outs.items() if "--dry-run" in k)
    assert "36 runs" in dry  # as docs/sweeps.md counts them
    spec = next(t[2] for t, _, _ in res.commands if "--dry-run" in t)
    import tomllib

    import sweep

    # "in 6 batched runs": the plan against an empty store (this module's may hold them already: README's
    # spec.toml is the same spec)
    parsed = sweep.parse_spec({**tomllib.loads((session.work / spec).read_text()),
                               "store": str(session.work / "empty-store")})
    assert len(parsed.points) == 36 and len(sweep.plan_of(parsed)[1].todo) == 6
    df = pd.read_parquet(session.work / "runs" / "sweeps" / Path(spec).stem / "results.parquet")
    assert len(df) == 36 and (df.status == "completed").all()


def check_sweep_python(res: Result, session: Session) -> None:
    ns = res.namespace
    df, row, cfg = ns["df"], ns["row"], ns["cfg"]
    assert cfg.key() == row.key and len(df) == 36  # the comment's claim; 36 rows as the page counts
    assert ns["run"].config["key"] == row.store_key
    # at a larger α every mode is fitted sooner: fit_steps non-increasing in α, mode by mode
    for _, g in df.groupby(["depth", "rank", "seed"]):
        steps = np.stack(g.sort_values("alpha").fit_steps.to_list())
        assert (steps >= 0).all() and np.all(np.diff(steps, axis=0) <= 0), steps


def check_recheck(res: Result, session: Session) -> None:
    for tokens, code, out in res.commands:
        assert code == 0 and "confirmed" in out and "NOT confirmed" not in out, (tokens, out)


#: (page, a line of the block) -> what the block shows
CHECKS = {
    ("README.md", "theory.symbolic.recurrence_matches_paper(3)"): check_readme_theory,
    ("README.md", "cdln run --problem completion --model compressed --rank-hat 20"): check_readme_runs,
    ("README.md", "r = sim.run(sim.RunConfig(problem=\"sensing\""): check_readme_sim,
    ("README.md", "--ratings-file ratings.csv"): check_sparse,
    ("README.md", "cdln sweep spec.toml --dry-run"): check_sweep_commands,
    ("docs/simulation.md", "--eps 1e-2 --eta 10 --loss mean --alpha 5 --steps 6000 --seeds 8"):
        lambda res, s: _all_modes_fitted(res, s),
    ("docs/simulation.md", "--ratings-file ratings.csv"): check_sparse,
    ("docs/sweeps.md", "cdln sweep alpha.toml --dry-run"): check_sweep_commands,
    ("docs/sweeps.md", "df = pd.read_parquet(\"runs/sweeps/alpha/results.parquet\")"): check_sweep_python,
    ("docs/index.md", "cdln run --problem completion"): lambda res, s: _all_modes_fitted(res, s, "completion"),
    ("docs/verification.md", "python -m verify.recheck"): check_recheck,
    ("docs/verification-deep.md", "python -m verify.recheck"): check_recheck,
}
#: blocks in pages this test's authors do not own that do not show their effect yet: (page, line) -> reason.
#: Strict: once a page is fixed the test fails until its entry is removed.
KNOWN_GAPS: dict = {}  # (page, a line of the block) -> why it does not show its effect yet (a strict xfail)


def _checks_for(b: Block):
    page = str(b.page.relative_to(ROOT))
    return [f for (p, needle), f in CHECKS.items() if p == page and needle in b.body]


def _params():
    out = []
    for b in ALL:
        page = str(b.page.relative_to(ROOT))
        marks = []
        if b.skip:
            marks.append(pytest.mark.skip(reason=b.skip))
        gap = [why for (p, needle), why in KNOWN_GAPS.items() if p == page and needle in b.body]
        if gap:
            marks.append(pytest.mark.xfail(reason=gap[0], strict=True))
        out.append(pytest.param(b, id=b.id, marks=marks))
    return out


@pytest.mark.parametrize("block", _params())
def test_example_runs_and_shows_its_effect(block, session):
    res = session.result(block)
    for check in _checks_for(block):
        check(res, session)


# ---------------------------------------------------------------------------------------------- the runner itself
def test_every_page_with_examples_is_seen_and_every_check_finds_its_block():
    pages = {str(b.page.relative_to(ROOT)) for b in ALL}
    assert {"README.md", "docs/simulation.md", "docs/sweeps.md", "docs/index.md"} <= pages
    for (page, needle) in [*CHECKS, *KNOWN_GAPS]:
        assert any(str(b.page.relative_to(ROOT)) == page and needle in b.body for b in ALL), (page, needle)


def test_skips_are_the_documented_ones_only():
    # every command that is not run has a reason; nothing else is dropped
    for b in ALL:
        if b.lang == "python" or b.skip:
            continue
        for line in commands_of(b.body):
            tokens = shlex.split(line, comments=True)
            why = skip_reason(tokens)
            assert why is None or isinstance(why, str) and why
    assert skip_reason(["cdln", "run"]) is None and skip_reason(["cdln", "figures", "--list"]) is None
    assert skip_reason(["cdln", "figures", "--fast", "fig5"]) and skip_reason(["make", "run"])
    assert commands_of("cdln run --a 1 \\\n   --b 2   # note\n\n# only a comment\necho x") == \
        ["cdln run --a 1  --b 2   # note", "echo x"]

"""`cdln verify [--profile ci|dev|deep] [--render-only | --claims ID[,ID]]`: run verify/ under a hypothesis profile,
then write the report.

Runs from the repository root (verify/ is the test suite, not an installed package):
``pytest verify/`` with HYPOTHESIS_PROFILE set records verdicts; ``python -m verify.report``
turns them into docs/verification.md/.json (``ci``, which also rewrites the verdict table of the
home page, docs/index.md), or docs/verification-<profile>.md/.json. With ``--render-only`` no test
runs: the report is re-rendered from its committed JSON (``python -m verify.report --from-json``).
With ``--claims`` only those claims' test files run (``verify/test_<id>.py``), and their rows replace
theirs in the profile's committed report, the others kept as they are (``python -m verify.report
--merge-into``): one claim re-checked at the deep profile in minutes instead of the whole profile's run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = {"ci": "docs/verification", "dev": "docs/verification-dev", "deep": "docs/verification-deep"}
#: the pages whose marked block shows the ci profile's verdict table
HOME = ("docs/index.md", "README.md")


def _report_args(profile: str) -> list[str]:
    home = [a for page in HOME for a in ("--home", page)] if profile == "ci" else []
    title = "Verification report" + ("" if profile == "ci" else f" ({profile} profile)")
    return ["--out", OUT[profile], "--title", title, "--command", f"cdln verify --profile {profile}", *home]


def claim_files(root: Path, claims: str) -> tuple[list[str], list[str]]:
    """The claim ids of ``claims`` (comma-separated) and their test files (each ``verify/test_*.py`` names its
    claim in a ``CLAIM = "…"`` line), or ValueError naming an unknown id and the valid ones."""
    import re

    by_claim: dict[str, list[str]] = {}
    for f in sorted((root / "verify").glob("test_*.py")):
        m = re.search(r'^CLAIM = "([^"]+)"', f.read_text(), flags=re.M)
        if m:
            by_claim.setdefault(m[1], []).append(f"verify/{f.name}")
    ids = list(dict.fromkeys(c.strip() for c in claims.split(",") if c.strip()))
    bad = [c for c in ids if c not in by_claim]
    if bad or not ids:
        raise ValueError(f"claims: unknown claim(s) {', '.join(map(repr, bad))}; valid: {', '.join(by_claim)}"
                         if ids else "claims: no claim named")
    return ids, [f for c in ids for f in by_claim[c]]


def verify_command(args, parser) -> int:
    root = Path.cwd()
    if not (root / "verify" / "claims.py").is_file():
        parser.exit(2, "cdln verify: error: run it from the repository root (verify/claims.py not found)\n")
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    claims = getattr(args, "claims", None)
    if claims is not None:
        if getattr(args, "render_only", False):
            parser.exit(2, "cdln verify: error: --claims runs tests; --render-only runs none: give one of them\n")
        try:
            ids, files = claim_files(root, claims)
        except ValueError as exc:
            parser.exit(2, f"cdln verify: error: {exc}\n")
        rows = Path(OUT[args.profile] + ".json")
        if not rows.is_file():
            parser.exit(2, f"cdln verify: error: --claims updates {rows}, which is missing (run `cdln verify "
                           f"--profile {args.profile}` once)\n")
        return _run_claims(args, parser, root, env, ids, files, rows)
    if getattr(args, "render_only", False):
        rows = Path(OUT[args.profile] + ".json")
        if not rows.is_file():
            parser.exit(2, f"cdln verify: error: --render-only needs {rows} (run `cdln verify --profile "
                           f"{args.profile}` once)\n")
        rep = subprocess.call([sys.executable, "-m", "verify.report", "--from-json", str(rows),
                               *_report_args(args.profile)], cwd=root, env=env)
        if rep == 2:  # verify.report has printed its one-line reason
            parser.exit(2)
        print(f"report: {OUT[args.profile]}.md re-rendered from {rows}")
        return rep
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = str(Path(tmp) / "verdicts.json")
        env = {**env, "HYPOTHESIS_PROFILE": args.profile, "CDLN_VERDICTS": verdicts}
        cmd = [sys.executable, "-m", "pytest", "verify", "-q", "-p", "no:cacheprovider"]
        rc = subprocess.call(cmd, cwd=root, env=env)
        if not Path(verdicts).is_file():
            parser.exit(1, f"cdln verify: pytest exited with {rc} before recording any verdict\n")
        rep = subprocess.call([sys.executable, "-m", "verify.report", "--verdicts", verdicts,
                               *_report_args(args.profile)], cwd=root, env=env)
    print(f"report: {OUT[args.profile]}.md and {OUT[args.profile]}.json")
    return rep


def _run_claims(args, parser, root: Path, env: dict, ids: list[str], files: list[str], rows: Path) -> int:
    """Run only ``files`` under the profile and merge their claims' rows into the committed report ``rows``."""
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = str(Path(tmp) / "verdicts.json")
        env = {**env, "HYPOTHESIS_PROFILE": args.profile, "CDLN_VERDICTS": verdicts}
        rc = subprocess.call([sys.executable, "-m", "pytest", *files, "-q", "-p", "no:cacheprovider"], cwd=root,
                             env=env)
        if not Path(verdicts).is_file():
            parser.exit(1, f"cdln verify: pytest exited with {rc} before recording any verdict\n")
        rep = subprocess.call([sys.executable, "-m", "verify.report", "--verdicts", verdicts, "--claims", ",".join(ids),
                               "--merge-into", str(rows), *_report_args(args.profile)], cwd=root, env=env)
    if rep == 2:
        parser.exit(2)
    print(f"report: {', '.join(ids)} re-run; {OUT[args.profile]}.md and {OUT[args.profile]}.json updated")
    return rep

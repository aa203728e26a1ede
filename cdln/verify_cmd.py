"""`cdln verify [--profile ci|dev|deep] [--render-only]`: run verify/ under a hypothesis profile, then write the report.

Runs from the repository root (verify/ is the test suite, not an installed package):
``pytest verify/`` with HYPOTHESIS_PROFILE set records verdicts; ``python -m verify.report``
turns them into docs/verification.md/.json (``ci``, which also rewrites the verdict table of the
home page, docs/index.md), or docs/verification-<profile>.md/.json. With ``--render-only`` no test
runs: the report is re-rendered from its committed JSON (``python -m verify.report --from-json``).
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


def verify_command(args, parser) -> int:
    root = Path.cwd()
    if not (root / "verify" / "claims.py").is_file():
        parser.exit(2, "cdln verify: error: run it from the repository root (verify/claims.py not found)\n")
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
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

"""`cdln verify [--profile ci|dev|deep]`: run verify/ under a hypothesis profile, then write the report.

Runs from the repository root (verify/ is the test suite, not an installed package):
``pytest verify/`` with HYPOTHESIS_PROFILE set records verdicts; ``python -m verify.report``
turns them into docs/verification.md/.json (``ci``), or docs/verification-<profile>.md/.json.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = {"ci": "docs/verification", "dev": "docs/verification-dev", "deep": "docs/verification-deep"}


def verify_command(args, parser) -> int:
    root = Path.cwd()
    if not (root / "verify" / "claims.py").is_file():
        parser.exit(2, "cdln verify: error: run it from the repository root (verify/claims.py not found)\n")
    with tempfile.TemporaryDirectory() as tmp:
        verdicts = str(Path(tmp) / "verdicts.json")
        env = {**os.environ, "HYPOTHESIS_PROFILE": args.profile, "CDLN_VERDICTS": verdicts,
               "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, "-m", "pytest", "verify", "-q", "-p", "no:cacheprovider"]
        rc = subprocess.call(cmd, cwd=root, env=env)
        if not Path(verdicts).is_file():
            parser.exit(1, f"cdln verify: pytest exited with {rc} before recording any verdict\n")
        title = "Verification report" + ("" if args.profile == "ci" else f" ({args.profile} profile)")
        rep = subprocess.call([sys.executable, "-m", "verify.report", "--verdicts", verdicts, "--out",
                               OUT[args.profile], "--title", title,
                               "--command", f"cdln verify --profile {args.profile}"], cwd=root, env=env)
    print(f"report: {OUT[args.profile]}.md and {OUT[args.profile]}.json")
    return rep

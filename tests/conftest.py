"""Fixtures shared by the test modules of tests/."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """The documentation site, built once per session with `mkdocs build --strict` (the browser test and the
    maths test read the same build)."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"mkdocs build --strict failed:\n{res.stderr[-3000:]}"
    return out

"""verify/: hypothesis profiles come from the root conftest (HYPOTHESIS_PROFILE, default ci).

This plugin records, per claim id (``@pytest.mark.claim("id")``), the pytest outcome of every
test and the evidence/counterexamples the tests report through the ``record`` fixture, and
writes them to ``$CDLN_VERDICTS`` (a JSON file) at the end of the session, for
``python -m verify.report`` to turn into docs/verification.md/.json.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict

import pytest

_STATE = {"outcomes": defaultdict(list), "evidence": defaultdict(dict), "counterexamples": defaultdict(list),
          "started": time.time()}


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(id): the paper claim (verify/claims.py) a test establishes")


class Recorder:
    def evidence(self, claim: str, key: str, value) -> None:
        _STATE["evidence"][claim][key] = value

    def counterexample(self, claim: str, example: dict) -> None:
        """Store a counterexample after re-checking it from its own numbers with NumPy alone."""
        from verify.recheck import recheck

        margin = recheck(example)
        assert margin < 0, f"the stored counterexample does not reproduce (margin {margin:+.3e})"
        example = {**example, "margin_rechecked_with_numpy": margin}
        if example not in _STATE["counterexamples"][claim]:
            _STATE["counterexamples"][claim].append(example)


@pytest.fixture(scope="session")
def record() -> Recorder:
    return Recorder()


def pytest_runtest_logreport(report):
    if report.when == "call" or report.outcome != "passed":
        item_claims = getattr(report, "_claims", None)
        for cid in item_claims or []:
            _STATE["outcomes"][cid].append({"test": report.nodeid, "outcome": report.outcome,
                                             "when": report.when,
                                             "message": str(report.longrepr)[-600:] if report.failed else ""})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    rep._claims = [m.args[0] for m in item.iter_markers("claim")]


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("CDLN_VERDICTS")
    if not path:
        return
    from hypothesis import settings

    data = {"profile": os.environ.get("HYPOTHESIS_PROFILE", "ci"),
            "max_examples": settings().max_examples, "seconds": time.time() - _STATE["started"],
            "outcomes": _STATE["outcomes"], "evidence": _STATE["evidence"],
            "counterexamples": _STATE["counterexamples"]}
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1, default=_default)
    os.replace(tmp, path)


def _default(x):
    import numpy as np

    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    raise TypeError(type(x))

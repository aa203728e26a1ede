"""verify/: hypothesis profiles come from the root conftest (HYPOTHESIS_PROFILE, default ci).

Evidence is collected through one :class:`Recorder`, a plugin object held by the pytest config
(``config.stash``) and handed to the tests as the session-scoped ``record`` fixture. It records,
per claim id (``@pytest.mark.claim("id")``), the pytest outcome of every test and the evidence and
counterexamples the tests report, each filed under the test that produced it; at the end of the
session it writes them to ``$CDLN_VERDICTS`` (a JSON file) for ``python -m verify.report`` to
turn into docs/verification.md/.json.

What a claim's verdict and evidence say depends only on the tests that cover it, never on which
test ran first: every entry is keyed by its test and written out in the tests' *definition* order
(file, line, parameter index), two tests may not write the same evidence key, and a test's running
aggregates over its hypothesis examples live in its own :meth:`Recorder.tally`, created fresh when
the test starts (no module-level state). ``pytest -p no:randomly``, a reversed order, or one test
file alone give the same verdict file for the claims they cover (tests/test_verify_order.py).
"""

from __future__ import annotations

import json
import os
import time

import pytest

__all__ = ["Recorder", "Tally", "RECORDER"]

#: where the config keeps the session's recorder
RECORDER = pytest.StashKey["Recorder"]()


def pytest_configure(config):
    config.addinivalue_line("markers", "claim(id): the paper claim (verify/claims.py) a test establishes")
    recorder = Recorder()
    config.stash[RECORDER] = recorder
    config.pluginmanager.register(recorder, "cdln-verify-recorder")


@pytest.fixture(scope="session")
def record(pytestconfig) -> Recorder:
    """The session's recorder (session-scoped, so hypothesis tests may use it across their examples)."""
    return pytestconfig.stash[RECORDER]


def _definition_order(item) -> tuple:
    """(file, line of the test function, parameter indices): where the test is written, whatever
    order the session runs it in."""
    path, line, _ = item.location
    callspec = getattr(item, "callspec", None)
    return (path, line if line is not None else -1, tuple(callspec.indices.values()) if callspec else ())


class Tally:
    """One test's running aggregates over its hypothesis examples (fresh for each test)."""

    def __init__(self):
        self._v: dict = {}

    def count(self, key: str, n: int = 1) -> int:
        """Add ``n`` (default 1) to a counter; returns the total so far."""
        self._v[key] = self._v.get(key, 0) + int(n)
        return self._v[key]

    def min(self, key: str, value: float) -> float:
        """The smallest value seen so far."""
        self._v[key] = min(self._v.get(key, value), value)
        return self._v[key]

    def max(self, key: str, value: float) -> float:
        """The largest value seen so far."""
        self._v[key] = max(self._v.get(key, value), value)
        return self._v[key]

    def union(self, key: str, items) -> list:
        """The distinct items seen so far, sorted."""
        self._v[key] = self._v.get(key, set()) | set(items)
        return sorted(self._v[key])

    def extend(self, key: str, items) -> list:
        """Every item seen so far, in the order the examples produced them."""
        self._v[key] = self._v.get(key, []) + list(items)
        return list(self._v[key])


class Recorder:
    """Outcomes, evidence and counterexamples of a session, per claim, each filed under its test."""

    def __init__(self):
        self.started = time.time()
        self._item = None
        self._tally: Tally | None = None
        self._outcomes: dict = {}         # claim -> [(order, seq, outcome)]
        self._evidence: dict = {}         # claim -> {key: (order, seq, nodeid, value)}
        self._counterexamples: dict = {}  # claim -> [(order, seq, example)]
        self._seq = 0

    # ---------------------------------------------------------------- what the tests call
    def evidence(self, claim: str, key: str, value) -> None:
        """Evidence for ``claim`` measured by the running test; a test may update its own keys."""
        item = self._current("evidence")
        slot = self._evidence.setdefault(claim, {})
        if key in slot and slot[key][2] != item.nodeid:
            raise AssertionError(f"evidence {claim!r}: {key!r} is written by {slot[key][2]} and by {item.nodeid}; "
                                 "each key belongs to one test (else the report would depend on the test order)")
        order, seq = slot[key][:2] if key in slot else (_definition_order(item), self._next())
        slot[key] = (order, seq, item.nodeid, value)

    def counterexample(self, claim: str, example: dict) -> None:
        """Store a counterexample after re-checking it from its own numbers with NumPy alone."""
        from verify.recheck import recheck

        item = self._current("counterexample")
        margin = recheck(example)
        assert margin < 0, f"the stored counterexample does not reproduce (margin {margin:+.3e})"
        example = {**example, "margin_rechecked_with_numpy": margin}
        self._counterexamples.setdefault(claim, []).append((_definition_order(item), self._next(), example))

    def tally(self) -> Tally:
        """The running test's own aggregates (created when it starts, dropped when it ends)."""
        self._current("tally")
        return self._tally

    # ---------------------------------------------------------------- what the session produces
    def verdicts(self) -> dict:
        """Outcomes, evidence and counterexamples per claim, in the tests' definition order."""
        outcomes = {c: [o for *_, o in sorted(v, key=lambda e: e[:2])] for c, v in sorted(self._outcomes.items())}
        evidence = {c: {k: e[3] for k, e in sorted(v.items(), key=lambda kv: kv[1][:2])}
                    for c, v in sorted(self._evidence.items())}
        counterexamples = {}
        for c, v in sorted(self._counterexamples.items()):
            kept = []
            for *_, ex in sorted(v, key=lambda e: e[:2]):
                if ex not in kept:
                    kept.append(ex)
            counterexamples[c] = kept
        from hypothesis import settings

        return {"profile": os.environ.get("HYPOTHESIS_PROFILE", "ci"), "max_examples": settings().max_examples,
                "seconds": time.time() - self.started, "outcomes": outcomes, "evidence": evidence,
                "counterexamples": counterexamples}

    # ---------------------------------------------------------------- pytest hooks
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self._item, self._tally = item, Tally()
        try:
            yield
        finally:
            self._item, self._tally = None, None

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        if rep.when == "call" or rep.outcome != "passed":
            for cid in [m.args[0] for m in item.iter_markers("claim")]:
                self._outcomes.setdefault(cid, []).append((_definition_order(item), self._next(), {
                    "test": rep.nodeid, "outcome": rep.outcome, "when": rep.when,
                    "message": str(rep.longrepr)[-600:] if rep.failed else ""}))

    def pytest_sessionfinish(self, session, exitstatus):
        path = os.environ.get("CDLN_VERDICTS")
        if not path:
            return
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(self.verdicts(), fh, indent=1, default=_default)
        os.replace(tmp, path)

    # ---------------------------------------------------------------- helpers
    def _current(self, what: str):
        if self._item is None:
            raise RuntimeError(f"record.{what}() is only for use inside a test")
        return self._item

    def _next(self) -> int:
        self._seq += 1
        return self._seq


def _default(x):
    import numpy as np

    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.bool_):
        return bool(x)
    raise TypeError(type(x))

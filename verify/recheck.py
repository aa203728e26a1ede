"""Re-check a stored counterexample with NumPy alone (no theory, no sim, no torch).

    python -m verify.recheck [REPORT.json]                     # every counterexample of a report
    python -m verify.recheck CLAIM INDEX [--from REPORT.json]   # one, as the report's section numbers it

REPORT.json defaults to the repository's docs/verification.json; a relative path is read from the
working directory, else from the repository root (the report's commands name ``docs/…`` paths), so
the commands work from any folder where ``verify`` imports (the repository root, or PYTHONPATH
naming it: verify/ is the test suite, not an installed package). Exit status: 0 when every
counterexample re-checked still contradicts its claim, 1 when one does not, 2 (one line on
stderr) for a bad claim, index or report file.

Each counterexample in the report carries the target, the initial layers (nested lists), the
hyperparameters and the claimed margin; this file recomputes the margin from those numbers only
(a Theorem 1 example must also reproduce its stored GD and Eq. (13) values to rounding).
The claim tests call :func:`recheck` on every counterexample they record.
"""

from __future__ import annotations

import json
import sys
from functools import reduce
from pathlib import Path

import numpy as np

from verify.claims import THEOREM1_ULPS_PER_STEP
from verify.tolerance import ulps

ROOT = Path(__file__).resolve().parents[1]
#: the report read when none is named: the ci profile's, wherever the command runs from
DEFAULT_REPORT = "docs/verification.json"


def _e2e(Ws):
    return reduce(lambda P, W: W @ P, Ws[1:], Ws[0])


def _grads(Ws, M):
    """∇ of ½‖W_L⋯W_1 − M‖² for each layer, from explicit products."""
    G = _e2e(Ws) - M
    out = []
    for l in range(len(Ws)):
        left = _e2e(Ws[l + 1:]) if l + 1 < len(Ws) else np.eye(M.shape[0])
        right = _e2e(Ws[:l]) if l > 0 else np.eye(M.shape[1])
        out.append(left.T @ G @ right.T)
    return out


def _run(Ws, M, eta, scales, steps):
    errs = [np.sum((_e2e(Ws) - M) ** 2)]
    for _ in range(steps):
        Ws = [W - eta * s * g for W, s, g in zip(Ws, scales, _grads(Ws, M))]
        errs.append(np.sum((_e2e(Ws) - M) ** 2))
    return np.array(errs)


def recheck(c: dict) -> float:
    """Recompute the counterexample's margin (negative = the claim fails). Returns it."""
    if "eos" in c:  # the sequel's (edge of stability) examples: verify/eos_recheck.py, NumPy alone too
        from verify.eos_recheck import recheck_eos

        return recheck_eos(c)
    M = np.array(c["M_star"])
    if "wide_layers_W1_to_WL" in c and "first_violating_step" in c:  # GD
        Ww = [np.array(W) for W in c["wide_layers_W1_to_WL"]]
        Wc = [np.array(W) for W in c["compressed_layers_W1_to_WL"]]
        a = c["alpha"]
        sc = [a] + [1.0] * (len(Wc) - 2) + [a]
        k = c["worst_step"]
        return float(_run(Ww, M, c["eta"], [1.0] * len(Ww), k)[k] - _run(Wc, M, c["eta"], sc, k)[k])
    if "wide_layers_W1_to_WL" in c and "worst_time" in c:  # gradient flow, by small Euler steps
        t = c["worst_time"]
        n = int(np.ceil(t / 1e-3))
        Ww = [np.array(W) for W in c["wide_layers_W1_to_WL"]]
        Wc = [np.array(W) for W in c["compressed_layers_W1_to_WL"]]
        return float(_run(Ww, M, t / n, [1.0] * len(Ww), n)[-1] - _run(Wc, M, t / n, [1.0] * len(Wc), n)[-1])
    if "wide_layers_W1_to_WL" in c:  # errors at t = 0
        Ww = [np.array(W) for W in c["wide_layers_W1_to_WL"]]
        Wc = [np.array(W) for W in c["compressed_layers_W1_to_WL"]]
        return float(np.sum((_e2e(Ww) - M) ** 2) - np.sum((_e2e(Wc) - M) ** 2))
    # Theorem 1 with α: one mode of Algorithm 1 (outer scalar a, inner b), GD vs Eq. (13)
    L, eps, eta, a_, steps = c["depth"], c["eps"], c["eta"], c["alpha"], c["first_violating_step"]
    s = np.linalg.svd(M, compute_uv=False)[0]
    a = b = lam = eps
    for _ in range(steps):
        e = a * a * b ** (L - 2) - s
        a, b = a - a_ * eta * e * a * b ** (L - 2), b - eta * e * a * a * b ** (L - 3)
        lam = lam * (1 - eta * (lam**L - s) * lam ** (L - 2))
    gd, eq13 = a * a * b ** (L - 2), lam**L
    # the stored values must be reproduced to rounding (the claim test's budget a step, in ulps of σ_1):
    # else the example is not what it says, and its margin is the (positive) mismatch
    budget = ulps(THEOREM1_ULPS_PER_STEP * steps) * s
    mismatch = max(abs(gd - c["gd_value"]), abs(eq13 - c["eq13_value"]))
    if mismatch > budget:
        return float(mismatch)
    return float(budget - abs(gd - eq13))  # < 0: GD departs from Eq. (13) by more than rounding


def stored(rows: list, claim: str, index: int) -> dict:
    """The report's counterexample ``index`` (from 1, as the report numbers them) of ``claim``.

    Raises ValueError naming the argument, its value and the valid choices."""
    with_cex = {r["id"]: r.get("counterexample") or [] for r in rows if r.get("counterexample")}
    ids = [r["id"] for r in rows]
    if claim not in ids:
        raise ValueError(f"claim: {claim!r} is not a claim of the report; claims with counterexamples: "
                         f"{', '.join(with_cex) or 'none'}")
    n = len(with_cex.get(claim, []))
    if n == 0:
        raise ValueError(f"claim: {claim!r} has no counterexample in the report; claims with counterexamples: "
                         f"{', '.join(with_cex) or 'none'}")
    if not 1 <= index <= n:
        raise ValueError(f"index: {index} is out of range for {claim!r}, which has {n} counterexample"
                         f"{'s' if n > 1 else ''} (1 … {n})")
    return with_cex[claim][index - 1]


def load_rows(path: str) -> list:
    """The rows of a report's JSON: ``path`` from the working directory, else (relative) from the repository
    root. Raises ValueError naming the file and what is wrong with it."""
    p = Path(path)
    if not p.is_file() and not p.is_absolute() and (ROOT / p).is_file():
        p = ROOT / p
    try:
        rows = json.loads(p.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {path!r} ({exc.strerror or exc})") from None
    except ValueError:
        raise ValueError(f"{path!r} is not JSON") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) and "id" in r for r in rows):
        raise ValueError(f"{path!r} is not a list of report rows (objects with an 'id')")
    return rows


def _all(rows: list) -> int:
    bad = 0
    for r in rows:
        for c in r.get("counterexample") or []:
            m = recheck(c)
            ok = m < 0
            bad += not ok
            print(f"{r['id']:<16} {c.get('statement', '')[:70]:<70} margin {m:+.3e}  {'confirmed' if ok else 'NOT confirmed'}")
    return 1 if bad else 0


def _one(rows: list, claim: str, index: int) -> int:
    c = stored(rows, claim, index)
    m = recheck(c)
    was = c.get("margin_rechecked_with_numpy")
    print(f"{claim} counterexample {index}: {c.get('statement', '')}")
    print(f"margin recomputed with NumPy from the stored numbers: {m:+.6e}"
          + (f" (stored: {was:+.6e})" if isinstance(was, (int, float)) else ""))
    print("confirmed: the claim as stated fails on these numbers" if m < 0 else
          "NOT confirmed: the margin is not negative, so these numbers do not contradict the claim")
    return 0 if m < 0 else 1


def main(argv=None) -> int:
    """``python -m verify.recheck [REPORT.json]``: every counterexample of a report (default
    docs/verification.json); ``python -m verify.recheck CLAIM INDEX [--from REPORT.json]``: one of them.
    Exit status 0 when each re-checked counterexample still contradicts its claim, 1 when one does not,
    2 (one line on stderr) for bad arguments."""
    import argparse

    argv = list(sys.argv[1:] if argv is None else [argv] if isinstance(argv, str) else argv)

    class _Parser(argparse.ArgumentParser):
        def error(self, message):  # one line, status 2
            self.exit(2, f"{self.prog}: error: {message}\n")

    if not argv or (len(argv) == 1 and argv[0].endswith(".json")):
        try:
            rows = load_rows(argv[0] if argv else DEFAULT_REPORT)
        except ValueError as exc:
            _Parser(prog="python -m verify.recheck").error(f"REPORT.json: {exc}")
        return _all(rows)

    ap = _Parser(prog="python -m verify.recheck", description="re-check a stored counterexample with NumPy alone")
    ap.add_argument("claim", help="the claim id (a section of the report)")
    ap.add_argument("index", type=int, help="which of the claim's counterexamples, from 1 (as the report numbers them)")
    ap.add_argument("--from", dest="path", default=DEFAULT_REPORT,
                    help="the report's rows (default: the repository's %(default)s)")
    a = ap.parse_args(argv)
    try:
        rows = load_rows(a.path)
    except ValueError as exc:
        ap.error(f"--from: {exc}")
    try:
        return _one(rows, a.claim, a.index)
    except ValueError as exc:
        ap.error(str(exc))


if __name__ == "__main__":
    raise SystemExit(main())

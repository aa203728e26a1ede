"""eos-shallow: at a fixed η, which depths and targets show EoS — GD against theory's window (1, r_end(L))·η_c."""

import pytest

from sim.eos import classify
from theory import eos
from verify.eos_bounds import EOS_SUBSPACE_MARGIN, EOS_WINDOW_MARGIN
from verify.eos_measures import mode_run

CLAIM = "eos-shallow"
#: (σ_1, the step sizes of the grid, sum loss): σ_1 = 10 is the sequel's top value; 0.1 a small ("simple") target
GRID = {10.0: (0.02, 0.04, 0.15), 0.1: (8.0, 18.0)}


def predicted(ratio: float, depth: int) -> str | None:
    """'below' / 'eos' / 'beyond' the window, or None within the margins of its ends (not asserted there)."""
    lo, hi = eos.eos_window(depth=depth)
    if ratio < lo - EOS_SUBSPACE_MARGIN:
        return "below"
    if lo + EOS_SUBSPACE_MARGIN < ratio < hi - EOS_WINDOW_MARGIN:
        return "eos"
    if ratio > hi + EOS_WINDOW_MARGIN:
        return "beyond"
    return None


def behaviour(kind: str) -> str:
    if kind == "converged":
        return "below"
    return "beyond" if kind in ("collapsed", "diverged") else "eos"


@pytest.mark.claim(CLAIM)
@pytest.mark.parametrize("sigma", list(GRID))
def test_gd_shows_eos_exactly_inside_the_window(record, sigma):
    table, checked = {}, 0
    for eta in GRID[sigma]:
        row = []
        for depth in (2, 3, 4, 5, 6):
            ratio = eta / float(eos.eos_thresholds([sigma], depth=depth)[0])
            tr, _ = mode_run([sigma], depth=depth, ratio=ratio, steps=2000)
            kind = classify(tr, rank=1, max_period=16)
            want = predicted(ratio, depth)
            row.append(f"L={depth}: {ratio:.2f} η_c {kind}")
            if want is not None:
                checked += 1
                assert behaviour(kind) == want, (eta, depth, ratio, kind, want)
        table[f"η = {eta:g}"] = row
    record.evidence(CLAIM, f"σ_1 = {sigma:g}, the scalar net (1×1 layers), the sequel's init: GD per (η, L)", table)
    record.evidence(CLAIM, f"σ_1 = {sigma:g}: grid points checked against the window", checked)


@pytest.mark.claim(CLAIM)
def test_the_window_per_depth(record):
    """The window's upper end r_end(L) (theory), and at one η which depths show EoS for each target."""
    ends = {L: round(eos.eos_window(depth=L)[1], 6) for L in (2, 3, 4, 5, 6)}
    record.evidence(CLAIM, "EoS window (1, r_end(L))·η_c: r_end by depth (L = 2: exactly 2)", ends)
    assert ends[2] == pytest.approx(2.0, abs=1e-12)  # brentq to 1e-13 on the closed-form crossing κ = 2
    for sigma in (10.0, 0.1):
        eta = 1.2 * float(eos.eos_thresholds([sigma], depth=3)[0])
        shows = [L for L in (2, 3, 4, 5, 6)
                 if predicted(eta / float(eos.eos_thresholds([sigma], depth=L)[0]), L) == "eos"]
        record.evidence(CLAIM, f"σ_1 = {sigma:g}, η = 1.2 η_c(L = 3) = {eta:.4g}: depths inside the window", shows)
        assert 3 in shows
        if sigma == 10.0:  # η_c = 0.1, 0.031, 0.016, 0.010, 0.007: below L = 2's, beyond the windows of L >= 4
            assert shows == [3]
    # the ordering in depth reverses below (L/(L+1))^{L(L+1)/2}: at σ_1 = 0.1 the shallow net is the unstable one
    th = eos.eos_thresholds([0.1], depth=2)[0], eos.eos_thresholds([0.1], depth=3)[0]
    assert th[0] < th[1]

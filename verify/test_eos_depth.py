"""eos-depth: the sharpness of GD's minima (Lanczos on HVPs) against depth, and where depth lowers it."""

import numpy as np
import pytest
from hypothesis import example, given, settings, target
from hypothesis import strategies as st

import sim
from theory import eos
from verify.eos_measures import example as eos_example
from verify.eos_measures import mode_run
from verify.tolerance import ulps

CLAIM = "eos-depth"


def line(depth: int) -> float:
    """σ at which Lσ^{2−2/L} = (L+1)σ^{2−2/(L+1)}: (L/(L+1))^{L(L+1)/2}."""
    return (depth / (depth + 1)) ** (depth * (depth + 1) / 2)


def balanced(sigma: float, depth: int):
    """The balanced minimum of the scalar net: 1×1 layers σ^{1/L}."""
    return [np.array([[sigma ** (1.0 / depth)]]) for _ in range(depth)]


@pytest.mark.claim(CLAIM)
@pytest.mark.parametrize("depth", [2, 3, 4, 5, 6])
def test_gds_minimum_has_the_sharpness_of_its_layers_and_is_never_flatter_than_balanced(record, depth):
    sig = 4.0
    tr, _ = mode_run([sig], d=2, depth=depth, ratio=0.5, steps=3000)
    assert tr.status == "bounded" and abs(tr.singular_values[-1, 0] - sig) <= ulps(64) * sig  # converged
    lanczos = float(sim.eos.sharpness(tr.weights, np.diag([sig, 0.0]))[0])
    x = tr.layer_singular_values[-1, :, 0]
    own = float(eos.minimum_sharpness(x, float(np.prod(x))))
    flat = eos.mode_sharpness(sig, depth=depth)
    record.evidence(CLAIM, f"L = {depth}, σ_1 = {sig:g}: GD's minimum, Lanczos sharpness / Lσ^(2−2/L) − 1",
                    float(f"{lanczos / flat - 1:.3g}"))
    # Lanczos (ARPACK at tol = 0) and the closed form agree to the rounding of HVPs over 4L² parameters
    assert abs(lanczos - own) <= ulps(64 * 4 * depth * depth) * own
    assert lanczos >= flat * (1 - ulps(64 * depth))  # AM–GM: the balanced minimum is the flattest


@st.composite
def off_the_line(draw):
    depth = draw(st.integers(2, 5))
    u = draw(st.floats(0.01, 3.0)) * draw(st.sampled_from([-1.0, 1.0]))
    return depth, float(line(depth) * np.exp(u))  # at least 1% (in log) from the line, by construction


@pytest.mark.claim(CLAIM)
@given(off_the_line())
@example((2, 0.1)).via("the counterexample below: σ_1 = 0.1 < (2/3)³, the deeper minimum is flatter")
@settings(max_examples=max(8, settings().max_examples // 2))
def test_depth_raises_the_sharpness_iff_sigma_is_above_the_line(record, inst):
    depth, sig = inst
    s = [float(sim.eos.sharpness(balanced(sig, L), np.array([[sig]]))[0]) for L in (depth, depth + 1)]
    rises = s[1] > s[0]
    target(-abs(np.log(sig / line(depth))), label="closeness to the line")
    t = record.tally()
    record.evidence(CLAIM, "balanced minima, L → L+1 (L = 2…5, σ within e^±3 of the line): sign as predicted",
                    t.count("n"))
    record.evidence(CLAIM, "smallest |log(σ/line)| searched", float(f"{t.min('closest', abs(np.log(sig / line(depth)))):.3g}"))
    assert rises == (sig > line(depth))


@pytest.mark.claim(CLAIM)
def test_a_small_target_is_flatter_deeper(record):
    """σ_1 = 0.1, GD to the (balanced) minimum at depths 2 and 3: the depth-3 minimum is flatter, so its EoS step
    2/(3σ^{4/3}) = 14.4 is above depth 2's 2/(2σ) = 10: depth raised the step-size threshold here."""
    sig, steps = 0.1, 400
    M = np.array([[sig]])
    runs, inits = [], []
    for L in (2, 3):
        layers = [0.5 * W for W in balanced(sig, L)]
        eta = 0.5 * float(eos.eos_thresholds([sig], depth=L)[0])
        tr = sim.eos.run_eos(M, depth=L, eta=eta, steps=steps, layers=layers)
        runs.append((float(sim.eos.sharpness(tr.weights, M)[0]), eta))
        inits.append(layers)
    record.evidence(CLAIM, "σ_1 = 0.1: sharpness of GD's minimum at L = 2, 3", [float(f"{s:.4g}") for s, _ in runs])
    assert runs[1][0] < runs[0][0]
    # one η for the recheck: the smaller, at which both depths converge
    eta = min(e for _, e in runs)
    record.counterexample(CLAIM, eos_example(
        "depth-sharpness", "sigma_1 = 0.1: GD's minimum at depth 3 is flatter than at depth 2", M, None, eta=eta,
        steps=steps * 4, layers_depth_L=[W.tolist() for W in inits[0]],
        layers_depth_L_plus_1=[W.tolist() for W in inits[1]]))

"""ode-vs-gd: GD after T = t/η steps approaches gradient flow at time t at rate O(η)."""

import numpy as np
import pytest
import torch

import sim
import theory
from sim.instances import setup
from verify.claims import ODE_SLOPE_TOLERANCE_NETWORK, ODE_SLOPE_TOLERANCE_RECURRENCE

CLAIM = "ode-vs-gd"


def slope(etas, errs):
    return float(np.polyfit(np.log(etas), np.log(errs), 1)[0])


@pytest.mark.claim(CLAIM)
@pytest.mark.parametrize("depth,alpha", [(2, 1.0), (3, 1.0), (4, 1.0), (3, 3.0)])
def test_scalar_recurrence_vs_flow(record, depth, alpha):
    sig = np.array([2.0, 0.7])
    t_end = 0.8 * theory.fit_time(0.7, depth=depth, eps=0.3, alpha=alpha)
    flow = theory.flow_spectrum(sig, [t_end], depth=depth, eps=0.3, alpha=alpha, rank_hat=3)[0]
    etas = t_end / np.array([100, 200, 400, 800])
    errs = [np.max(np.abs(theory.compressed_spectrum(sig, depth=depth, eps=0.3, eta=e, steps=int(round(t_end / e)),
                                                     alpha=alpha, rank_hat=3)[-1] - flow)) for e in etas]
    s = slope(etas, errs)
    record.evidence(CLAIM, f"recurrence vs flow (theory), L = {depth}, α = {alpha}: slope", round(s, 3))
    assert abs(s - 1.0) < ODE_SLOPE_TOLERANCE_RECURRENCE


@pytest.mark.claim(CLAIM)
@pytest.mark.parametrize("model", ["compressed", "wide"])
def test_full_network_gd_vs_weight_ode(record, model):
    sig = np.array([2.0, 0.7])
    init = "oracle" if model == "compressed" else "orthogonal"
    t_end = 0.8 * theory.fit_time(0.7, depth=3, eps=0.3)
    _, p, W0, sc = setup(model, sig, d=4, rank_hat=3, depth=3, eps=0.3, init=init)
    Wf = [W.clone() for W in W0]
    sim.run_flow(p, Wf, sc, [0.0, t_end], n_sv=1)  # solve_ivp rtol 1e-10: far below the O(η) gaps
    ref = sim.end_to_end(Wf)[0]
    etas = t_end / np.array([100, 200, 400, 800])
    errs = []
    for e in etas:
        Ws = [W.clone() for W in W0]
        with torch.no_grad():
            for _ in range(int(round(t_end / e))):
                sim.gd_step(Ws, sc, e, p)
        errs.append(float(torch.linalg.matrix_norm(sim.end_to_end(Ws)[0] - ref)))
    s = slope(etas, errs)
    record.evidence(CLAIM, f"{model} network, sim GD vs integrated weight ODE: slope", round(s, 3))
    assert abs(s - 1.0) < ODE_SLOPE_TOLERANCE_NETWORK

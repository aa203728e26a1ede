r"""Gradient-flow mode: integrate the ODE of *all* weights, :math:`\dot W_l=-s_l\nabla_{W_l}\ell`,
with ``scipy.integrate.solve_ivp`` (DOP853, rtol = 1e-10, atol = 1e-12 by default), on the CPU in
float64, logged at given times — so gradient-flow claims can be checked without a step size.
The gradients are the engine's own (:func:`sim.gd.gradients`). Time t corresponds to η × steps.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from scipy.integrate import solve_ivp

from .gd import Trace, gradients, log_metrics

__all__ = ["run_flow", "FLOW_RTOL", "FLOW_ATOL"]

FLOW_RTOL = 1e-10
FLOW_ATOL = 1e-12


def run_flow(problem, Ws, scales, times, *, n_sv: int, rtol: float = FLOW_RTOL, atol: float = FLOW_ATOL,
             method: str = "DOP853") -> Trace:
    if Ws[0].device.type != "cpu" or Ws[0].dtype != torch.float64:
        raise ValueError("the gradient-flow mode runs on device 'cpu' in dtype 'float64'")
    shapes = [W.shape for W in Ws]
    sizes = [W.numel() for W in Ws]
    cuts = np.cumsum([0] + sizes)

    def unflatten(y):
        return [torch.from_numpy(y[cuts[i]:cuts[i + 1]]).reshape(shapes[i]) for i in range(len(Ws))]

    def rhs(_, y):
        _, grads = gradients(unflatten(y), problem)
        return -np.concatenate([s * g.reshape(-1).numpy() for s, g in zip(scales, grads)])

    y0 = np.concatenate([W.reshape(-1).numpy() for W in Ws])
    t = np.asarray(times, dtype=float)
    t0 = time.perf_counter()
    with torch.no_grad():
        sol = solve_ivp(rhs, (0.0, float(t[-1])), y0, method=method, t_eval=t, rtol=rtol, atol=atol)
    wall = time.perf_counter() - t0
    if not sol.success:
        raise RuntimeError(f"solve_ivp failed: {sol.message}")
    trace = Trace()
    trace.stopped = f"flow ({sol.nfev} gradient evaluations, {wall:.2f} s)"
    for k in range(t.size):
        log_metrics(trace, unflatten(np.ascontiguousarray(sol.y[:, k])), problem, k, wall, n_sv)
    trace.flow_times = t.tolist()
    for W, Wn in zip(Ws, unflatten(np.ascontiguousarray(sol.y[:, -1]))):
        W.copy_(Wn)
    return trace

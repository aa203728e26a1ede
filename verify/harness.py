"""Small, exact instances for the claim tests, built with `sim` (GD, flow) and read by `theory`.

Every instance is tiny (d <= 10 unless a claim needs the paper's size) so that a counterexample
can be written out in full — matrices as nested lists — and re-checked with twenty lines of NumPy.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

import sim
import theory

CPU = torch.device("cpu")


def setup(model: str, sig, *, d: int, rank_hat: int, depth: int, eps: float, alpha: float = 1.0,
          init: str | None = None, seed: int = 0, problem: str = "factorization", loss: str = "sum",
          observed: float = 0.5, measurements: int = 200, d2: int | None = None):
    """(cfg, problem, weights, step scales) for a target with singular values ``sig``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # r̂ < r is studied on purpose
        cfg = sim.RunConfig(problem=problem, model=model, target="spectrum", spectrum=tuple(float(s) for s in sig),
                            d=d, d2=d2, rank_hat=rank_hat, depth=depth, eps=eps, alpha=alpha, init=init, seed=seed,
                            loss=loss, observed=observed, measurements=measurements, eta=1.0)
    p = sim.make_problem(cfg, [seed], CPU)
    if model == "wide":
        Ws, sc = sim.init_wide(cfg, [seed], CPU)
    else:
        Ws, sc = sim.init_compressed(cfg, p, CPU)
    return cfg, p, Ws, sc


def sq_error(Ws, p) -> float:
    """‖W_{L:1} − M*‖_F² (all entries)."""
    return float(torch.linalg.matrix_norm(sim.end_to_end(Ws) - p.target)[0] ** 2)


def gd_sq_errors(p, Ws, sc, eta: float, steps: int, every: int = 1) -> np.ndarray:
    """Squared errors at steps 0, every, 2·every, … (GD in place on Ws)."""
    out = [sq_error(Ws, p)]
    with torch.no_grad():
        for t in range(1, steps + 1):
            sim.gd_step(Ws, sc, eta, p)
            if t % every == 0:
                out.append(sq_error(Ws, p))
    return np.array(out)


def flow_sq_errors(p, Ws, sc, times) -> np.ndarray:
    """Squared errors along the gradient flow of all weights (sim.run_flow), sum loss."""
    tr = sim.run_flow(p, Ws, sc, np.asarray(times, float), n_sv=1)
    return 2.0 * np.stack(tr.metrics["train_loss"])[:, 0] * float(p.normaliser[0])


def lists(x, digits: int = 17):
    """A tensor/array as nested lists of floats (repr-exact)."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return a.tolist()


def weights_lists(Ws):
    return [lists(W[0]) for W in Ws]


def theorem2_gd_pair(sig, *, d, depth, eps, frac, alpha, init, seed, steps_factor=3.0, rank_hat=None):
    """Theorem 2 along GD on one small instance: both nets (r̂ = r unless given) at η = frac·η_c(wide),
    for ~steps_factor × the slowest mode's flow fit time. Returns squared errors of the wide and
    compressed nets at every step, η, the problem, and both nets' initial layers (as lists)."""
    r = sig.size
    eta = frac * theory.critical_step_size(sig[0], depth=depth)
    steps = int(steps_factor * theory.fit_time(float(sig.min()), depth=depth, eps=eps) / eta) + 20
    _, p, Wc, sc = setup("compressed", sig, d=d, rank_hat=r if rank_hat is None else rank_hat, depth=depth, eps=eps,
                         alpha=alpha, seed=seed)
    Wc0 = weights_lists(Wc)
    ec = gd_sq_errors(p, Wc, sc, eta, steps)
    _, p, Ww, sw = setup("wide", sig, d=d, rank_hat=r, depth=depth, eps=eps, init=init, seed=seed)
    Ww0 = weights_lists(Ww)
    ew = gd_sq_errors(p, Ww, sw, eta, steps)
    return ew, ec, eta, p, Ww0, Wc0

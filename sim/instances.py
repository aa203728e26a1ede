"""Small, exact instances built with the engine: a target, both networks, and their errors along GD or flow.

What the claim tests (``verify/``) and the figure scripts (``docs/figures/``) share. Every instance
is tiny (d <= 10 unless a claim needs the paper's size) so that a counterexample can be written
out in full — matrices as nested lists (:func:`lists`, :func:`weights_lists`) — and re-checked with
twenty lines of NumPy. Everything here is *measured* on matrices by the engine; theory's
predictions for the same instances are computed by the callers, never here (theory is used only
for hints: a step size as a fraction of the critical one, a horizon from the fit time).

>>> import numpy as np
>>> _, p, Ws, sc = setup("compressed", np.array([2.0, 1.0]), d=4, rank_hat=2, depth=3, eps=0.1)
>>> errs = gd_sq_errors(p, Ws, sc, eta=0.05, steps=20)
>>> errs.shape, bool(errs[-1] < errs[0])
((21,), True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

import theory

from .config import RunConfig
from .flow import run_flow
from .gd import end_to_end, gd_step
from .models import init_compressed, init_wide
from .build import make_problem

__all__ = ["CPU", "setup", "sq_error", "gd_sq_errors", "flow_sq_errors", "lists", "weights_lists",
           "theorem2_gd_pair", "InitialPair", "initial_pair"]

#: the instances are built and run in float64 on the CPU (the verification's reference device)
CPU = torch.device("cpu")


def setup(model: str, sig, *, d: int, rank_hat: int, depth: int, eps: float, alpha: float = 1.0,
          init: str | None = None, seed: int = 0, problem: str = "factorization", loss: str = "sum",
          observed: float = 0.5, measurements: int = 200, d2: int | None = None):
    """One network on a target with singular values ``sig``.

    Args:
        model: ``"wide"`` or ``"compressed"`` (Algorithm 1).
        sig: the target's singular values σ*_1 >= … >= σ*_r.
        d, d2: the target's shape (d × d, or d × d2).
        rank_hat, depth, eps, alpha, init, seed, problem, loss, observed, measurements: as in
            :class:`sim.RunConfig` (``eta`` is left at 1: the callers pass their own step).

    Returns:
        ``(cfg, problem, weights, step_scales)``: the config, the problem (batch of one seed),
        the layers W_1 … W_L (each of shape (1, ·, ·)) and the per-layer step multipliers.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # r̂ < r is studied on purpose
        cfg = RunConfig(problem=problem, model=model, target="spectrum", spectrum=tuple(float(s) for s in sig),
                        d=d, d2=d2, rank_hat=rank_hat, depth=depth, eps=eps, alpha=alpha, init=init, seed=seed,
                        loss=loss, observed=observed, measurements=measurements, eta=1.0)
    p = make_problem(cfg, [seed], CPU)
    if model == "wide":
        Ws, sc = init_wide(cfg, [seed], CPU)
    else:
        Ws, sc = init_compressed(cfg, p, CPU)
    return cfg, p, Ws, sc


def sq_error(Ws, p) -> float:
    """:math:`‖W_{L:1} − M^*‖_F^2` over all entries, of the first instance of the batch."""
    return float(torch.linalg.matrix_norm(end_to_end(Ws) - p.target)[0] ** 2)


def gd_sq_errors(p, Ws, sc, eta: float, steps: int, every: int = 1) -> np.ndarray:
    """Squared errors at steps 0, every, 2·every, … of GD at step ``eta`` (updates ``Ws`` in place)."""
    out = [sq_error(Ws, p)]
    with torch.no_grad():
        for t in range(1, steps + 1):
            gd_step(Ws, sc, eta, p)
            if t % every == 0:
                out.append(sq_error(Ws, p))
    return np.array(out)


def flow_sq_errors(p, Ws, sc, times) -> np.ndarray:
    """Squared errors at ``times`` along the gradient flow of all weights (:func:`sim.run_flow`), sum loss."""
    tr = run_flow(p, Ws, sc, np.asarray(times, float), n_sv=1)
    return 2.0 * np.stack(tr.metrics["train_loss"])[:, 0] * float(p.normaliser[0])


def lists(x):
    """A tensor or array as nested lists of floats (``repr``-exact, for a counterexample written out in full)."""
    a = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    return a.tolist()


def weights_lists(Ws):
    """The first instance's layers W_1 … W_L, each as nested lists."""
    return [lists(W[0]) for W in Ws]


def theorem2_gd_pair(sig, *, d, depth, eps, frac, alpha, init, seed, steps_factor=3.0, rank_hat=None):
    """Both networks on one small factorization instance, along GD at the same step.

    The step is η = frac·η_c(wide) and the horizon ~steps_factor × the slowest mode's flow fit
    time (both from theory, as hints only). The compressed net has r̂ = r unless ``rank_hat`` is given.

    Returns:
        ``(wide_errors, compressed_errors, eta, problem, wide_layers0, compressed_layers0)``: squared
        errors at every step, the step, the problem, and both nets' initial layers as nested lists.
    """
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


@dataclass(frozen=True)
class InitialPair:
    """Both networks at t = 0 on one target (Corollary 1's setting), measured on the matrices."""

    problem: object          #: the sim problem (batch of one); ``problem.target[0]`` is M*
    wide_layers: list        #: W_1 … W_L of the wide DLN, each (1, d, d)
    compressed_layers: list  #: W_1 … W_L of Algorithm 1
    wide_error: float        #: ‖W_{L:1}(0) − M*‖_F²
    compressed_error: float  #: ‖W̃_{L:1}(0) − M*‖_F²
    overlap: float           #: ω = tr(QᵀM*), Q = W_{L:1}(0)/s₀ the wide product over its scale s₀ (:math:`ε^L` or :math:`ε^{L/2}`)


def initial_pair(sig, *, d, rank_hat, depth, eps, scaling, aligned, seed) -> InitialPair:
    """The wide DLN (an orthogonal init, or the best-aligned one) and Algorithm 1 at t = 0.

    Args:
        sig: the target's singular values.
        d, rank_hat, depth, eps, seed: the instance (the wide net's r̂ is capped at d).
        scaling: ``"proof"`` (per-layer singular values ε, end-to-end s₀ = ε^L) or ``"eq3"``
            (Eq. (3) read literally: per-layer √ε, :math:`s_0 = ε^{L/2}`).
        aligned: replace the drawn orthogonal init by W_1 = s·UVᵀ, W_l = s·I (s the per-layer
            scale; U, V the target's singular vectors), whose product is best aligned with M*.

    Returns:
        an :class:`InitialPair`; the errors and the overlap are computed from the matrices.
    """
    init = "orthogonal" if scaling == "proof" else "orthogonal-eq3"
    _, p, Ww, _ = setup("wide", sig, d=d, rank_hat=min(rank_hat, d), depth=depth, eps=eps, init=init, seed=seed)
    if aligned:
        U, _, Vh = np.linalg.svd(p.target[0].numpy())
        s = eps if scaling == "proof" else np.sqrt(eps)
        Ww = [torch.as_tensor(s * (U @ Vh))[None]] + [torch.as_tensor(s * np.eye(d))[None] for _ in range(depth - 1)]
    _, _, Wc, _ = setup("compressed", sig, d=d, rank_hat=rank_hat, depth=depth, eps=eps, seed=seed)
    s0 = eps**depth if scaling == "proof" else eps ** (depth / 2)
    Q = end_to_end(Ww)[0].numpy() / s0
    return InitialPair(problem=p, wide_layers=Ww, compressed_layers=Wc, wide_error=sq_error(Ww, p),
                       compressed_error=sq_error(Wc, p), overlap=float(np.trace(Q.T @ p.target[0].numpy())))

"""What the sequel's claim tests share: targets, GD runs through the EoS, a mode's gap, counterexample records.

Everything measured here is measured by ``sim.eos`` on matrices; theory's predictions are computed by
the tests themselves, never here (theory gives hints only: a step as a multiple of the mode's η_c).
"""

from __future__ import annotations

import numpy as np

import sim
import theory
from verify.strategies import haar_orthogonal

__all__ = ["diag_target", "example", "haar_target", "lists", "mode_gap", "mode_run", "scale_for"]


def diag_target(sig, d: int | None = None) -> np.ndarray:
    """diag(σ_1, …, σ_r, 0, …) of size d (the sequel's scripts use diag(10, 9.5, 9, 0, 0))."""
    s = np.asarray(sig, dtype=float)
    d = s.size if d is None else d
    return np.diag(np.concatenate([s, np.zeros(d - s.size)]))


def haar_target(sig, d: int, seed: int) -> np.ndarray:
    """U diag(σ) Vᵀ with Haar U, V (d × d) from ``seed``."""
    s = np.concatenate([np.asarray(sig, dtype=float), np.zeros(d - len(sig))])
    return haar_orthogonal(d, seed) @ np.diag(s) @ haar_orthogonal(d, seed + 1).T


def scale_for(depth: int, sigma: float) -> float:
    """Init scale: the sequel's 0.01 for L <= 3; deeper nets from 0.01 barely move (the product of L − 1
    layers at 0.01 is the gradient's scale), so a fixed share of the mode's balanced value σ^{1/L}."""
    return 0.01 if depth <= 3 else 0.3 * sigma ** (1.0 / depth)


def mode_run(sig, *, depth: int, ratio: float, steps: int, d: int | None = None, init: str = "sequel", **kw):
    """GD at η = ratio·η_c(σ_1) on diag(sig) (sim.eos.run_eos); returns (trace, η)."""
    s = np.asarray(sig, dtype=float)
    eta = ratio * float(theory.eos.eos_thresholds(s[:1], depth=depth)[0])
    kw.setdefault("scale", scale_for(depth, float(s[0])))
    return sim.eos.run_eos(diag_target(s, d), depth=depth, eta=eta, steps=steps, init=init, **kw), eta


def mode_gap(trace) -> np.ndarray:
    """(T, L−1) balancing gaps s_{l+1}² − s_l² of the top mode, from the layers' top singular values."""
    return theory.eos.balancing_gap(trace.layer_singular_values)[:, :, 0]


def lists(x):
    return np.asarray(x, dtype=float).tolist()


def example(kind: str, statement: str, M, layers, *, eta: float, steps: int, **extra) -> dict:
    """A counterexample written out in full for verify/eos_recheck.py (sum loss ½‖W_L⋯W_1 − M‖²)."""
    return {"eos": kind, "statement": statement, "M_star": lists(M),
            **({"layers_W1_to_WL": [lists(W) for W in layers]} if layers is not None else {}),
            "eta": float(eta), "steps": int(steps), "loss": "0.5*||W_L...W_1 - M||_F^2", **extra}

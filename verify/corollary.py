"""What corollary1 and corollary1-eq3 share: both networks' errors at t = 0, measured on the matrices
(``sim.instances.initial_pair``), next to theory's exact gap for the measured overlap — two
independent computations that the tests compare."""

from __future__ import annotations

import numpy as np

import theory
from sim.instances import initial_pair, lists, weights_lists

__all__ = ["instance", "counterexample", "pin"]


def instance(sig, *, d, rank_hat, depth, eps, scaling, aligned, seed) -> dict:
    """Errors at t = 0 of the wide DLN (sim init, or the best-aligned orthogonal init) and of
    Algorithm 1, measured on the matrices, plus theory's exact gap for the measured overlap."""
    pair = initial_pair(sig, d=d, rank_hat=rank_hat, depth=depth, eps=eps, scaling=scaling, aligned=aligned, seed=seed)
    th = theory.initial_errors(sig, shape=d, rank_hat=rank_hat, depth=depth, eps=eps, scaling=scaling,
                               overlap=pair.overlap)
    return {"wide": pair.wide_error, "compressed": pair.compressed_error,
            "gap_measured": pair.wide_error - pair.compressed_error, "gap_theory": th.gap,
            "scale": float(np.sum(np.asarray(sig) ** 2)) + d, "p": pair.problem, "Ww": pair.wide_layers,
            "Wc": pair.compressed_layers, "theory": th}


def counterexample(statement, inst, sig, **hyper) -> dict:
    """A t = 0 counterexample written out in full (target and layers as nested lists)."""
    return {"statement": statement, "M_star": lists(inst["p"].target[0]),
            "wide_layers_W1_to_WL": weights_lists(inst["Ww"]), "compressed_layers_W1_to_WL": weights_lists(inst["Wc"]),
            "sigma_star": list(map(float, sig)), **hyper,
            "wide_error": inst["wide"], "compressed_error": inst["compressed"],
            "margin_wide_minus_compressed": inst["gap_measured"],
            "check": "E(W) = ||W_L...W_1 - M||_F^2; the claim needs E(wide) >= E(compressed)"}


def pin(record, claim, statement, inst, sig, **hyper) -> None:
    """The pinned counterexample of a search: check that it really fails on the matrices, then store it."""
    assert inst["gap_measured"] < 0
    record.counterexample(claim, counterexample(statement, inst, sig, **hyper))

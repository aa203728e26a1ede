"""Shared machinery of corollary1 and corollary1-eq3: both networks' errors at t = 0, on real matrices."""

from __future__ import annotations

import numpy as np
import torch

import sim
import theory
from verify.harness import lists, setup, sq_error, weights_lists


def instance(sig, *, d, rank_hat, depth, eps, scaling, aligned, seed):
    """Errors at t = 0 of the wide DLN (sim init, or the best-aligned orthogonal init) and of
    Algorithm 1, measured on the matrices, plus theory's exact gap for the measured overlap."""
    init = "orthogonal" if scaling == "proof" else "orthogonal-eq3"
    _, p, Ww, _ = setup("wide", sig, d=d, rank_hat=min(rank_hat, d), depth=depth, eps=eps, init=init, seed=seed)
    if aligned:  # W_1 = s·U Vᵀ, W_l = s·I: an orthogonal init whose product is best aligned with M*
        U, _, Vh = np.linalg.svd(p.target[0].numpy())
        s = eps if scaling == "proof" else np.sqrt(eps)
        Ww = [torch.as_tensor(s * (U @ Vh))[None]] + [torch.as_tensor(s * np.eye(d))[None] for _ in range(depth - 1)]
    _, _, Wc, _ = setup("compressed", sig, d=d, rank_hat=rank_hat, depth=depth, eps=eps, seed=seed)
    wide, comp = sq_error(Ww, p), sq_error(Wc, p)
    s0 = eps**depth if scaling == "proof" else eps ** (depth / 2)
    Q = sim.end_to_end(Ww)[0].numpy() / s0
    th = theory.initial_errors(sig, shape=d, rank_hat=rank_hat, depth=depth, eps=eps, scaling=scaling,
                               overlap=float(np.trace(Q.T @ p.target[0].numpy())))
    return {"wide": wide, "compressed": comp, "gap_measured": wide - comp, "gap_theory": th.gap,
            "scale": float(np.sum(sig**2)) + d, "p": p, "Ww": Ww, "Wc": Wc, "theory": th}


def counterexample(statement, inst, sig, **hyper):
    return {"statement": statement, "M_star": lists(inst["p"].target[0]),
            "wide_layers_W1_to_WL": weights_lists(inst["Ww"]), "compressed_layers_W1_to_WL": weights_lists(inst["Wc"]),
            "sigma_star": list(map(float, sig)), **hyper,
            "wide_error": inst["wide"], "compressed_error": inst["compressed"],
            "margin_wide_minus_compressed": inst["gap_measured"],
            "check": "E(W) = ||W_L...W_1 - M||_F^2; the claim needs E(wide) >= E(compressed)"}


def pin(record, claim, statement, inst, sig, **hyper):
    """The pinned counterexample of a search: check that it really fails on the matrices, then store it."""
    assert inst["gap_measured"] < 0
    record.counterexample(claim, counterexample(statement, inst, sig, **hyper))

r"""Several GD steps per call, without Python between the products: the fast path of :func:`sim.gd.run_gd`.

A small step (the compressed DLN at d = 100 is a dozen products of 20×100 matrices) spends as much
time in Python dispatch and temporaries as in arithmetic. Here ``n`` steps run inside one
TorchScript function: the *same* ATen products, in the same order, on the same shapes and strides as
the eager step (:func:`sim.gd.gd_step`), so the result is bitwise equal to it (tests/test_speed_paths.py
checks weights and losses with ``torch.equal``); only the interpreter between the ops is gone, and
the eager step's transposed copies :math:`W_l^\top` (``sim.gd._t``): the left operands are passed as
transposed views, which the BLAS reads with its transpose flag into the same packed panels, so the
products are the same bits (the tests compare every fused path with the eager one) without the copy.

Per step and layer, with :math:`c_{l,k}=\eta_k s_{l,k}u` (the step size of instance k, Eq. 2, with
a uniform 1/N folded in),

.. math:: W_l \leftarrow W_l - c_l\,\nabla_{W_l}\ell,

as ``sub_(g, alpha=c)`` when every instance shares :math:`c_l`, else ``addcmul_(g, -c)`` with a (B, 1, 1)
tensor — both a fused multiply–add per entry, so a mixed batch equals each of its single runs bitwise.
The loss *before* each step goes into row i of a preallocated (n, B) buffer, from which the caller finds
the first step that diverged (:func:`sim.gd.run_gd`). Problems say whether they have such a step
(:meth:`sim.problems.Problem.fused_terms`); the others (sensing, sparse storage) take the eager loop.

A large batch runs tile by tile, all n steps of a cache-sized tile before the next (:data:`TILE_BYTES`):
the targets of B = 64 instances at d = 100 (5 MB) or the weights of B = 1024 at d = 20 no longer stream
from memory every step. Any tiling is the same computation, since every instance's arithmetic is its
own (the property that makes a batch equal its single runs).

Threads: every bitwise claim here is at one fixed torch thread count. The BLAS may split a long
contraction across threads (measured with this torch/MKL: ``bmm`` of (1, 20, K)·(1, K, 20) for K >= 400
rounds differently on 1 and 2 threads, and a batch's first product differs from a batch of one's on 2),
so a run's last bits may depend on the thread count and, above one thread, a batch instance's on its
batch. The sweep's workers pin 1 thread (:func:`sweep.task.run_batch`); the run's summary records it.
"""

from __future__ import annotations

import warnings
from typing import List

import torch
from torch import Tensor

__all__ = ["fused_chunk", "Coefficients", "TILE_BYTES"]


class Coefficients:
    """Per-layer step coefficients :math:`c_l` (module docstring): a float when shared, else a (B, 1, 1) −c."""

    def __init__(self, eta, scales, u: float, batch: int, like: Tensor):
        etas = [float(e) for e in (eta if hasattr(eta, "__len__") else [eta] * batch)]
        if len(etas) != batch:  # zip below would silently drop instances
            raise ValueError(f"eta must give one value per instance of the batch ({batch}), got {len(etas)}")
        self.coef: list[float] = []
        self.neg: list[Tensor] = []
        self.uniform: list[bool] = []
        for s in scales:
            ss = [float(x) for x in (s if hasattr(s, "__len__") else [s] * batch)]
            if len(ss) != batch:
                raise ValueError(f"scales must give one value per instance of the batch ({batch}) for every "
                                 f"layer, got {len(ss)}")
            cs = [e * x * u for e, x in zip(etas, ss)]   # the eager step's `eta * s * u`, per instance
            same = all(c == cs[0] for c in cs)
            self.uniform.append(same)
            self.coef.append(cs[0])
            self.neg.append(torch.tensor([-c for c in cs], dtype=like.dtype, device=like.device).reshape(-1, 1, 1))

    def drop(self, k: int) -> None:
        """Instance k moves no more (a diverged instance of a batch, frozen by :func:`sim.gd.run_gd`)."""
        for l, neg in enumerate(self.neg):
            neg[k] = 0.0
            self.uniform[l] = False

    def apply(self, Ws, grads) -> None:
        """The eager update (the reference the fused one is compared with)."""
        for l, (W, g) in enumerate(zip(Ws, grads)):
            if self.uniform[l]:
                W.sub_(g, alpha=self.coef[l])
            else:
                W.addcmul_(g, self.neg[l])


def _update(W: Tensor, g: Tensor, c: float, neg: Tensor, uniform: bool) -> None:
    if uniform:
        W.sub_(g, alpha=c)
    else:
        W.addcmul_(g, neg)


def _factored(Ws: List[Tensor], M: Tensor, Mt: Tensor, tsq: Tensor, half_u: float, coef: List[float],
              neg: List[Tensor], uniform: List[bool], n: int, losses: Tensor) -> None:
    """``n`` steps of :meth:`sim.problems.Factorization.factored_gradients` + the update, op for op."""
    L = len(Ws)
    B = M.shape[0]
    for i in range(n):
        P = [Ws[0]]
        for l in range(1, L - 1):
            P.append(torch.bmm(Ws[l], P[-1]))
        WL = Ws[L - 1]
        PL = P[L - 2]
        WLt = WL.transpose(-1, -2)
        WtW = torch.bmm(WLt, WL)
        PPt = torch.bmm(PL, PL.transpose(-1, -2))
        WtM = torch.bmm(WLt, M)
        MPt = torch.bmm(PL, Mt).transpose(-1, -2)
        gL = torch.baddbmm(MPt, WL, PPt, beta=-1.0)
        Bm = torch.baddbmm(WtM, WtW, PL, beta=-1.0)
        q = torch.bmm(WtW.reshape(B, 1, -1), PPt.reshape(B, -1, 1))
        q = torch.baddbmm(q, WtM.reshape(B, 1, -1), PL.reshape(B, -1, 1), alpha=-2.0)
        losses[i] = (q.reshape(B) + tsq) * half_u
        grads = [Bm for _ in range(L)]
        grads[L - 1] = gL
        for l in range(L - 2, 0, -1):
            grads[l] = torch.bmm(Bm, P[l - 1].transpose(-1, -2))
            Bm = torch.bmm(Ws[l].transpose(-1, -2), Bm)
        grads[0] = Bm
        for l in range(L):
            _update(Ws[l], grads[l], coef[l], neg[l], uniform[l])


def _residual(Ws: List[Tensor], M: Tensor, mask: Tensor, has_mask: bool, inv_n: Tensor, per_instance: bool,
              u: float, coef: List[float], neg: List[Tensor], uniform: List[bool], n: int, losses: Tensor) -> None:
    """``n`` steps of :func:`sim.gd._gradients` with :meth:`sim.problems.DenseProblem.residual`, op for op."""
    L = len(Ws)
    for i in range(n):
        P = [Ws[0]]
        for l in range(1, L - 1):
            P.append(torch.bmm(Ws[l], P[-1]))
        g = torch.baddbmm(M, Ws[L - 1], P[L - 2], beta=-1.0)
        if has_mask:
            g.mul_(mask)
        loss = 0.5 * torch.linalg.vector_norm(g, 2.0, [1, 2]) ** 2
        if per_instance:
            losses[i] = loss * inv_n
            g = g.mul_(inv_n.reshape(-1, 1, 1))
        else:
            losses[i] = loss * u
        grads = [g for _ in range(L)]
        Bm = g
        for l in range(L - 1, 0, -1):
            grads[l] = torch.bmm(Bm, P[l - 1].transpose(-1, -2))
            Bm = torch.bmm(Ws[l].transpose(-1, -2), Bm)
        grads[0] = Bm
        for l in range(L):
            _update(Ws[l], grads[l], coef[l], neg[l], uniform[l])


_SCRIPTED: dict = {}


def _scripted(name: str):
    """The TorchScript form of a chunk, compiled once per process (~0.1 s). TorchScript is deprecated in
    recent torch: where it warns, the warning is silenced; where it is gone or fails, the Python function
    itself runs (the same ops, so the same bits; only the interpreter overhead between them returns)."""
    if name not in _SCRIPTED:
        fn = {"factored": _factored, "residual": _residual}[name]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                _SCRIPTED[name] = torch.jit.script(fn)
        except Exception:  # noqa: BLE001 - any failure to compile: the eager function is the same computation
            _SCRIPTED[name] = fn
    return _SCRIPTED[name]


TILE_BYTES = 4 * 2**20  #: a batch runs in tiles of about this many bytes of per-instance data (cache-sized)


def _tile(Ws, M) -> int:
    """Instances per tile: weights (with their gradients and products) and the target of one instance,
    about 4·Σ|W_l| + 2·n1·n2 values, to fit :data:`TILE_BYTES`. Any tiling gives the same bits: every
    product and update of an instance is its own (a batch equals its single runs), so this is speed only."""
    per = M.element_size() * (4 * sum(W[0].numel() for W in Ws) + 2 * M[0].numel())
    return max(1, TILE_BYTES // max(per, 1))


def fused_chunk(problem, Ws, coefs: Coefficients, n: int, losses: Tensor, tile: int | None = None) -> bool:
    """Run ``n`` GD steps in one call, writing the loss before step i into ``losses[i]`` (B,). Returns
    ``False`` (nothing done) when ``problem`` has no fused step (:meth:`sim.problems.Problem.fused_terms`).

    A large batch runs tile by tile (``tile`` instances, default :func:`_tile`), all ``n`` steps of a tile
    before the next: its target and weights stay in cache across the steps instead of being streamed
    from memory twice a step."""
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 1):
        raise ValueError(f"tile must be None or an integer >= 1 (instances per tile), got {tile!r}")
    terms = problem.fused_terms(Ws)
    if terms is None or len(Ws) < 2:
        return False
    kind, t = terms
    B = Ws[0].shape[0]
    step = max(1, tile if tile is not None else _tile(Ws, t["M"]))
    for a in range(0, B, step):
        sl = slice(a, min(B, a + step))
        full = a == 0 and sl.stop == B
        Wt = Ws if full else [W[sl] for W in Ws]
        tt = t if full else {k: v[sl] if isinstance(v, Tensor) and v.dim() and v.shape[0] == B else v
                             for k, v in t.items()}
        neg = coefs.neg if full else [x[sl] for x in coefs.neg]
        out = losses if full else losses[:, sl]
        if kind == "factored":
            _scripted("factored")(Wt, tt["M"], tt["Mt"], tt["tsq"], tt["half_u"], coefs.coef, neg, coefs.uniform,
                                  n, out)
        else:
            _scripted("residual")(Wt, tt["M"], tt["mask"], tt["has_mask"], tt["inv_n"], tt["per_instance"], tt["u"],
                                  coefs.coef, neg, coefs.uniform, n, out)
    return True

r"""The GD engine: explicit gradients from prefix/suffix products, batched over runs.

For :math:`W_{L:1}=W_L\cdots W_1` and :math:`G=\nabla_{W_{L:1}}\ell` (from the problem),

.. math:: P_1=W_1,\; P_l=W_lP_{l-1};\qquad B_L=G,\; B_{l}=W_{l+1}^\top B_{l+1};\qquad
          \nabla_{W_l}\ell=B_l P_{l-1}^\top\ (l\ge2),\quad \nabla_{W_1}\ell=B_1,

i.e. :math:`3(L-1)` batched matmuls per step and nothing recomputed (:func:`theory.gd_step_macs`).
Layer l moves by :math:`\eta\,s_l\nabla_{W_l}\ell` (Eq. 2; :math:`s_l=\alpha` on the outer layers
of Algorithm 1). No host–device synchronisation happens inside the step loop on CUDA except at
logging steps; on the CPU the loss is checked every step so that a divergence stops at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

import theory

__all__ = ["gradients", "gd_step", "uses_factored_step", "end_to_end", "run_gd", "Trace", "DivergenceError", "log_metrics"]


class DivergenceError(RuntimeError):
    """GD diverged: carries the step, the loss, the seed and theory's stable step size."""

    def __init__(self, step: int, loss: float, seed: int, eta: float, eta_stable: float, loss_name: str):
        self.step, self.loss, self.seed, self.eta, self.eta_stable = step, loss, seed, eta, eta_stable
        super().__init__(
            f"GD diverged at step {step} (seed {seed}): loss = {loss:.6g}; eta = {eta:.6g} ({loss_name} loss) "
            f"exceeds what is stable; theory predicts a stable step size below {eta_stable:.6g}"
        )


def _mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Batched matmul, always ``bmm``: a batch of one takes the same kernel as a batch of many
    (2-D ``mm`` may not — e.g. it treats P Pᵀ specially), so a batch equals its single runs bitwise."""
    return torch.bmm(a, b)


def _t(a: torch.Tensor) -> torch.Tensor:
    """Transpose *copied* to contiguous memory: bmm with a transposed-view left operand takes a
    slow path on the CPU (``cdln bench`` measures the step); the copy costs O(size), the product O(size · n)."""
    return a.transpose(-1, -2).contiguous()


def end_to_end(Ws: list[torch.Tensor]) -> torch.Tensor:
    P = Ws[0]
    for W in Ws[1:]:
        P = torch.matmul(W, P)
    return P


def _prefixes(Ws):
    """P_1 = W_1, P_l = W_l P_{l-1} for l < L (the last product is formed by the caller)."""
    P = [Ws[0]]
    for l in range(1, len(Ws) - 1):
        P.append(_mm(Ws[l], P[-1]))
    return P


def _backward(Ws, P, Bm, grads, top: int):
    """From B_top = Bm down: ∇_{W_l} = B_l P_{l-1}ᵀ, B_{l-1} = W_lᵀ B_l; ∇_{W_1} = B_1."""
    for l in range(top, 0, -1):
        grads[l] = _mm(Bm, P[l - 1].transpose(-1, -2))
        Bm = _mm(_t(Ws[l]), Bm)
    grads[0] = Bm
    return grads


def _gradients(Ws, problem):
    """(losses, gradients) with the mean normalisation applied only when it varies per instance
    (otherwise it is ``problem.uniform_scale``, folded into the step by :func:`gd_step`)."""
    P = _prefixes(Ws)
    loss, Bm, scale = problem.residual(Ws[-1], P[-1])  # G = W_L P_{L-1} - M*, fused
    if scale is not None:
        Bm = Bm.mul_(scale)
    return loss, _backward(Ws, P, Bm, [None] * len(Ws), len(Ws) - 1)


def gradients(Ws: list[torch.Tensor], problem) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Losses (B,) and ∇_{W_l}ℓ for every layer, in the config's normalisation (module docstring)."""
    loss, grads = _gradients(Ws, problem)
    if problem.uniform_scale is not None and problem.uniform_scale != 1.0:
        grads = [g * problem.uniform_scale for g in grads]
    return loss, grads


def _factored_gradients(Ws, problem):
    r"""Factorization with a narrow last hidden width k (the compressed DLN): with
    :math:`W_{L:1}=W_LP`, :math:`P=P_{L-1}`, the chain rule only needs

    .. math:: \nabla_{W_L}=W_L(PP^\top)-M^*P^\top,\qquad B_{L-1}=W_L^\top G=(W_L^\top W_L)P-W_L^\top M^*,

    costing :math:`2n_1n_2k+O(k^2(n_1+n_2))` and no :math:`n_1\times n_2` temporaries
    (:func:`theory.gd_step_macs` with ``factored=True``). The loss
    :math:`\tfrac12(\langle W_L^\top W_L,PP^\top\rangle-2\langle W_L^\top M^*,P\rangle+\|M^*\|^2)` has absolute
    error O(eps·‖M*‖²): good for divergence checks, while logged losses use the explicit residual.
    """
    L = len(Ws)
    P = _prefixes(Ws)
    WL, PL, M = Ws[-1], P[-1], problem.target
    WLt = _t(WL)
    WtW = _mm(WLt, WL)
    PPt = _mm(PL, PL.transpose(-1, -2))
    WtM = _mm(WLt, M)
    MPt = _mm(PL, M.transpose(-1, -2)).transpose(-1, -2)  # (P Mᵀ)ᵀ: the fast layout for a skinny P
    grads = [None] * L
    grads[-1] = torch.baddbmm(MPt, WL, PPt, beta=-1)
    Bm = torch.baddbmm(WtM, WtW, PL, beta=-1)
    B = WL.shape[0]
    q = torch.bmm(WtW.reshape(B, 1, -1), PPt.reshape(B, -1, 1))            # <WᵀW, PPᵀ>
    q = torch.baddbmm(q, WtM.reshape(B, 1, -1), PL.reshape(B, -1, 1), alpha=-2.0)  # − 2<WᵀM, P>
    loss = (q.reshape(B) + problem.target_sq) * (0.5 * problem.uniform_scale)
    return loss, _backward(Ws, P, Bm, grads, L - 2)


def uses_factored_step(Ws, problem) -> bool:
    """The factored step pays off for factorization when the last hidden width k <= min(n1, n2)/4."""
    return problem.kind == "factorization" and 4 * Ws[-1].shape[-1] <= min(problem.shape)


def gd_step(Ws, scales, eta: float, problem, factored: bool | None = None) -> torch.Tensor:
    """One in-place GD step on every layer; returns the losses (B,) *before* the step.

    A normalisation that is the same for every instance (1/N) is folded into the step size
    instead of being applied to the d×d residual. ``factored`` (default: automatic, see
    :func:`uses_factored_step`) selects the residual-free form for the compressed DLN."""
    if factored is None:
        factored = uses_factored_step(Ws, problem)
    loss, grads = _factored_gradients(Ws, problem) if factored else _gradients(Ws, problem)
    u = problem.uniform_scale if problem.uniform_scale is not None else 1.0
    for W, g, s in zip(Ws, grads, scales):
        W.sub_(g, alpha=eta * s * u)
    return loss


@dataclass
class Trace:
    """What was logged: one entry per logging step (arrays have a leading seed axis B)."""

    steps: list[int] = field(default_factory=list)
    time_s: list[float] = field(default_factory=list)
    metrics: dict[str, list[np.ndarray]] = field(default_factory=dict)
    singular_values: list[np.ndarray] = field(default_factory=list)
    align_u: list[np.ndarray] = field(default_factory=list)
    align_v: list[np.ndarray] = field(default_factory=list)
    outer_align: list[np.ndarray] = field(default_factory=list)
    stopped: str = "budget"


def log_metrics(trace: Trace, Ws, problem, step: int, elapsed: float, n_sv: int) -> dict[str, np.ndarray]:
    """Append the metrics of the current weights to ``trace`` (not counted in ``elapsed``)."""
    with torch.no_grad():
        W = end_to_end(Ws)
        loss, _ = problem.loss_and_grad(W)
        m = {"train_loss": loss, **problem.errors(W)}
        U, S, Vh = torch.linalg.svd(W, full_matrices=False)
        trace.steps.append(step)
        trace.time_s.append(elapsed)
        for k, v in m.items():
            trace.metrics.setdefault(k, []).append(v.detach().cpu().numpy())
        trace.singular_values.append(S[:, :n_sv].cpu().numpy())
        if problem.U is not None:
            r = problem.U.shape[-1]
            au = torch.abs(torch.sum(U[:, :, :r] * problem.U, dim=1))   # |<u_i(t), u_i*>|
            av = torch.abs(torch.sum(Vh[:, :r, :].transpose(1, 2) * problem.V, dim=1))
            trace.align_u.append(au.cpu().numpy())
            trace.align_v.append(av.cpu().numpy())
            # Fig. 3: top left singular vector of W_L vs u*_1, top right one of W_1 vs v*_1
            uL = torch.linalg.svd(Ws[-1], full_matrices=False)[0][:, :, 0]
            v1 = torch.linalg.svd(Ws[0], full_matrices=False)[2][:, 0, :]
            trace.outer_align.append(torch.stack([torch.abs(torch.sum(uL * problem.U[:, :, 0], 1)),
                                                  torch.abs(torch.sum(v1 * problem.V[:, :, 0], 1))], 1).cpu().numpy())
    return {k: v[-1] for k, v in trace.metrics.items()}


def run_gd(problem, Ws, scales, *, eta: float, steps: int, log_every: int, tol: float = 0.0,
           seeds: list[int], depth: int, alpha: float, loss_name: str, n_sv: int,
           progress=None, divergence_factor: float = 1e8) -> Trace:
    """Run GD (in place on ``Ws``) with logging, tolerance stop and divergence detection.

    Divergence: a non-finite loss, or a loss above ``divergence_factor`` × the largest initial one,
    raises :class:`DivergenceError` naming the step, the loss and theory's stable step size.
    """
    trace = Trace()
    cuda = Ws[0].is_cuda
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    with torch.no_grad():
        first = log_metrics(trace, Ws, problem, 0, 0.0, n_sv)
        limit = divergence_factor * max(float(np.max(first["train_loss"])), 1e-300)
        elapsed, t = 0.0, 0
        while t < steps:
            chunk = min(log_every - t % log_every, steps - t)
            sync()
            t0 = time.perf_counter()
            for _ in range(chunk):
                loss = gd_step(Ws, scales, eta, problem)
                t += 1
                if not cuda and not loss.max().item() <= limit:  # `not <=` also catches NaN
                    _diverged(problem, loss, limit, t - 1, seeds, eta, depth, alpha, loss_name)
            sync()
            elapsed += time.perf_counter() - t0
            m = log_metrics(trace, Ws, problem, t, elapsed, n_sv)
            tl = torch.as_tensor(m["train_loss"])
            if not float(tl.max()) <= limit:
                _diverged(problem, tl, limit, t, seeds, eta, depth, alpha, loss_name)
            if progress is not None:
                progress(t, float(tl.mean()), float(np.mean(m["recovery_error"])), t / max(elapsed, 1e-12))
            if tol > 0 and bool(torch.all(tl < tol)):
                trace.stopped = "tolerance"
                break
    return trace


def _diverged(problem, loss, limit, step, seeds, eta, depth, alpha, loss_name):
    bad = ~(torch.as_tensor(loss).cpu() <= limit)
    k = int(torch.nonzero(bad)[0, 0])
    n1, n2 = problem.shape
    kw = {}
    if problem.kind in ("completion", "movielens"):
        kw["n_observed"] = int(problem.mask[k].sum())
    if problem.kind == "sensing":
        kw["n_measurements"] = int(problem.A.shape[1])
        kw["sensing_std"] = float(problem.A[k].std())
    kind = "completion" if problem.kind == "movielens" else problem.kind
    eta_c = theory.problem_critical_step_size(problem.sigma_max(), depth=depth, problem=kind, shape=(n1, n2),
                                              loss=loss_name, alpha=alpha, **kw)
    raise DivergenceError(step, float(torch.as_tensor(loss)[k]), seeds[k], eta, float(eta_c), loss_name)

r"""The GD engine: explicit gradients from prefix/suffix products, batched over runs.

For :math:`W_{L:1}=W_L\cdots W_1` and :math:`G=\nabla_{W_{L:1}}\ell` (from the problem),

.. math:: P_1=W_1,\; P_l=W_lP_{l-1};\qquad B_L=G,\; B_{l}=W_{l+1}^\top B_{l+1};\qquad
          \nabla_{W_l}\ell=B_l P_{l-1}^\top\ (l\ge2),\quad \nabla_{W_1}\ell=B_1,

i.e. :math:`3(L-1)` batched matmuls per step and nothing recomputed (:func:`theory.gd_step_macs`).
Layer l moves by :math:`\eta\,s_l\nabla_{W_l}\ell` (Eq. 2; :math:`s_l=\alpha` on the outer layers
of Algorithm 1); η and :math:`s_l` may differ per instance (a batch of configs that differ only in
η, α or ε, :mod:`sim.many`), each instance then moving exactly as its own single run would.

:func:`run_gd` takes up to :data:`CHUNK` steps per call through :func:`sim.fused.fused_chunk` (the same
products without Python between them; bitwise equal to :func:`gd_step`, the eager reference) and
records the loss before every step in a preallocated buffer: a divergence is reported at the exact
first step it shows, checked once per chunk (one host–device synchronisation per chunk on CUDA).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

import theory

from .config import KERNELS
from .fused import Coefficients, fused_chunk
from .fused_np import numpy_chunk

__all__ = ["gradients", "gd_step", "gd_steps", "uses_factored_step", "end_to_end", "run_gd", "Trace", "DivergenceError",
           "log_metrics", "CHUNK", "KERNELS"]

CHUNK = 32  #: steps per fused call: amortises the call; a diverging run computes at most this many steps past it


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
    """Transpose *copied* to contiguous memory (the eager reference; it once avoided a slow path of older
    torch for a transposed-view left operand). The fused chunks (:mod:`sim.fused`) pass the view instead:
    the same bits (tests/test_speed_paths.py), without the O(size) copy."""
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
    """From B_top = Bm down: :math:`∇_{W_l} = B_l P_{l-1}^⊤`, :math:`B_{l-1} = W_l^⊤ B_l`; :math:`∇_{W_1} = B_1`."""
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
    """Losses (B,) and :math:`∇_{W_l}ℓ` for every layer, in the config's normalisation (module docstring)."""
    loss, grads = _gradients(Ws, problem)
    if problem.uniform_scale is not None and problem.uniform_scale != 1.0:
        grads = [g * problem.uniform_scale for g in grads]
    return loss, grads


def uses_factored_step(Ws, problem) -> bool:
    """Whether ``problem`` computes this step without the n1×n2 residual (:meth:`sim.problems.Problem.uses_factored_step`)."""
    return problem.uses_factored_step(Ws)


def gd_step(Ws, scales, eta: float, problem, factored: bool | None = None) -> torch.Tensor:
    """One in-place GD step on every layer; returns the losses (B,) *before* the step.

    A normalisation that is the same for every instance (1/N) is folded into the step size
    instead of being applied to the d×d residual. ``factored`` (default: the problem decides, see
    :meth:`sim.problems.Problem.factored_gradients`) forces (True) or forbids (False) the residual-free form.""" 
    out = None if factored is False else problem.factored_gradients(Ws, force=bool(factored))
    loss, grads = out if out is not None else _gradients(Ws, problem)
    u = problem.uniform_scale if problem.uniform_scale is not None else 1.0
    if hasattr(eta, "__len__") or any(hasattr(s, "__len__") for s in scales):  # per instance (sim.many)
        Coefficients(eta, scales, u, Ws[0].shape[0], Ws[0]).apply(Ws, grads)
        return loss
    for W, g, s in zip(Ws, grads, scales):
        W.sub_(g, alpha=eta * s * u)
    return loss


def gd_steps(Ws, scales, eta, problem, n: int) -> torch.Tensor:
    """``n`` in-place GD steps, fused where the problem has a fused step (:mod:`sim.fused`); returns the (n, B)
    losses before each step. Bitwise equal to ``n`` calls of :func:`gd_step` (tests/test_speed_paths.py)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    u = problem.uniform_scale if problem.uniform_scale is not None else 1.0
    coefs = Coefficients(eta, scales, u, Ws[0].shape[0], Ws[0])
    losses = torch.empty((n, Ws[0].shape[0]), dtype=Ws[0].dtype, device=Ws[0].device)
    with torch.no_grad():
        if n and not fused_chunk(problem, Ws, coefs, n, losses):
            for i in range(n):
                losses[i] = _eager_step(Ws, coefs, problem)
    return losses


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
    diverged: dict = field(default_factory=dict)  #: instance -> DivergenceError (``run_gd(drop_diverged=True)``)
    resumed: dict | None = None  #: where a run continued from its checkpoint: step, wall_s before, threads then


def log_metrics(trace: Trace, Ws, problem, step: int, elapsed: float, n_sv: int) -> dict[str, np.ndarray]:
    """Append what ``problem.log_state`` reports of the current weights to ``trace`` (not counted in ``elapsed``)."""
    with torch.no_grad():
        state = problem.log_state(Ws, n_sv)
        trace.steps.append(step)
        trace.time_s.append(elapsed)
        for k, v in state["metrics"].items():
            trace.metrics.setdefault(k, []).append(_host(v))
        trace.singular_values.append(_host(state["singular_values"]))
        if "align_u" in state:
            trace.align_u.append(_host(state["align_u"]))
            trace.align_v.append(_host(state["align_v"]))
            trace.outer_align.append(_host(state["outer"]))
    return {k: v[-1] for k, v in trace.metrics.items()}


def _host(v) -> np.ndarray:
    return v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v)


def run_gd(problem, Ws, scales, *, eta, steps: int, log_every: int, tol: float = 0.0, patience: int = 0,
           patience_delta: float = 0.0, seeds: list[int], depth: int, alpha, loss_name: str, n_sv: int,
           progress=None, divergence_factor: float = 1e8, fused: bool = True, drop_diverged: bool = False,
           kernel: str = "torch", checkpoint=None) -> Trace:
    """Run GD (in place on ``Ws``) with logging, tolerance and patience stops, and divergence detection.

    ``patience`` > 0 stops the run at the first log at which every instance's held-out ``test_error`` has
    made no new minimum in the last ``patience`` logs (``trace.stopped = "patience"``): the wide net on
    MovieLens is trained "until its test error stops improving" (Fig. 7), not for a guessed budget. With
    ``patience_delta`` = δ > 0 a log is a new minimum only when its test error is below (1 − δ) × the best so
    far: a test error that creeps down by parts in 10⁶ a log then counts as stopped.

    ``eta`` and ``alpha`` are numbers or one per instance (then ``scales`` holds per-instance lists too).
    Divergence: a non-finite loss, or a loss above ``divergence_factor`` × the same instance's initial one,
    raises :class:`DivergenceError` naming the first step it happens, the loss and theory's stable step size;
    with ``drop_diverged`` the error goes into ``trace.diverged[k]`` instead and instance k is frozen at zero
    weights (every instance's products are its own, so the others go on bitwise as before).
    ``fused=False`` takes the eager reference loop (:func:`gd_step`'s arithmetic, checked every step).
    ``kernel="numpy"`` runs the fused chunks on NumPy's BLAS (:mod:`sim.fused_np`: CPU only, within a stated
    rounding bound of the torch step, not bitwise equal to it).
    ``checkpoint`` (a :class:`sim.checkpoint.Checkpoint`) saves the loop's state at a log once its interval
    has passed, and a run that finds its own checkpoint continues from it, bitwise as if never stopped.
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, got {kernel!r}")
    if kernel == "numpy" and Ws[0].device.type != "cpu":
        raise ValueError(f"kernel 'numpy' runs on the CPU only; the weights are on {Ws[0].device}")
    chunk_fn = numpy_chunk if kernel == "numpy" else fused_chunk
    trace = Trace()
    cuda = Ws[0].is_cuda
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    B = Ws[0].shape[0]
    etas = list(eta) if hasattr(eta, "__len__") else [eta] * B
    alphas = list(alpha) if hasattr(alpha, "__len__") else [alpha] * B
    for name, v in (("eta", etas), ("alpha", alphas), ("seeds", list(seeds))):
        if len(v) != B:
            raise ValueError(f"{name} must give one value per instance of the batch ({B}), got {len(v)}")
    hint = (problem, seeds, etas, depth, alphas, loss_name)
    wall0 = time.perf_counter()
    with torch.no_grad():
        saved = checkpoint.load(Ws) if checkpoint is not None else None
        if saved is None:
            first = log_metrics(trace, Ws, problem, 0, 0.0, n_sv)
        else:
            first = {k: v[0] for k, v in saved["trace"].metrics.items()}
        if patience > 0:
            if "test_error" not in first:
                raise ValueError(f"patience = {patience} needs a problem with a held-out test error; "
                                 f"{type(problem).__name__} logs none")
            best = np.array(first["test_error"], dtype=np.float64)
            since = np.zeros_like(best, dtype=np.int64)
        # per instance, so that whether a seed diverges does not depend on the other seeds of its batch
        limit = divergence_factor * torch.as_tensor(np.maximum(np.asarray(first["train_loss"], dtype=np.float64), 1e-300),
                                                    device=Ws[0].device)
        u = problem.uniform_scale if problem.uniform_scale is not None else 1.0
        coefs = Coefficients(eta, scales, u, B, Ws[0])
        elapsed, t, wall_before = 0.0, 0, 0.0
        if saved is not None:  # everything the loop below carries, as it was at the saved log
            for W, V in zip(Ws, saved["Ws"]):
                W.copy_(V)
            trace, t, elapsed, wall_before = saved["trace"], saved["t"], saved["elapsed"], saved["wall_s"]
            limit.copy_(saved["limit"])
            for neg, v in zip(coefs.neg, saved["neg"]):
                neg.copy_(v)
            coefs.uniform = list(saved["uniform"])
            if patience > 0:
                best, since = saved["best"].copy(), saved["since"].copy()
            trace.resumed = {"step": t, "wall_s_before": wall_before, "threads_then": saved["threads"],
                             "threads_now": torch.get_num_threads()}

        def save():
            checkpoint.save({"Ws": [W.detach().cpu().clone() for W in Ws], "trace": trace, "t": t,
                             "elapsed": elapsed, "wall_s": wall_before + time.perf_counter() - wall0,
                             "limit": limit.cpu().clone(), "neg": [x.cpu().clone() for x in coefs.neg],
                             "uniform": list(coefs.uniform), "threads": torch.get_num_threads(),
                             **({"best": best.copy(), "since": since.copy()} if patience > 0 else {})})
        losses = torch.empty((CHUNK, B), dtype=Ws[0].dtype, device=Ws[0].device)

        def check(rows, t_first):  # rows (n, B): the losses before steps t_first, t_first + 1, ...
            if bool(torch.all(rows <= limit)):  # `not <=` also catches NaN
                return
            bad = ~(rows <= limit).cpu()
            if not drop_diverged:
                i = int(torch.nonzero(bad.any(dim=1))[0, 0])
                raise _diverged(rows[i], limit, t_first + i, *hint)
            for k in torch.nonzero(bad.any(dim=0))[:, 0].tolist():
                i = int(torch.nonzero(bad[:, k])[0, 0])
                trace.diverged[k] = _diverged(rows[i], limit, t_first + i, *hint, k=k)
                for W in Ws:
                    W[k] = 0.0
                coefs.drop(k)
                limit[k] = float("inf")

        if fused and kernel == "numpy":  # zero steps: numba compiles the compiled loop here, outside the timing
            chunk_fn(problem, Ws, coefs, 0, losses)
        while t < steps and len(trace.diverged) < B:
            chunk = min(log_every - t % log_every, steps - t)
            sync()
            t0 = time.perf_counter()
            while chunk > 0:
                n = min(chunk, CHUNK)
                if fused and chunk_fn(problem, Ws, coefs, n, losses):
                    check(losses[:n], t)
                else:  # the eager loop: the same buffer, so a divergence is found at its exact step on CUDA too
                    for i in range(n):
                        losses[i] = _eager_step(Ws, coefs, problem)
                        if not cuda:  # on the host: stop at once (no step computed past it)
                            check(losses[i:i + 1], t + i)
                    if cuda:  # one host–device synchronisation per chunk, as the fused path
                        check(losses[:n], t)
                t += n
                chunk -= n
            sync()
            elapsed += time.perf_counter() - t0
            m = log_metrics(trace, Ws, problem, t, elapsed, n_sv)
            tl = torch.as_tensor(m["train_loss"])
            check(tl[None].to(limit.device), t)
            if progress is not None:
                progress(t, float(tl.mean()), float(np.mean(m["recovery_error"])), t / max(elapsed, 1e-12))
            if tol > 0 and bool(torch.all(tl < tol)):
                trace.stopped = "tolerance"
                break
            if patience > 0:
                te = np.asarray(m["test_error"], dtype=np.float64)
                better = te < best * (1.0 - patience_delta)  # strictly lower (by δ·best); a NaN is never better
                best = np.where(better, te, best)
                since = np.where(better, 0, since + 1)
                if bool(np.all(since >= patience)):
                    trace.stopped = "patience"
                    break
            if checkpoint is not None and t < steps and checkpoint.due():
                save()
    return trace


def _eager_step(Ws, coefs, problem):
    """:func:`gd_step` with precomputed coefficients: the eager reference the fused chunks equal bitwise."""
    out = problem.factored_gradients(Ws)
    loss, grads = out if out is not None else _gradients(Ws, problem)
    coefs.apply(Ws, grads)
    return loss


def _diverged(loss, limit, step, problem, seeds, etas, depth, alphas, loss_name, k=None) -> DivergenceError:
    """The error for the first diverging instance of ``loss`` (or instance ``k``), with theory's hint."""
    if k is None:
        bad = ~(torch.as_tensor(loss).cpu() <= torch.as_tensor(limit).cpu())
        k = int(torch.nonzero(bad)[0, 0])
    n1, n2 = problem.shape
    kw = problem.stability_kwargs(k)
    eta_c = theory.problem_critical_step_size(problem.sigma_max(k), depth=depth, shape=(n1, n2),
                                              loss=loss_name, alpha=alphas[k], **kw)
    err = DivergenceError(step, float(torch.as_tensor(loss)[k]), seeds[k], etas[k], float(eta_c), loss_name)
    err.index = k  #: the instance's place in its batch
    return err

r"""GD on deep matrix factorization *through* the edge of stability (the sequel, arXiv 2502.20531).

Its own loop, in float64 on the CPU: :math:`W_l\leftarrow W_l-\eta s_l\nabla_{W_l}\ell` with
:math:`\ell=\tfrac12\|W_L\cdots W_1-M^*\|_F^2` (``loss="sum"``) or that over :math:`n_1n_2`
(``"mean"``). Beyond :math:`\eta_c` GD need not converge, so a run is not stopped by a large loss
ratio: it is **bounded** unless the end-to-end matrix leaves a ball that no bounded orbit reaches
(:data:`ESCAPE`), or a number stops being finite — **diverged**. What it logs answers the sequel's
questions: the end-to-end and per-layer singular values, the balancing gaps
:math:`\|W_{l+1}^\top W_{l+1}-W_lW_l^\top\|_F`, the last iterates (for the period and the oscillating
subspace, :func:`detect_period`, :func:`oscillating_subspace`) and the sharpness
(top Hessian eigenvalue, :func:`sharpness`: Lanczos on Hessian–vector products, never a dense Hessian).
Nothing here asks theory for a number it then reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import scipy.sparse.linalg as sla
import torch

from theory import checks

from .linalg import complete_basis, orthonormal_columns

__all__ = [
    "ESCAPE",
    "INITS",
    "PERIOD_RTOL",
    "EosTrace",
    "classify",
    "detect_period",
    "init_layers",
    "oscillating_subspace",
    "period_of",
    "run_eos",
    "sharpness",
]

INITS = ("sequel", "orthogonal", "compressed")
#: a run has diverged once :math:`‖W_{L:1}‖_F` exceeds ESCAPE × (:math:`‖M^*‖_F + ‖W_{L:1}(0)‖_F`). A bounded orbit of a
#: mode stays below its map's maximum: end-to-end ≤ σ(1 + ησ^{2−2/L})^L ≤ σ e^{2r} at η = r η_c, i.e.
#: < 55 σ for every r ≤ 2 (beyond which no bounded orbit was found); past the ball, |x| ↦ η|x|^{2L−1}
#: escapes doubly exponentially, so the classification does not depend on the factor's exact value.
ESCAPE = 1e3
#: two logged values are "the same point of an orbit" within PERIOD_RTOL × their scale: an attracting
#: cycle damps each step's rounding (a few ulps × L·d) by its multiplier |m| < 1, leaving at most
#: ~ulps/(1 − |m|); 2^20 ulps (2.3e-10) allows |m| up to 1 − 1e-5 at d, L <= 16.
PERIOD_RTOL = 2.0**20 * np.finfo(float).eps


@dataclass
class EosTrace:
    """A run's log: arrays with a leading step axis (one row per logged step)."""

    steps: np.ndarray          #: logged steps
    loss: np.ndarray           #: the loss (its normalisation: ``loss_name``)
    singular_values: np.ndarray  #: (T, min(n1, n2)) singular values of :math:`W_{L:1}`
    layer_singular_values: np.ndarray  #: (T, L, k) singular values of W_1 … W_L (k = their smallest size)
    gap: np.ndarray            #: (T, L−1) ‖V_kᵀ(W_{l+1}ᵀW_{l+1} − W_lW_lᵀ)V_k‖_F, V_k: W_{l+1}'s top-k right singular vectors (run_eos)
    tail: np.ndarray           #: (keep, n1, n2) the last logged end-to-end matrices
    status: str                #: "bounded" or "diverged"
    diverged_at: int | None    #: the step at which it left the ball (None if bounded)
    weights: list              #: final layers W_1 … W_L (numpy), or the last finite ones
    sharpness: np.ndarray = field(default_factory=lambda: np.zeros(0))  #: (S,) top Hessian eigenvalue
    sharpness_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    eta: float = 0.0
    loss_name: str = "sum"
    target_norm: float = 0.0   #: ‖M*‖_F


def init_layers(target: np.ndarray, *, depth: int, init: str = "sequel", scale: float = 0.01, seed: int = 0,
                rank_hat: int | None = None) -> list[np.ndarray]:
    r"""Initial layers W_1 … W_L (float64).

    - ``"sequel"``: the sequel's scripts, :math:`W_1=0`, :math:`W_l=\text{scale}\cdot I` (l >= 2); square targets.
    - ``"orthogonal"``: :math:`W_l=\text{scale}\cdot Q_l`, :math:`Q_l` Haar from seed ``[seed, l]``; square targets.
    - ``"compressed"``: Algorithm 1 with the target's own singular vectors (r̂ = ``rank_hat``):
      :math:`W_1=\text{scale}\,V_{\hat r}^\top`, inner :math:`\text{scale}\,I_{\hat r}`, :math:`W_L=\text{scale}\,U_{\hat r}`;
      past the target's numerical rank a fixed completion (:func:`sim.linalg.complete_basis`), never the
      LAPACK's null-space basis; a cut inside a repeated singular value is refused (the vectors are not defined).
    """
    L = checks.depth(depth)
    checks.choice("init", init, INITS)
    s = float(checks.positive("scale", scale, allow_zero=False))
    M = np.asarray(target, dtype=float)
    if M.ndim != 2 or not np.all(np.isfinite(M)):
        raise ValueError(f"target must be a finite 2-D array, got shape {M.shape}")
    n1, n2 = M.shape
    if init in ("sequel", "orthogonal"):
        if n1 != n2:
            raise ValueError(f"init = {init!r} needs a square target, got shape {M.shape}; use init='compressed'")
        if init == "sequel":
            return [np.zeros((n1, n1))] + [s * np.eye(n1) for _ in range(L - 1)]
        Qs = []
        for l in range(L):
            Q = orthonormal_columns(np.random.default_rng([seed, 20 + l]).standard_normal((n1, n1)))
            Qs.append(s * Q)
        return Qs
    U, S, Vt = np.linalg.svd(M)
    k = min(n1, n2)
    rh = checks.nonneg_int("rank_hat", k if rank_hat is None else rank_hat, 1)
    if rh > k:
        raise ValueError(f"rank_hat must be an integer in [1, {k}], got {rh!r}")
    tol = max(n1, n2) * np.finfo(float).eps * (S[0] if S[0] > 0 else 1.0)  # the SVD's backward error
    r = int(np.sum(S > tol))
    if rh < r and S[rh - 1] - S[rh] <= tol:
        raise ValueError(f"rank_hat = {rh} cuts a repeated singular value ({S[rh - 1]:.6g}); its singular "
                         "vectors are not defined: choose another rank_hat")
    m = min(rh, r)
    Ur, Vr = complete_basis(U[:, :m], rh), complete_basis(Vt[:m].T, rh)
    return [s * Vr.T] + [s * np.eye(rh) for _ in range(L - 2)] + [s * Ur]


def _product(Ws):
    P = Ws[0]
    for W in Ws[1:]:
        P = W @ P
    return P


def _loss_fn(M: torch.Tensor, shapes, loss_name: str):
    N = 1.0 if loss_name == "sum" else float(M.numel())
    sizes = [a * b for a, b in shapes]

    def f(theta):
        Ws, o = [], 0
        for (a, b), n in zip(shapes, sizes):
            Ws.append(theta[o:o + n].reshape(a, b))
            o += n
        R = _product(Ws) - M
        return 0.5 * torch.sum(R * R) / N

    return f


def sharpness(weights, target, *, loss: str = "sum", k: int = 1, seed: int = 0) -> np.ndarray:
    r"""The ``k`` largest Hessian eigenvalues of the loss at ``weights`` (Lanczos, ARPACK ``eigsh``).

    The Hessian is applied as :math:`Hv=\tfrac{d}{dt}\nabla\ell(\theta+tv)|_{t=0}`
    (``torch.func.jvp`` of ``torch.func.grad``) on a :class:`scipy.sparse.linalg.LinearOperator`;
    the start vector comes from ``seed``. With n <= k + 1 parameters (where ARPACK cannot run) the
    Hessian is assembled from n HVPs instead — the only dense case, and a tiny one.
    """
    checks.choice("loss", loss, ("sum", "mean"))
    Ws = [torch.as_tensor(np.asarray(W, dtype=float)) for W in weights]
    M = torch.as_tensor(np.asarray(target, dtype=float))
    shapes = [tuple(W.shape) for W in Ws]
    if len(shapes) < 2 or not all(len(a) == 2 for a in shapes) or M.ndim != 2 or \
            not all(b[1] == a[0] for a, b in pairwise(shapes)) or (shapes[-1][0], shapes[0][1]) != tuple(M.shape):
        raise ValueError(f"weights must be L >= 2 matrices W_1 … W_L with W_L⋯W_1 of the target's shape "
                         f"{tuple(M.shape)}, got shapes {shapes}")
    f = _loss_fn(M, shapes, loss)
    theta = torch.cat([W.reshape(-1) for W in Ws])
    n = theta.numel()
    k = checks.nonneg_int("k", k, 1)
    if k > n:
        raise ValueError(f"k must be an integer in [1, {n}] (the number of parameters), got {k!r}")
    g = torch.func.grad(f)

    def hvp(v):
        return torch.func.jvp(g, (theta,), (torch.as_tensor(np.asarray(v, dtype=float).reshape(-1)),))[1].numpy()

    if n <= k + 1:
        H = np.stack([hvp(e) for e in np.eye(n)])
        return np.sort(np.linalg.eigvalsh(0.5 * (H + H.T)))[::-1][:k]
    op = sla.LinearOperator((n, n), matvec=hvp, dtype=float)
    v0 = np.random.default_rng([seed, 7]).standard_normal(n)
    vals = sla.eigsh(op, k=k, which="LA", v0=v0, tol=0.0, return_eigenvectors=False)
    return np.sort(vals)[::-1]


def run_eos(target, *, depth: int, eta: float, steps: int, init: str = "sequel", scale: float = 0.01,
            loss: str = "sum", alpha: float = 1.0, rank_hat: int | None = None, seed: int = 0,
            log_every: int = 1, keep: int = 64, sharpness_every: int = 0, layers=None,
            gap_rank: int | None = None) -> EosTrace:
    r"""Run GD for ``steps`` steps from :func:`init_layers` (or the given ``layers``) and log (module docstring).

    ``alpha`` multiplies the outer layers' step (Algorithm 1; meaningful for ``init="compressed"``).
    ``sharpness_every`` > 0 logs :func:`sharpness` every that many steps (0: never). A diverged run
    stops at the step it leaves the ball; its trace says so (``status``), it is not an exception.
    ``gap_rank`` = k restricts the logged balancing gap to the top-k right singular directions of each
    :math:`W_{l+1}` (the modes that learn; default: all, the Frobenius norm of the whole gap),
    :math:`\|V_k^\top(W_{l+1}^\top W_{l+1}-W_lW_l^\top)V_k\|_F`. Where the k-th singular value is tied with
    the (k+1)-th (to the SVD's backward error, ``max(shape)·eps·s_1``), the top k directions are not defined
    (LAPACK would pick some basis of the tied space): V_k then spans every direction with a value >= s_k,
    the smallest subspace that is defined — at the sequel's init (:math:`W_l=0.01I`) that is the whole gap.

    Raises:
        ValueError: a bad argument (named, with its value and range), a target that is not a finite 2-D
            array, or ``layers`` that are not L finite matrices chaining to the target's shape — before any step.
    """
    L = checks.depth(depth)
    et = float(checks.positive("eta", eta))
    T = checks.nonneg_int("steps", steps, 1)
    every = checks.nonneg_int("log_every", log_every, 1)
    keep = checks.nonneg_int("keep", keep, 1)
    sh_every = checks.nonneg_int("sharpness_every", sharpness_every)
    checks.choice("loss", loss, ("sum", "mean"))
    al = float(checks.positive("alpha", alpha))
    if gap_rank is not None:
        checks.nonneg_int("gap_rank", gap_rank, 1)
    M = np.asarray(target, dtype=float)
    if M.ndim != 2 or not np.all(np.isfinite(M)):
        raise ValueError(f"target must be a finite 2-D array, got shape {M.shape}")
    Ws0 = init_layers(M, depth=L, init=init, scale=scale, seed=seed, rank_hat=rank_hat) if layers is None \
        else [np.array(W, dtype=float) for W in layers]
    if len(Ws0) != L:
        raise ValueError(f"layers must hold depth = {L} matrices, got {len(Ws0)}")
    shapes = [W.shape for W in Ws0]
    chain = all(len(a) == 2 for a in shapes) and all(b[1] == a[0] for a, b in pairwise(shapes))
    if not chain or shapes[0][1] != M.shape[1] or shapes[-1][0] != M.shape[0] or \
            not all(np.all(np.isfinite(W)) for W in Ws0):
        raise ValueError(f"layers must be finite matrices W_1 … W_L with W_L⋯W_1 of the target's shape {M.shape}, "
                         f"got shapes {shapes}")
    if gap_rank is not None and gap_rank > min(W.shape[1] for W in Ws0[1:]):
        raise ValueError(f"gap_rank must be an integer in [1, {min(W.shape[1] for W in Ws0[1:])}] (the inner "
                         f"layers' input sizes), got {gap_rank!r}")
    Mt = torch.as_tensor(M)
    Ws = [torch.as_tensor(W.copy()) for W in Ws0]
    N = 1.0 if loss == "sum" else float(M.size)
    sc = [al] + [1.0] * (L - 2) + [al]
    limit = ESCAPE * (float(np.linalg.norm(M)) + float(np.linalg.norm(_product(Ws0))))
    log = {k: [] for k in ("steps", "loss", "sv", "lsv", "gap")}
    tail, shp, shp_steps = [], [], []
    status, at = "bounded", None

    ks = min(min(W.shape) for W in Ws)
    same = len({tuple(W.shape) for W in Ws}) == 1

    def record(t, P, R):
        Wn = [W.numpy() for W in Ws]  # views: the logging reads, never copies, the layers
        Pn = P.numpy()
        log["steps"].append(t)
        log["loss"].append(0.5 * float(np.sum(R.numpy() ** 2)) / N)
        log["sv"].append(np.linalg.svd(Pn, compute_uv=False))
        log["lsv"].append(np.linalg.svd(np.stack(Wn), compute_uv=False)[:, :ks] if same else
                          np.stack([np.linalg.svd(W, compute_uv=False)[:ks] for W in Wn]))
        gaps = []
        for l in range(L - 1):
            D = Wn[l + 1].T @ Wn[l + 1] - Wn[l] @ Wn[l].T
            if gap_rank is not None:
                _, sv, Vt = np.linalg.svd(Wn[l + 1])
                sv = np.concatenate([sv, np.zeros(Vt.shape[0] - sv.size)])  # a wide layer's null directions: 0
                tie = max(Wn[l + 1].shape) * np.finfo(float).eps * sv[0]  # the SVD's backward error
                k = int(np.sum(sv >= sv[gap_rank - 1] - tie))  # gap_rank, or more where the cut is tied
                V = Vt[:k].T
                D = V.T @ D @ V
            gaps.append(float(np.linalg.norm(D)))
        log["gap"].append(gaps)
        tail.append(Pn.copy())
        if len(tail) > keep:
            tail.pop(0)

    with torch.no_grad():
        for t in range(T + 1):
            pre = [Ws[0]]
            for W in Ws[1:]:
                pre.append(W @ pre[-1])
            P = pre[-1]
            R = P - Mt
            pn = float(torch.linalg.matrix_norm(P))
            # a non-finite layer makes the product non-finite (inf·0 = nan), so one check covers both
            if not (np.isfinite(pn) and pn <= limit):
                status, at = "diverged", t
                break
            if t % every == 0:
                record(t, P, R)
            if sh_every and t % sh_every == 0:
                shp.append(sharpness([W.numpy() for W in Ws], M, loss=loss)[0])
                shp_steps.append(t)
            if t == T:
                break
            B = R / N  # ∇_{W_{L:1}} ℓ
            grads = [None] * L
            for l in range(L - 1, -1, -1):
                grads[l] = B @ pre[l - 1].T if l > 0 else B
                B = Ws[l].T @ B
            for W, G, s in zip(Ws, grads, sc):
                W.sub_(G, alpha=et * s)
    arr = {k: np.asarray(v, dtype=float) for k, v in log.items()}
    return EosTrace(steps=arr["steps"].astype(int), loss=arr["loss"], singular_values=arr["sv"],
                    layer_singular_values=arr["lsv"], gap=arr["gap"].reshape(len(log["steps"]), L - 1),
                    tail=np.asarray(tail), status=status, diverged_at=at,
                    weights=[W.numpy().copy() for W in Ws], sharpness=np.asarray(shp, dtype=float),
                    sharpness_steps=np.asarray(shp_steps, dtype=int), eta=et, loss_name=loss,
                    target_norm=float(np.linalg.norm(M)))


def detect_period(values, *, max_period: int = 64, rtol: float = PERIOD_RTOL) -> int | None:
    r"""Smallest p <= ``max_period`` with :math:`\max_t\|x_t-x_{t-p}\|_\infty\le\text{rtol}\cdot\max|x|`
    over the series' last ``2·max_period`` rows; ``None`` if none (chaotic, or not yet on its orbit).

    Args:
        values: (T, k) (or (T,)) logged values along an orbit, one row per step (log_every = 1).
    Raises:
        ValueError: if the series has fewer than ``3·max_period`` rows (too short to show a period), or
            holds a non-finite value (a diverged run has no orbit).
    """
    x = np.asarray(values, dtype=float)
    x = x.reshape(x.shape[0], -1) if x.ndim else x.reshape(1, 1)
    pmax = checks.nonneg_int("max_period", max_period, 1)
    rtol = float(checks.positive("rtol", rtol))
    if x.shape[0] < 3 * pmax:
        raise ValueError(f"values must hold at least 3 * max_period = {3 * pmax} logged steps to show a period "
                         f"up to {pmax}, got {x.shape[0]}; run longer or lower max_period")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite: a diverged run has no orbit (check EosTrace.status)")
    w = x[-2 * pmax:]
    scale = max(float(np.max(np.abs(w))), np.finfo(float).tiny)
    for p in range(1, pmax + 1):
        if np.max(np.abs(w[p:] - w[:-p])) <= rtol * scale:
            return p
    return None


def period_of(trace: EosTrace, *, rank: int, max_period: int = 64) -> int | None:
    """:func:`detect_period` of a run's top ``rank`` end-to-end singular values, refusing a diverged run
    with a message that says so (rather than "too short"), before any search."""
    if trace.status == "diverged":
        raise ValueError(f"trace: GD diverged at step {trace.diverged_at} (eta = {trace.eta:.6g}, {trace.loss_name} "
                         "loss), so it has no period; lower eta below the bounded regime's end")
    return detect_period(trace.singular_values[:, :checks.nonneg_int("rank", rank, 1)], max_period=max_period)


def oscillating_subspace(tail, period: int, *, rtol: float = PERIOD_RTOL) -> tuple[int, np.ndarray]:
    r"""Dimension and basis of the column space in which the last ``period`` iterates differ.

    :math:`D=[W_{t_1}-\bar W,\dots,W_{t_p}-\bar W]` (the orbit's points minus their mean, side by side);
    its numerical rank (singular values above ``rtol``·max‖W‖, the same rounding budget as
    :func:`detect_period`) is the number of singular directions of :math:`W_{L:1}` that oscillate; a
    fixed point (p = 1, or D = 0) has dimension 0 and an empty basis, decided before any SVD.

    Returns:
        ``(dim, U)`` with U of shape (n1, dim).
    """
    X = np.asarray(tail, dtype=float)
    p = checks.nonneg_int("period", period, 1)
    rtol = float(checks.positive("rtol", rtol))
    if X.ndim != 3 or X.shape[0] < p:
        raise ValueError(f"tail must hold at least period = {p} matrices (keep >= period), got shape {X.shape}")
    pts = X[-p:]
    D = np.concatenate(list(pts - pts.mean(axis=0)), axis=1)
    scale = max(float(np.max(np.abs(pts))), np.finfo(float).tiny)
    if p == 1 or not np.any(np.abs(D) > rtol * scale):
        return 0, np.zeros((X.shape[1], 0))
    U, S, _ = np.linalg.svd(D, full_matrices=False)
    dim = int(np.sum(S > rtol * scale * max(D.shape)))
    return dim, U[:, :dim]


def classify(trace: EosTrace, *, rank: int, max_period: int = 64) -> str:
    r"""What the run's top ``rank`` end-to-end singular values do at the end of the trace:
    ``"diverged"``, ``"collapsed"`` (over the last 2·max_period steps the r-th value stays below 1e-3 of the
    largest it reached, which exceeded 1% of ‖M*‖_F: the mode was learned, then fell back towards the saddle
    :math:`W_{L:1} = 0`; an orbit inside the EoS window returns to O(σ) every few steps),
    ``"converged"`` (period 1), ``"period-p"`` (p <= ``max_period``) or ``"aperiodic"`` (no period found:
    chaos, or not yet on its orbit). Needs ``log_every = 1`` and ``3·max_period`` logged steps.
    """
    if trace.status == "diverged":
        return "diverged"
    r = checks.nonneg_int("rank", rank, 1)
    x = trace.singular_values[:, :r]
    p = detect_period(x, max_period=max_period)
    peak = float(np.max(x[:, -1]))
    if np.max(x[-2 * max_period:, -1]) <= 1e-3 * peak and peak > 0.01 * trace.target_norm:
        return "collapsed"
    if p is None:
        return "aperiodic"
    return "converged" if p == 1 else f"period-{p}"

r"""Recovery problems (Section 2.1) behind one protocol: each kind is a small class that says what it can do.

The engine (:mod:`sim.gd`, :mod:`sim.altmin`, :mod:`sim.models`) asks a problem, never tests its kind:

==========================  ======================================================================
``residual(left, right)``   loss and sum-loss gradient w.r.t. :math:`W=\text{left}\cdot\text{right}` (dense kinds)
``factored_gradients(Ws)``  every layer's gradient without the :math:`n_1\times n_2` residual, or ``None``
``log_state(Ws, n_sv)``     the logged metrics, singular values and alignments of the current weights
``normaliser``              (B,) N of the mean loss (1 for sum); ``uniform_scale`` when all N agree
``sigma_max()``             σ_max for theory's stable step size; ``stability_kwargs(k)`` the rest
``spectral_factors(k, …)``  Algorithm 1's U, V (surrogate of Eq. 8, or the target: ``oracle``)
``least_squares(F, side)``  one AltMin half-step's minimum-norm rows (completion-like kinds)
==========================  ======================================================================

Dense kinds hold a batch of B instances (one per seed) as (B, n1, n2) tensors, each built from its
own seed exactly as a single run would build it (:mod:`sim.build`), with the sum-normalised loss

* :class:`Factorization` (Eq. 5): :math:`\tfrac12\|W-M^*\|_F^2`
* :class:`Completion` (Eq. 6):    :math:`\tfrac12\|P_\Omega(W-M^*)\|_F^2`; :class:`MovieLens` on the ratings
* :class:`Sensing`:               :math:`\tfrac12\|\mathcal A(W)-y\|^2`, :math:`\mathcal A(W)_i=\langle A_i,W\rangle`

or, with ``loss="mean"``, the same divided by N (n1·n2, |Ω| or m; :func:`theory.normaliser`). The
sparse kind, :class:`sim.sparse_completion.SparseCompletion`, implements the same protocol from
index and value arrays.

Degenerate inputs are refused when a problem is built, before any work: a target with no nonzero
entry (every relative error divides by ‖M*‖), a mask with an entry other than 0 or 1, and an
instance whose mask (or MovieLens test mask) observes no entry. A relative error over a set of
entries on which the target is zero — e.g. the unobserved entries when every entry is observed
(p = 1) — is NaN by definition, computed explicitly, not 0/0.
"""

from __future__ import annotations

import numpy as np
import torch

from .gd import _backward, _mm, _prefixes, _t, end_to_end
from .linalg import complete_basis, least_squares_columns

__all__ = ["Problem", "DenseProblem", "Factorization", "Completion", "MovieLens", "Sensing", "batched_svd"]


def batched_svd(W: torch.Tensor):
    """Thin SVD of a batch (B, m, n). LAPACK's divide-and-conquer driver (gesdd, torch's on the CPU) may fail
    to converge on a matrix with many repeated singular values — exactly what an orthogonal init makes
    (W_L(0) = εQ, W(0) = ε^L Q), and whether it does depends on the LAPACK build. Such an instance is then
    computed by the QR-iteration driver (gesvd, scipy, float64), which always converges; its singular
    values agree to rounding either way, and the vectors of a repeated value are undefined in both."""
    try:
        return torch.linalg.svd(W, full_matrices=False)
    except torch.linalg.LinAlgError:
        import scipy.linalg

        out = []
        for k in range(W.shape[0]):
            try:
                out.append(torch.linalg.svd(W[k:k + 1], full_matrices=False))
            except torch.linalg.LinAlgError:
                u, s, vh = scipy.linalg.svd(W[k].detach().cpu().double().numpy(), full_matrices=False,
                                            lapack_driver="gesvd")
                out.append(tuple(torch.as_tensor(x, dtype=W.dtype, device=W.device)[None] for x in (u, s, vh)))
        return tuple(torch.cat([o[i] for o in out]) for i in range(3))


class Problem:
    """The protocol every problem kind implements (module docstring). Subclasses set ``kind``."""

    kind: str = "abstract"
    storage: str = "dense"
    U = sigma = V = None  #: the target's singular factors (B, n1, r), (B, r), (B, n2, r) when known

    def factored_gradients(self, Ws, *, force: bool = False):
        """(losses, gradients) computed without the n1×n2 residual, or ``None``: use :meth:`residual`."""
        return None

    def uses_factored_step(self, Ws) -> bool:
        return False

    def fused_terms(self, Ws):
        """``(kind, tensors)`` for :func:`sim.fused.fused_chunk` (the same step without Python between its
        products), or ``None``: this kind's step has no fused form and the engine takes the eager loop."""
        return None

    def numpy_terms(self, Ws):
        """``(kind, arrays)`` for ``kernel="numpy"`` (:func:`sim.fused_np.numpy_chunk`): the fused terms, and
        for sensing a form of its own (its operator read once a step, :mod:`sim.fused_nb`)."""
        return self.fused_terms(Ws)

    def stability_kwargs(self, k: int) -> dict:
        """Keyword arguments of :func:`theory.problem_critical_step_size` for instance k."""
        return {"problem": self.kind}


class DenseProblem(Problem):
    """Shared by the dense kinds: the target and its metrics as (B, n1, n2) tensors."""

    mask = test_mask = A = y = None

    def __init__(self, target, loss, U=None, sigma=None, V=None, *, surrogate=None, varying_n: bool = False):
        self.target, self.loss, self.U, self.sigma, self.V = target, loss, U, sigma, V
        self.surrogate = surrogate       #: (B, n1, n2) Eq. (8), up to a positive scale
        self.varying_n = varying_n       #: N differs between instances by construction (Bernoulli Ω, mean loss)
        self._check_not_degenerate()
        # Decided by construction, not by comparing values, so that a batch and its single
        # runs take the same arithmetic path (bitwise-equal results).
        self._inv_n = 1.0 / self.normaliser
        self.uniform_scale = None if self.varying_n else float(self._inv_n[0])
        self.target_sq = torch.linalg.matrix_norm(self.target) ** 2  # (B,) ‖M*‖², for the factored step

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.target.shape[-2:])

    @property
    def batch(self) -> int:
        return self.target.shape[0]

    def _count(self) -> torch.Tensor:
        """(B,) N of the mean normalisation."""
        n1, n2 = self.shape
        return torch.full((self.batch,), float(n1 * n2), dtype=self.target.dtype, device=self.target.device)

    @property
    def normaliser(self) -> torch.Tensor:
        """(B,) N of the mean normalisation (1 for sum)."""
        if self.loss == "sum":
            return torch.ones(self.batch, dtype=self.target.dtype, device=self.target.device)
        return self._count()

    def loss_and_grad(self, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,) losses and (B, n1, n2) gradients with respect to the end-to-end matrix W."""
        loss, g, scale = self.residual(W)
        if scale is None:
            return loss, g
        return loss, g * scale

    def fused_terms(self, Ws):
        """The residual step's tensors (:meth:`residual` with the base :meth:`_sum_residual`)."""
        per_instance = self.uniform_scale is None
        return "residual", {"M": self.target, "mask": self.mask if self.mask is not None else self.target[:0],
                            "has_mask": self.mask is not None, "inv_n": self._inv_n, "per_instance": per_instance,
                            "u": 1.0 if per_instance else self.uniform_scale}

    def _sum_residual(self, left, right):
        """(sum loss, residual) of factorization/completion, formed in one pass: ``baddbmm(-M*, left, right)``."""
        g = (left - self.target) if right is None else torch.baddbmm(self.target, left, right, beta=-1)
        if self.mask is not None:
            g.mul_(self.mask)
        return 0.5 * torch.linalg.vector_norm(g, dim=(1, 2)) ** 2, g

    def residual(self, left: torch.Tensor, right: torch.Tensor | None = None):
        r"""The engine's fused form. With ``W = left @ right`` (or ``W = left``), returns
        ``(loss, g, scale)`` where ``loss`` (B,) is normalised, ``g`` is the *sum-loss* gradient
        :math:`\nabla_W\tfrac12\|\cdot\|^2` and ``scale`` the per-instance 1/N still to apply
        (``None`` when it is the same for every instance: then it is ``self.uniform_scale``,
        which the engine folds into η)."""
        loss, g = self._sum_residual(left, right)
        if self.uniform_scale is not None:
            return loss * self.uniform_scale, g, None
        return loss * self._inv_n, g, self._inv_n[:, None, None]

    def _check_not_degenerate(self) -> None:
        """ValueError for a zero target, a non-0/1 mask or an empty one (module docstring)."""
        B = self.batch
        nonzero = torch.count_nonzero(self.target.reshape(B, -1), dim=1)
        if bool((nonzero == 0).any()):
            k = int(torch.nonzero(nonzero == 0)[0, 0])
            raise ValueError(f"target of instance {k} is the zero matrix (0 nonzero entries); relative errors "
                             "‖W − M*‖/‖M*‖ need a target with at least 1 nonzero entry")
        n = self.shape[0] * self.shape[1]
        for name, m in (("mask", self.mask), ("test_mask", self.test_mask)):
            if m is None:
                continue
            bad = (m != 0) & (m != 1)
            if bool(bad.any()):
                raise ValueError(f"{name} entries must be 0 or 1, got {float(m[bad][0])!r}")
            counts = torch.count_nonzero(m.reshape(B, -1), dim=1)
            if bool((counts == 0).any()):
                k = int(torch.nonzero(counts == 0)[0, 0])
                raise ValueError(f"{name} of instance {k} observes 0 entries; it must observe between 1 and {n}")

    @staticmethod
    def _relative(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
        """sqrt(num/den) where den > 0, NaN where den == 0 (no reference mass: undefined), never 0/0."""
        ok = den > 0
        return torch.where(ok, torch.sqrt(num / torch.where(ok, den, torch.ones_like(den))),
                           torch.full_like(den, float("nan")))

    def errors(self, W: torch.Tensor) -> dict[str, torch.Tensor]:
        """Relative Frobenius recovery error on all entries (‖M*‖ > 0 is checked when built)."""
        return {"recovery_error": torch.linalg.matrix_norm(W - self.target) / torch.linalg.matrix_norm(self.target)}

    def sigma_max(self, k: int | None = None) -> float:
        """Largest target singular value of instance ``k`` (default: over the batch), for theory's stable step
        size: a diverged seed of a batch gets the hint of its own run, not of the batch's largest target."""
        if self.sigma is not None:
            s = self.sigma if k is None or self.sigma.ndim < 2 else self.sigma[k]
            return float(s.max())
        norms = torch.linalg.matrix_norm(self.target, ord=2)
        return float(norms.max() if k is None or norms.numel() == 1 else norms[k])

    def log_state(self, Ws, n_sv: int) -> dict:
        """The logged numbers of the current weights: metrics (B,), the top singular values of :math:`W_{L:1}`
        (B, n_sv) and, with a known target, the alignments of its singular vectors (Figs. 3, 4)."""
        W = end_to_end(Ws)
        loss, _ = self.loss_and_grad(W)
        state = {"metrics": {"train_loss": loss, **self.errors(W)}}
        U, S, Vh = batched_svd(W)
        state["singular_values"] = S[:, :n_sv]
        if self.U is not None:
            r = self.U.shape[-1]
            state["align_u"] = torch.abs(torch.sum(U[:, :, :r] * self.U, dim=1))   # |<u_i(t), u_i*>|
            state["align_v"] = torch.abs(torch.sum(Vh[:, :r, :].transpose(1, 2) * self.V, dim=1))
            # Fig. 3: top left singular vector of W_L vs u*_1, top right one of W_1 vs v*_1
            uL = batched_svd(Ws[-1])[0][:, :, 0]
            v1 = batched_svd(Ws[0])[2][:, 0, :]
            state["outer"] = torch.stack([torch.abs(torch.sum(uL * self.U[:, :, 0], 1)),
                                          torch.abs(torch.sum(v1 * self.V[:, :, 0], 1))], 1)
        return state

    def spectral_factors(self, k: int, seeds, *, oracle: bool = False):
        r"""Algorithm 1's :math:`U_{\hat r}`, :math:`V_{\hat r}` per instance (float64 numpy (n1, k), (n2, k)): the
        top-k singular vectors of the surrogate (Eq. 8) or, with ``oracle``, of the target. SVD in float64.

        The SVD's sign choice does not matter: flipping :math:`u_i` and :math:`v_i` together flips a
        column of :math:`\widetilde W_L` and a row of :math:`\widetilde W_1`, which GD carries along
        exactly (IEEE rounding is sign-symmetric), so every logged number is bitwise the same. When the
        source has rank < k (the oracle init, or factorization's spectral init, with r̂ > r), the columns
        beyond its rank are :func:`sim.linalg.complete_basis`'s fixed orthonormal completion."""
        src = self.target if oracle else self.surrogate
        Us, Vs = [], []
        for M in src.detach().to("cpu", torch.float64).numpy():
            U, S, Vt = np.linalg.svd(M, full_matrices=False)
            # past the numerical rank (NumPy's matrix_rank cutoff) the singular vectors are the LAPACK's
            # choice of null-space basis: those columns are a fixed completion instead (sim.linalg)
            rank = int(np.count_nonzero(S[:k] > max(M.shape) * np.finfo(float).eps * S[0])) if S[0] > 0 else 0
            Us.append(complete_basis(U[:, :rank], k))
            Vs.append(complete_basis(Vt[:rank].T, k))
        return Us, Vs

    # ------------------------------------------------------------------ AltMin (completion-like kinds)
    def altmin_data(self):
        """(mask, P_Ω(M*)) as (B, n1, n2) tensors: what AltMin fits (a full mask for factorization)."""
        mask = self.mask if self.mask is not None else torch.ones_like(self.target)
        return mask, self.target * mask

    def altmin_init(self, k: int) -> torch.Tensor:
        """U_0 (B, n1, k): AltMin's spectral init of each instance (:func:`sim.altmin.spectral_init`)."""
        from .altmin import spectral_init

        mask, MM = self.altmin_data()
        counts = (mask != 0).sum(dim=(1, 2)).cpu().tolist()  # >= 1: an empty mask is refused when built
        Us = [spectral_init(Mk, int(c), k) for Mk, c in zip(MM.detach().to("cpu", torch.float64).numpy(), counts)]
        return torch.as_tensor(np.stack(Us), dtype=MM.dtype, device=MM.device)

    def least_squares(self, F: torch.Tensor, side: str) -> torch.Tensor:
        """Minimum-norm AltMin half-step: ``side="cols"`` solves for V (B, n2, k) given U = F (B, n1, k),
        ``side="rows"`` for U (B, n1, k) given V = F (B, n2, k) (:func:`sim.linalg.least_squares_columns`)."""
        mask, MM = self.altmin_data()
        if side == "cols":
            return least_squares_columns(F, mask, MM)
        return least_squares_columns(F, mask.transpose(1, 2), MM.transpose(1, 2))

    def n_observed(self, k: int) -> int:
        mask, _ = self.altmin_data()
        return int((mask[k] != 0).sum())


class Factorization(DenseProblem):
    kind = "factorization"

    def uses_factored_step(self, Ws) -> bool:
        """The factored step pays off when the last hidden width k <= min(n1, n2)/4 (the compressed DLN)."""
        return 4 * Ws[-1].shape[-1] <= min(self.shape)

    def fused_terms(self, Ws):
        """The factored step's tensors when :meth:`uses_factored_step`, else the residual step's."""
        if not self.uses_factored_step(Ws):
            return super().fused_terms(Ws)
        return "factored", {"M": self.target, "Mt": self.target.transpose(-1, -2), "tsq": self.target_sq,
                            "half_u": 0.5 * self.uniform_scale}

    def factored_gradients(self, Ws, *, force: bool = False):
        r"""With :math:`W_{L:1}=W_LP`, :math:`P=P_{L-1}`, the chain rule only needs

        .. math:: \nabla_{W_L}=W_L(PP^\top)-M^*P^\top,\qquad B_{L-1}=W_L^\top G=(W_L^\top W_L)P-W_L^\top M^*,

        costing :math:`2n_1n_2k+O(k^2(n_1+n_2))` and no :math:`n_1\times n_2` temporaries
        (:func:`theory.gd_step_macs` with ``factored=True``). The loss
        :math:`\tfrac12(\langle W_L^\top W_L,PP^\top\rangle-2\langle W_L^\top M^*,P\rangle+\|M^*\|^2)` has absolute
        error O(eps·‖M*‖²): good for divergence checks, while logged losses use the explicit residual.
        ``None`` unless ``force`` or :meth:`uses_factored_step`."""
        if not (force or self.uses_factored_step(Ws)):
            return None
        L = len(Ws)
        P = _prefixes(Ws)
        WL, PL, M = Ws[-1], P[-1], self.target
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
        loss = (q.reshape(B) + self.target_sq) * (0.5 * self.uniform_scale)
        return loss, _backward(Ws, P, Bm, grads, L - 2)


class Completion(DenseProblem):
    kind = "completion"

    def __init__(self, target, loss, U=None, sigma=None, V=None, *, mask, surrogate=None, varying_n=False):
        self.mask = mask                 #: (B, n1, n2) observed entries
        super().__init__(target, loss, U, sigma, V, surrogate=surrogate, varying_n=varying_n)

    def _count(self) -> torch.Tensor:
        return self.mask.sum(dim=(1, 2))

    def stability_kwargs(self, k: int) -> dict:
        return {"problem": "completion", "n_observed": int(self.mask[k].sum())}

    def errors(self, W: torch.Tensor) -> dict[str, torch.Tensor]:
        """Recovery error on all entries and on the unobserved ones (NaN where the target is zero on every
        unobserved entry, e.g. p = 1: a relative error over no reference mass is undefined)."""
        out = super().errors(W)
        D = W - self.target
        un = 1.0 - self.mask
        out["unobserved_error"] = self._relative((D * un).pow(2).sum(dim=(1, 2)),
                                                 (self.target * un).pow(2).sum(dim=(1, 2)))
        return out


class MovieLens(Completion):
    """MovieLens-100K: the 943×1682 ratings (0 = unrated) on a seeded 80/20 split; no known target."""

    kind = "movielens"

    def __init__(self, target, loss, *, mask, test_mask, surrogate=None):
        self.test_mask = test_mask       #: (B, n1, n2) held-out ratings
        super().__init__(target, loss, mask=mask, surrogate=surrogate)

    def errors(self, W: torch.Tensor) -> dict[str, torch.Tensor]:
        """Held-out error ‖P_T(W − R)‖/‖P_T(R)‖ and RMSE over the test ratings T (|T| >= 1 checked when built)."""
        D = W - self.target
        T = self.test_mask
        num = (D * T).pow(2).sum(dim=(1, 2))
        out = {"test_error": self._relative(num, (self.target * T).pow(2).sum(dim=(1, 2))),
               "test_rmse": torch.sqrt(num / T.sum(dim=(1, 2)))}
        out["recovery_error"] = out["test_error"]
        return out

    def sigma_max(self, k: int | None = None) -> float:
        """No known target: the net fits a full matrix that agrees with the ratings on Ω. Most entries of
        the zero-filled P_Ω(R) are zeros, so its top singular value is far below that of a full matrix of
        ratings (dominated by the mean rating times the all-ones matrix, σ_max ≈ mean·√(n₁n₂)). σ_max is
        therefore estimated as the full matrix's Frobenius norm extrapolated from Ω,
        ‖P_Ω(R)‖_F·√(n₁n₂/|Ω|): an upper bound on σ_max of any matrix whose entries have Ω's mean
        square, and close to it for a matrix dominated by its mean. The zero-filled σ_max would make
        theory's stable step size too large (GD diverges at step sizes it calls stable:
        tests/test_sim_io.py checks the message against such a run). |Ω| >= 1 is checked when built."""
        n_obs = self.mask.sum(dim=(1, 2))
        n = self.shape[0] * self.shape[1]
        est = torch.linalg.matrix_norm(self.target * self.mask) * torch.sqrt(n / n_obs)
        return float(est.max() if k is None or est.numel() == 1 else est[k])


class Sensing(DenseProblem):
    kind = "sensing"

    def __init__(self, target, loss, U=None, sigma=None, V=None, *, A, y, surrogate=None):
        self.A, self.y = A, y            #: (B, m, n1·n2) sensing operator, (B, m) measurements
        super().__init__(target, loss, U, sigma, V, surrogate=surrogate)

    def _count(self) -> torch.Tensor:
        return torch.full((self.batch,), float(self.A.shape[1]), dtype=self.target.dtype, device=self.target.device)

    def fused_terms(self, Ws):
        return None  # its residual is a loop of matrix-vector products (eager)

    def numpy_terms(self, Ws):
        """The sensing step for ``kernel="numpy"``: r = A vec(W) − y and g = Aᵀ r (:meth:`_sum_residual`)."""
        return "sensing", {"A": self.A, "y": self.y, "u": float(self.uniform_scale), "n1": self.shape[0]}

    def stability_kwargs(self, k: int) -> dict:
        return {"problem": "sensing", "n_measurements": int(self.A.shape[1]), "sensing_std": float(self.A[k].std())}

    def _sum_residual(self, left, right):
        W = left if right is None else torch.bmm(left, right)
        # one matrix-vector product per instance: batched bmm picks batch-size-dependent
        # kernels for vectors, and these products are memory-bound anyway
        w = W.reshape(W.shape[0], -1)
        r = torch.stack([torch.mv(A, x) for A, x in zip(self.A, w)]) - self.y
        g = torch.stack([torch.mv(A.T, x) for A, x in zip(self.A, r)]).reshape(W.shape)
        return 0.5 * torch.linalg.vector_norm(r, dim=1) ** 2, g

    def least_squares(self, F, side):  # pragma: no cover  (refused by RunConfig)
        raise ValueError("AltMin does not apply to sensing")

r"""Matrix completion stored sparsely: the GD step, the metrics and the spectral init from factors only.

For a DLN :math:`W_{L:1}=W_LP` (:math:`P=W_{L-1}\cdots W_1`, hidden width k: r̂ for the compressed
net) and the observed entries Ω (:class:`sim.observations.Observations`), one step is

.. math:: r_\Omega=P_\Omega(W_LP-M^*)\ \text{(sampled product)},\qquad
          \nabla_{W_L}=R\,P^\top,\qquad B_{L-1}=W_L^\top R=(R^\top W_L)^\top,

then the inner layers exactly as in the dense engine (:func:`sim.gd._backward`): time
:math:`O(|\Omega|k+(n_1+n_2)k^2)`, memory :math:`O(|\Omega|+(n_1+n_2)k)`, never an n1×n2 array.

Metrics come from factors, in float64, with no cancellation:

* recovery error: :math:`W-M^*=FG^\top` with :math:`F=[W_L,\ U^*\Sigma^*]`, :math:`G=[P^\top,\ -V^*]`;
  with :math:`F=Q_FR_F`, :math:`G=Q_GR_G`, :math:`\|W-M^*\|_F=\|R_FR_G^\top\|_F` — QR is backward
  stable, so the error is resolved down to rounding of the *norm* (not of its square, as
  :math:`\|W\|^2-2\langle W,M^*\rangle+\|M^*\|^2` would be);
* singular values of :math:`W_{L:1}`: :math:`W_L=Q_1R_1`, :math:`P^\top=Q_2R_2`, SVD of the k×k core
  :math:`R_1R_2^\top`; the values past its rank k are exactly 0;
* held-out error on test entries by the same sampled product.
"""

from __future__ import annotations

import numpy as np
import torch

from . import sparse_ops
from .gd import _backward, _prefixes
from .linalg import complete_basis, solve_normal_equations
from .observations import Observations
from .problems import Problem

__all__ = ["SparseCompletion", "factor_norm", "factored_svd", "spectral_factors"]


def factor_norm(F: np.ndarray, G: np.ndarray) -> float:
    """‖F Gᵀ‖_F from thin QRs of F (n1, k) and G (n2, k), never forming F Gᵀ."""
    Rf = np.linalg.qr(F, mode="r")
    Rg = np.linalg.qr(G, mode="r")
    return float(np.linalg.norm(Rf @ Rg.T))


def factored_svd(A: np.ndarray, Bt: np.ndarray):
    """Thin SVD of A @ Bt.T for A (n1, k), Bt (n2, k): (U (n1, k), S (k,), V (n2, k)), in float64."""
    Q1, R1 = np.linalg.qr(A)
    Q2, R2 = np.linalg.qr(Bt)
    Uc, S, Vch = np.linalg.svd(R1 @ R2.T)
    return Q1 @ Uc, S, Q2 @ Vch.T


def _fix_signs(U: np.ndarray, V: np.ndarray):
    """Make the largest-magnitude entry of each column of V positive (and flip U's column with it): a
    singular pair's sign is otherwise the solver's choice."""
    idx = np.argmax(np.abs(V), axis=0)
    s = np.where(V[idx, np.arange(V.shape[1])] < 0, -1.0, 1.0)
    return U * s, V * s


def spectral_factors(obs: Observations, k: int, *, seed: int, rtol: float = 1e-8):
    r"""Top-k singular triplets of :math:`P_\Omega(M)` (the surrogate of Eq. (8) up to the factor 1/p) by
    ARPACK (``scipy.sparse.linalg.svds``, Lanczos bidiagonalisation) started from a seeded vector.

    Accuracy check: every triplet's residual :math:`\max(\|Av-su\|,\|A^\top u-sv\|)` must be at most
    ``rtol``·s₁ (ARPACK converges to machine precision by default; 1e-8 leaves room for the
    k·nnz·eps rounding of the products while still bounding each vector's error by Wedin's
    theorem to rtol·s₁ / gap). Returns (U (n1, k), s (k,), V (n2, k), max relative residual)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import svds

    n1, n2 = obs.shape
    if not 1 <= k < min(n1, n2):
        raise ValueError(f"rank_hat must be in [1, min(n1, n2) - 1 = {min(n1, n2) - 1}] for the sparse "
                         f"spectral init (ARPACK), got {k}")
    A = sp.csr_matrix((obs.vals, obs.cols, obs.crow), shape=obs.shape)
    v0 = np.random.default_rng([seed, 7]).standard_normal(min(n1, n2))
    U, s, Vt = svds(A, k=k, v0=v0, solver="arpack")
    order = np.argsort(s)[::-1]
    U, s, V = U[:, order], s[order], Vt[order].T
    res = max(float(np.linalg.norm(A @ V - U * s, axis=0).max()), float(np.linalg.norm(A.T @ U - V * s, axis=0).max()))
    rel = res / s[0] if s[0] > 0 else np.inf
    if not rel <= rtol:
        raise ValueError(f"the sparse spectral init did not converge: relative residual {rel:.3g} > {rtol:g}")
    U, V = _fix_signs(U, V)
    return U, s, V, rel


class SparseCompletion(Problem):
    """A batch of B completion instances stored as observations (one :class:`Observations` each).

    ``U, sigma, V`` (B, n, r) are the target's factors when it is known (synthetic), else ``None``
    and ``test`` holds held-out entries (a ratings file). ``backend``: see :mod:`sim.sparse_ops`."""

    kind = "completion"
    storage = "sparse"
    BLOCK = {"numba": 8192, "torch": 256}  #: AltMin rows per batch of Gram matrices (torch also holds k×k per entry)

    def __init__(self, obs: list[Observations], loss: str, *, dtype: torch.dtype, device: torch.device,
                 seeds: list[int] | None = None, U=None, sigma=None, V=None, test: list[Observations] | None = None,
                 backend: str | None = None):
        self.obs, self.test, self.loss = obs, test, loss
        self.seeds = list(range(len(obs))) if seeds is None else list(seeds)  #: start vectors of ARPACK
        self.dtype, self.device = dtype, device
        self.backend = backend or sparse_ops.default_backend(device)
        self.U, self.sigma, self.V = U, sigma, V       # torch (B, n1, r), (B, r), (B, n2, r) or None
        self._np_factors = None if U is None else (U.detach().cpu().double().numpy(),
                                                   sigma.detach().cpu().double().numpy(),
                                                   V.detach().cpu().double().numpy())
        n = torch.tensor([o.nnz for o in obs], dtype=dtype, device=device)
        self._inv_n = 1.0 / n if loss == "mean" else torch.ones_like(n)
        same = loss == "sum" or len({o.nnz for o in obs}) == 1
        self.uniform_scale = float(self._inv_n[0]) if same else None
        self.vals = [o.values(dtype, device) for o in obs]

    # ------------------------------------------------------------------ protocol
    @property
    def shape(self) -> tuple[int, int]:
        return self.obs[0].shape

    @property
    def batch(self) -> int:
        return len(self.obs)

    @property
    def normaliser(self) -> torch.Tensor:
        return 1.0 / self._inv_n

    def n_observed(self, k: int) -> int:
        return self.obs[k].nnz

    def _residual(self, b: int, A: torch.Tensor, Bt: torch.Tensor, obs=None, vals=None) -> torch.Tensor:
        obs = self.obs[b] if obs is None else obs
        vals = self.vals[b] if vals is None else vals
        return sparse_ops.sddmm(obs, A.contiguous(), Bt.contiguous(), vals, backend=self.backend)

    def uses_factored_step(self, Ws) -> bool:
        return True

    def stability_kwargs(self, k: int) -> dict:
        return {"problem": "completion", "n_observed": self.obs[k].nnz}

    def residual(self, left, right=None):
        raise ValueError("a sparse problem has no dense residual: its GD step is factored_gradients (matrix-free)")

    def factored_gradients(self, Ws, *, force: bool = False):
        """(losses (B,), ∇ of every layer of the *sum* loss unless the normaliser varies per instance)."""
        with sparse_ops.quiet_torch_threads(Ws[0].device):
            return self._factored_gradients(Ws)

    def _factored_gradients(self, Ws):
        L = len(Ws)
        P = _prefixes(Ws)
        WL, PL = Ws[-1], P[-1]
        gL = torch.empty_like(WL)
        Bm = torch.empty_like(PL)
        loss = torch.empty(self.batch, dtype=WL.dtype, device=WL.device)
        for b in range(self.batch):
            A, Bt = WL[b].contiguous(), PL[b].T.contiguous()
            # the per-instance 1/N goes into the residual only when it is not folded into η
            s = 1.0 if self.uniform_scale is not None else float(self._inv_n[b])
            r, gL[b] = sparse_ops.residual_and_rows(self.obs[b], A, Bt, self.vals[b], s, backend=self.backend)
            loss[b] = 0.5 * torch.dot(r, r) * (self._inv_n[b] / (s * s))
            Bm[b] = sparse_ops.spmm_cols(self.obs[b], r, A, backend=self.backend).T
        grads = [None] * L
        grads[-1] = gL
        return loss, _backward(Ws, P, Bm, grads, L - 2)

    def sigma_max(self, k: int | None = None) -> float:
        """Instance ``k``'s σ_max (default: over the batch), as :meth:`sim.problems.DenseProblem.sigma_max`."""
        if self._np_factors is not None:
            s = self._np_factors[1]
            return float(s.max() if k is None or s.ndim < 2 else s[k].max())
        # no known target: the full matrix's norm extrapolated from Ω, ‖P_Ω(M)‖_F·√(n1n2/|Ω|) (as for MovieLens)
        n = self.shape[0] * self.shape[1]
        obs = self.obs if k is None else [self.obs[k]]
        return max(float(np.linalg.norm(o.vals) * np.sqrt(n / o.nnz)) for o in obs)

    def spectral_factors(self, k: int, seeds: list[int], *, oracle: bool = False):
        """Algorithm 1's U, V per instance: top-k singular vectors of the surrogate P_Ω(M*) by ARPACK (see
        :func:`spectral_factors`), or with ``oracle`` the target's own factors; past the numerical rank a
        fixed completion (:func:`sim.linalg.complete_basis`), as for dense storage."""
        if oracle:
            if self._np_factors is None:
                raise ValueError("init 'oracle' needs a known target")
            U, _, V = self._np_factors
            return [complete_basis(u[:, :k], k) for u in U], [complete_basis(v[:, :k], k) for v in V]
        Us, Vs = [], []
        self.spectral_residual = 0.0
        for o, seed in zip(self.obs, seeds):
            U, s, V, res = spectral_factors(o, k, seed=seed)
            self.spectral_residual = max(self.spectral_residual, res)
            rank = int(np.count_nonzero(s > max(o.shape) * np.finfo(float).eps * s[0])) if s[0] > 0 else 0
            Us.append(complete_basis(U[:, :rank], k))
            Vs.append(complete_basis(V[:, :rank], k))
        return Us, Vs

    # ------------------------------------------------------------------ AltMin, row-wise over Ω
    def altmin_init(self, k: int) -> torch.Tensor:
        """U_0 (B, n1, k): the surrogate's top-k left singular vectors (the scale 1/p does not change them)."""
        Us, _ = self.spectral_factors(k, self.seeds)
        return torch.as_tensor(np.stack(Us), dtype=self.dtype, device=self.device)

    def least_squares(self, F: torch.Tensor, side: str) -> torch.Tensor:
        """Minimum-norm least squares over the observed entries, a block of rows (columns) at a time:
        ``side="cols"`` gives V (B, n2, k) from U = F, ``side="rows"`` U (B, n1, k) from V = F
        (:func:`sim.sparse_ops.normal_equations`, :func:`sim.linalg.solve_normal_equations`). A row or
        column with no observation is exactly 0."""
        n = self.shape[1] if side == "cols" else self.shape[0]
        out = torch.empty((self.batch, n, F.shape[-1]), dtype=F.dtype, device=F.device)
        for b, o in enumerate(self.obs):
            counts = torch.as_tensor(o.col_counts() if side == "cols" else o.row_counts(), device=F.device)
            X = F[b].contiguous()
            step = self.BLOCK[self.backend]
            for lo in range(0, n, step):
                hi = min(n, lo + step)
                G, rhs = sparse_ops.normal_equations(o, X, lo, hi, side=side, backend=self.backend)
                out[b, lo:hi] = solve_normal_equations(G, rhs, counts[lo:hi])
        return out

    # ------------------------------------------------------------------ metrics from factors
    def recovery_errors(self, Ws) -> np.ndarray:
        """(B,) :math:`‖W_{L:1} − M^*‖_F / ‖M^*‖_F` from factors alone (the cheap part of :meth:`log_state`)."""
        P = _prefixes(Ws)
        out = []
        for b in range(self.batch):
            U, sig, V = (x[b] for x in self._np_factors)
            A64 = Ws[-1][b].detach().cpu().double().numpy()
            B64 = P[-1][b].T.detach().cpu().double().numpy()
            out.append(factor_norm(np.hstack([A64, U * sig]), np.hstack([B64, -V])) / float(np.linalg.norm(sig)))
        return np.array(out)

    def log_state(self, Ws, n_sv: int) -> dict:
        """Everything the engine logs, per instance, without an n1×n2 array (module docstring)."""
        P = _prefixes(Ws)
        WL, PL = Ws[-1], P[-1]
        out = {k: [] for k in ("train_loss", "recovery_error", "unobserved_error", "test_error", "test_rmse",
                               "sv", "au", "av", "outer")}
        for b in range(self.batch):
            A, Bt = WL[b].contiguous(), PL[b].T.contiguous()
            r = self._residual(b, A, Bt)
            out["train_loss"].append(float(0.5 * torch.dot(r, r) * self._inv_n[b]))
            A64, B64 = A.detach().cpu().double().numpy(), Bt.detach().cpu().double().numpy()
            Uw, S, Vw = factored_svd(A64, B64)
            sv = np.zeros(n_sv)
            sv[:min(n_sv, S.size)] = S[:n_sv]
            out["sv"].append(sv)
            if self._np_factors is not None:
                U, sig, V = (x[b] for x in self._np_factors)
                m_norm = float(np.linalg.norm(sig))
                err = factor_norm(np.hstack([A64, U * sig]), np.hstack([B64, -V]))
                out["recovery_error"].append(err / m_norm)
                r64 = r.detach().cpu().double().numpy()
                # ‖P_Ωᶜ(W − M*)‖² = ‖W − M*‖² − ‖r_Ω‖², over ‖P_Ωᶜ(M*)‖² = ‖M*‖² − ‖P_Ω(M*)‖²
                num, den = err**2 - float(r64 @ r64), m_norm**2 - float(self.obs[b].vals @ self.obs[b].vals)
                out["unobserved_error"].append(np.sqrt(max(num, 0.0) / den) if den > 0 else np.nan)
                r_ = U.shape[1]
                kk = min(r_, S.size)
                au, av = np.full(r_, np.nan), np.full(r_, np.nan)  # past W's rank k a singular vector is undefined
                au[:kk] = np.abs(np.sum(Uw[:, :kk] * U[:, :kk], axis=0))
                av[:kk] = np.abs(np.sum(Vw[:, :kk] * V[:, :kk], axis=0))
                out["au"].append(au)
                out["av"].append(av)
                uL = factored_svd(A64, np.eye(A64.shape[1]))[0][:, 0]
                v1 = factored_svd(np.eye(Ws[0].shape[-2]), Ws[0][b].detach().cpu().double().numpy().T)[2][:, 0]
                out["outer"].append([abs(float(uL @ U[:, 0])), abs(float(v1 @ V[:, 0]))])
            if self.test is not None:
                t = self._residual(b, A, Bt, obs=self.test[b], vals=self.test[b].values(A.dtype, A.device))
                t64 = t.detach().cpu().double().numpy()
                num = float(t64 @ t64)
                out["test_error"].append(np.sqrt(num / float(self.test[b].vals @ self.test[b].vals)))
                out["test_rmse"].append(np.sqrt(num / self.test[b].nnz))
        metrics = {"train_loss": np.array(out["train_loss"])}
        if self._np_factors is not None:
            metrics["recovery_error"] = np.array(out["recovery_error"])
            metrics["unobserved_error"] = np.array(out["unobserved_error"])
        if self.test is not None:
            metrics["test_error"] = np.array(out["test_error"])
            metrics["test_rmse"] = np.array(out["test_rmse"])
            metrics.setdefault("recovery_error", metrics["test_error"])
        state = {"metrics": metrics, "singular_values": np.stack(out["sv"])}
        if self._np_factors is not None:
            state.update(align_u=np.stack(out["au"]), align_v=np.stack(out["av"]), outer=np.array(out["outer"]))
        return state

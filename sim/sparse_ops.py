r"""The three sparse products of a matrix-free completion step, on the observed entries Ω only.

With observations in CSR order (rows sorted, then columns) and the same entries in CSC order
(``perm[k]`` = CSR position of the k-th CSC entry), a factored model :math:`W=AB^\top`
(:math:`A\in\mathbb R^{n_1\times k}`, :math:`B\in\mathbb R^{n_2\times k}`) needs

.. math:: r_{ij}=a_i^\top b_j-m_{ij}\ \ ((i,j)\in\Omega)\quad\text{(sampled dense–dense product)},\qquad
          R\,B\in\mathbb R^{n_1\times k},\qquad R^\top A\in\mathbb R^{n_2\times k},

each in :math:`O(|\Omega|\,k)` time and no :math:`n_1\times n_2` array. Two backends compute the same
numbers:

* ``numba`` (CPU): one parallel loop over rows (columns) of CSR (CSC); every output element is
  accumulated by one thread in index order, so results do not depend on the thread count.
  :math:`R^\top A` reads the residual through ``perm`` instead of materialising a permuted copy.
* ``torch`` (any device, the CUDA default): gathers in chunks of ``CHUNK`` entries and
  ``torch.sparse.mm`` on CSR tensors. Its reductions are ordered differently, so it agrees
  with ``numba`` to rounding, not bitwise (tested at k·eps).
"""

from __future__ import annotations

import contextlib
import warnings

import numpy as np
import torch

__all__ = ["sddmm", "spmm_rows", "spmm_cols", "residual_and_rows", "normal_equations", "BACKENDS", "default_backend",
           "quiet_torch_threads"]

BACKENDS = ("numba", "torch")
CHUNK = 1 << 18  # entries per gather in the torch backend: bounds its temporaries to CHUNK·k values

try:  # numba is a dependency; the import is guarded so that a broken install names itself
    import numba as _nb
except ImportError as exc:  # pragma: no cover
    _nb = None
    _NUMBA_ERROR = str(exc)


def default_backend(device: torch.device) -> str:
    return "numba" if device.type == "cpu" and _nb is not None else "torch"


def _need_numba():
    if _nb is None:  # pragma: no cover
        raise RuntimeError(f"the numba backend needs numba, which failed to import: {_NUMBA_ERROR}")


if _nb is not None:
    @_nb.njit(parallel=True, cache=True)
    def _sddmm_nb(crow, cols, vals, A, B, out):  # pragma: no cover  (compiled; tested through sddmm)
        k = A.shape[1]
        for i in _nb.prange(crow.size - 1):
            for e in range(crow[i], crow[i + 1]):
                j = cols[e]
                acc = A[i, 0] * B[j, 0]
                for a in range(1, k):
                    acc += A[i, a] * B[j, a]
                out[e] = acc - vals[e]

    @_nb.njit(parallel=True, cache=True)
    def _sddmm_rows_nb(crow, cols, vals, A, B, scale, out, G):  # pragma: no cover
        # the residual and R·B in one pass over each row: B[j] is read once for both
        k = A.shape[1]
        for i in _nb.prange(crow.size - 1):
            for a in range(k):
                G[i, a] = 0.0
            for e in range(crow[i], crow[i + 1]):
                j = cols[e]
                acc = A[i, 0] * B[j, 0]
                for a in range(1, k):
                    acc += A[i, a] * B[j, a]
                rv = (acc - vals[e]) * scale
                out[e] = rv
                for a in range(k):
                    G[i, a] += rv * B[j, a]

    @_nb.njit(parallel=True, cache=True)
    def _spmm_nb(ptr, idx, perm, use_perm, r, X, out):  # pragma: no cover
        k = X.shape[1]
        for i in _nb.prange(ptr.size - 1):
            for a in range(k):
                out[i, a] = 0.0
            for e in range(ptr[i], ptr[i + 1]):
                v = r[perm[e]] if use_perm else r[e]
                j = idx[e]
                for a in range(k):
                    out[i, a] += v * X[j, a]


    @_nb.njit(parallel=True, cache=True)
    def _gram_nb(ptr, idx, perm, use_perm, vals, X, lo, G, rhs):  # pragma: no cover
        k = X.shape[1]
        for t in _nb.prange(G.shape[0]):
            i = lo + t
            for a in range(k):
                rhs[t, a] = 0.0
                for c in range(k):
                    G[t, a, c] = 0.0
            for e in range(ptr[i], ptr[i + 1]):
                v = vals[perm[e]] if use_perm else vals[e]
                j = idx[e]
                for a in range(k):
                    xa = X[j, a]
                    rhs[t, a] += v * xa
                    for c in range(a + 1):
                        G[t, a, c] += xa * X[j, c]
            for a in range(k):
                for c in range(a):
                    G[t, c, a] = G[t, a, c]


@contextlib.contextmanager
def quiet_torch_threads(device: torch.device):
    """Run torch on one thread inside (CPU only). The dense products around the sparse kernels are tiny
    (r̂×r̂ by r̂×n), and torch's OpenMP workers keep spinning after each parallel region, taking the cores
    the numba kernels then need: measured, a step takes about twice as long with them spinning."""
    if device.type != "cpu" or torch.get_num_threads() == 1:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _np(t: torch.Tensor) -> np.ndarray:
    if t.device.type != "cpu" or not t.is_contiguous():
        raise ValueError("the numba backend needs contiguous CPU tensors")
    return t.numpy()


def sddmm(obs, A: torch.Tensor, B: torch.Tensor, vals: torch.Tensor, *, backend: str = "numba") -> torch.Tensor:
    r"""Residual on Ω in CSR order: :math:`r_e=a_{i_e}^\top b_{j_e}-v_e`, A (n1, k), B (n2, k), vals (nnz,)."""
    if backend == "numba":
        _need_numba()
        out = torch.empty_like(vals)
        _sddmm_nb(obs.crow, obs.cols, _np(vals), _np(A), _np(B), out.numpy())
        return out
    rows, cols = obs.torch_index("rows", A.device), obs.torch_index("cols", A.device)
    out = torch.empty_like(vals)
    for s in range(0, vals.numel(), CHUNK):
        e = min(vals.numel(), s + CHUNK)
        torch.linalg.vecdot(A.index_select(0, rows[s:e]), B.index_select(0, cols[s:e]), out=out[s:e])
    return out.sub_(vals)


def _csr(ptr, idx, values, shape):
    with warnings.catch_warnings():  # "sparse CSR support is in beta": the products used here are stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(ptr, idx, values, shape)


def _spmm(obs, r: torch.Tensor, X: torch.Tensor, *, transpose: bool, backend: str) -> torch.Tensor:
    """R·X (CSR pass) or Rᵀ·X (CSC pass, reading r through ``perm``) for residual values r in CSR order."""
    ptr, idx = ("ccol", "rows_t") if transpose else ("crow", "cols")
    n = obs.shape[1] if transpose else obs.shape[0]
    if backend == "numba":
        _need_numba()
        out = torch.empty((n, X.shape[1]), dtype=X.dtype)
        _spmm_nb(getattr(obs, ptr), getattr(obs, idx), obs.perm, transpose, _np(r), _np(X), out.numpy())
        return out
    dev = X.device
    vals = r.index_select(0, obs.torch_index("perm", dev)) if transpose else r
    shape = (obs.shape[1], obs.shape[0]) if transpose else obs.shape
    return torch.sparse.mm(_csr(obs.torch_index(ptr, dev), obs.torch_index(idx, dev), vals, shape), X)


def spmm_rows(obs, r: torch.Tensor, X: torch.Tensor, *, backend: str = "numba") -> torch.Tensor:
    r""":math:`RX` for the sparse residual R (values r in CSR order) and X (n2, k): (n1, k)."""
    return _spmm(obs, r, X, transpose=False, backend=backend)


def residual_and_rows(obs, A: torch.Tensor, B: torch.Tensor, vals: torch.Tensor, scale: float = 1.0, *,
                      backend: str = "numba") -> tuple[torch.Tensor, torch.Tensor]:
    r"""``(r, R B)`` with :math:`r=s\,(\text{sddmm}(A,B)-v)` (``scale`` s): the fused form of :func:`sddmm`
    followed by :func:`spmm_rows`, one pass over the entries (the torch backend runs the two)."""
    if backend == "numba":
        _need_numba()
        r = torch.empty_like(vals)
        G = torch.empty((obs.shape[0], B.shape[1]), dtype=B.dtype)
        Anp = _np(A)  # the scale in the run's dtype: float32 arithmetic stays float32 (as in the torch backend)
        _sddmm_rows_nb(obs.crow, obs.cols, _np(vals), Anp, _np(B), Anp.dtype.type(scale), r.numpy(), G.numpy())
        return r, G
    r = sddmm(obs, A, B, vals, backend=backend)
    if scale != 1.0:
        r.mul_(scale)
    return r, spmm_rows(obs, r, B, backend=backend)


def spmm_cols(obs, r: torch.Tensor, Y: torch.Tensor, *, backend: str = "numba") -> torch.Tensor:
    r""":math:`R^\top Y` for the sparse residual R (values r in CSR order) and Y (n1, k): (n2, k)."""
    return _spmm(obs, r, Y, transpose=True, backend=backend)


def normal_equations(obs, X: torch.Tensor, lo: int, hi: int, *, side: str, backend: str = "numba"):
    r"""Gram matrices and right-hand sides of the least-squares rows ``lo:hi`` of one AltMin half-step:
    side ``"rows"``: :math:`G_i=\sum_{j\in\Omega_i}x_jx_j^\top`, :math:`b_i=\sum_{j\in\Omega_i}m_{ij}x_j` for rows
    i of the matrix (X indexed by column); side ``"cols"``: the same for columns j (X indexed by row).
    Returns G (hi-lo, k, k), b (hi-lo, k), in X's dtype; each entry is summed in index order."""
    k = X.shape[1]
    if side == "rows":
        ptr, idx, use_perm = obs.crow, obs.cols, False
    elif side == "cols":
        ptr, idx, use_perm = obs.ccol, obs.rows_t, True
    else:
        raise ValueError(f"side must be 'rows' or 'cols', got {side!r}")
    vals = obs.values(X.dtype, X.device)
    if backend == "numba":
        _need_numba()
        G = torch.empty((hi - lo, k, k), dtype=X.dtype)
        b = torch.empty((hi - lo, k), dtype=X.dtype)
        _gram_nb(ptr, idx, obs.perm, use_perm, _np(vals), _np(X), lo, G.numpy(), b.numpy())
        return G, b
    dev = X.device
    ptr_t = obs.torch_index("crow" if side == "rows" else "ccol", dev)
    idx_t = obs.torch_index("cols" if side == "rows" else "rows_t", dev)
    v = vals if side == "rows" else vals.index_select(0, obs.torch_index("perm", dev))
    s, e = int(ptr_t[lo]), int(ptr_t[hi])
    lengths = ptr_t[lo + 1:hi + 1] - ptr_t[lo:hi]
    Xe = X.index_select(0, idx_t[s:e])
    # segment sums (deterministic on CUDA too, unlike atomic index_add_); a row with no entry sums to 0
    G = torch.segment_reduce(Xe[:, :, None] * Xe[:, None, :], "sum", lengths=lengths, unsafe=True)
    b = torch.segment_reduce(Xe * v[s:e, None], "sum", lengths=lengths, unsafe=True)
    return G, b

r"""The numpy kernel's compiled loop: each instance's ``n`` steps in machine code, its products on NumPy's OpenBLAS.

:mod:`sim.fused_np` on NumPy calls still pays Python's dispatch for every product and every elementwise
pass (about 25 calls a step), and streams a tile's targets through the cache once a step. Here the same
step is compiled with numba: one call runs instance after instance, all ``n`` steps of one instance
before the next (its target stays in cache: 80 kB at d = 100), each product a direct ``cblas_?gemm`` call
into *the same* OpenBLAS NumPy uses (its bundled ``libscipy_openblas64_``, found by symbol; so
:class:`sim.fused_np.blas_threads` governs it), and the elementwise work fused into single passes:

* :math:`g_L = W_L (P P^\top) - (P M^{*\top})^\top` and :math:`B = (W_L^\top W_L) P - W_L^\top M^*` as one
  product then one subtraction loop (the transposed one read in place, no copy);
* the residual :math:`g = W_L P - M^*`, its mask, its ½‖g‖² and the per-instance 1/N in one pass;
* the update :math:`W_l \leftarrow W_l + (-c_{l,k})\,g_l` in one pass (two roundings, as NumPy's
  ``g *= c; W -= g``).

The products and their order are those of :mod:`sim.fused` (``P_l = W_l P_{l-1}``, :math:`W_L^\top W_L`,
:math:`P P^\top`, :math:`W_L^\top M^*`, :math:`P M^{*\top}`, the backward products); only the summation
order inside each BLAS call and of the loss's sums differ from torch's, so the module docstring's bound
of :mod:`sim.fused_np` is the bound here too, and tests/test_numpy_kernel.py checks it on this path and
on the NumPy-call path alike. Every instance's arithmetic is its own, so a batch equals its single runs
bitwise (at one BLAS thread count).

Used where it applies (:func:`available` and :func:`fits`): NumPy's bundled OpenBLAS exports
``cblas_?gemm`` with 64-bit integers, and every operand has unit stride in one of its two matrix axes.
Elsewhere (another BLAS, odd strides) :mod:`sim.fused_np` takes its NumPy calls: the same products, the
same bound. Numba compiles each (kind, depth, dtype) once per process (a few seconds; the ctypes binding
of the BLAS cannot be cached to disk).
"""

from __future__ import annotations

import ctypes
import glob
import os
import threading

import numpy as np

__all__ = ["available", "fits", "chunk"]

_GEMM_SYMBOLS = {  # NumPy >= 2 (libscipy_openblas64_), NumPy 1.26 (libopenblas64_): both ILP64
    np.float64: ("scipy_cblas_dgemm64_", "cblas_dgemm64_"),
    np.float32: ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
}
_GEMV_SYMBOLS = {
    np.float64: ("scipy_cblas_dgemv64_", "cblas_dgemv64_"),
    np.float32: ("scipy_cblas_sgemv64_", "cblas_sgemv64_"),
}
_ROW, _NO, _TR = 101, 111, 112  # CblasRowMajor, CblasNoTrans, CblasTrans
#: the sensing step reads its operator in blocks of rows of about this size: small enough to stay in the
#: last-level cache between the block's two products, large enough for OpenBLAS to thread its gemv (measured at
#: d = 100, m = 2000 on 2 cores: 256 kB blocks 12.2 GB/s, 1 MB 16.7, 4 MB 23.2, 8 MB 21.9, 32 MB 18.0)
SENSING_BLOCK_BYTES = 2**22
_FNS: dict = {}


def _blas(dtype, what: str):
    """The ctypes ``cblas_?gemm`` or ``cblas_?gemv`` (``what``) of NumPy's bundled OpenBLAS, or ``None``."""
    key = (np.dtype(dtype).type, what)
    if key not in _FNS:
        _FNS[key] = None
        libs = sorted(glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "lib*openblas*.so*")))
        real = ctypes.c_double if key[0] is np.float64 else ctypes.c_float
        i32, i64, p = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
        args = {"gemm": [i32, i32, i32, i64, i64, i64, real, p, i64, p, i64, real, p, i64],
                "gemv": [i32, i32, i64, i64, real, p, i64, p, i64, real, p, i64]}[what]
        names = (_GEMM_SYMBOLS if what == "gemm" else _GEMV_SYMBOLS).get(key[0], ())
        for lib in libs:
            try:
                h = ctypes.CDLL(lib)
            except OSError:
                continue
            found = [getattr(h, name) for name in names if hasattr(h, name)]
            if found:
                found[0].argtypes, found[0].restype = args, None
                _FNS[key] = found[0]
                break
    return _FNS[key]


def available(dtype) -> bool:
    """Whether the compiled loop can run for ``dtype``: numba imports and NumPy's OpenBLAS gemm and gemv are found."""
    try:
        import numba  # noqa: F401
    except ImportError:  # pragma: no cover - numba is a dependency of the package
        return False
    return _blas(dtype, "gemm") is not None and _blas(dtype, "gemv") is not None


def fits(arrays) -> bool:
    """Every (B, m, n) operand laid out exactly C-contiguous (the weights, the target, its mask) or exactly as
    the transpose of one (the target's ``Mt``), with no empty axis: what the compiled gemm calls read
    (checked on the strides themselves: NumPy's contiguity flags overlook the strides of length-1 axes)."""
    for a in arrays:
        if a.ndim != 3 or 0 in a.shape:
            return False
        B, m, n = a.shape
        s = a.itemsize
        if a.strides not in ((m * n * s, n * s, s), (m * n * s, s, m * s)):
            return False
    return True


_COMPILED: dict = {}
_LOCK = threading.Lock()  # a batch's tiles call in from several threads: build (and compile) once


def _build(dtype):
    """The three compiled chunks for ``dtype`` (built once: numba's closures over this dtype's gemm and gemv)."""
    import numba

    gemm, gemv = _blas(dtype, "gemm"), _blas(dtype, "gemv")
    isz = np.dtype(dtype).itemsize

    @numba.njit(nogil=True)
    def lead(A):
        """(transposed storage?, leading dimension) of a 2-D operand that :func:`fits` admitted."""
        rows, cols = A.shape
        if A.strides[1] == isz or cols == 1:  # row-major (a single column reads as one too)
            return False, (cols if rows == 1 else A.strides[0] // isz)
        return True, (rows if cols == 1 else A.strides[1] // isz)  # column-major: unit stride down the rows

    @numba.njit(nogil=True)
    def mm(C, A, ta, Bx, tb):
        """C = op(A) op(B), C row-major contiguous; a column-major operand is read with the flipped flag."""
        m, n = C.shape
        k = A.shape[0] if ta else A.shape[1]
        ca, lda = lead(A)
        cb, ldb = lead(Bx)
        gemm(_ROW, _TR if ta != ca else _NO, _TR if tb != cb else _NO, m, n, k, 1.0, A.ctypes.data, lda,
             Bx.ctypes.data, ldb, 0.0, C.ctypes.data, n)

    @numba.njit(nogil=True)
    def update(Wc, g, c, transposed):
        """W ← W + c g on the layer's C storage ``Wc`` (its transpose's when ``transposed``): unit-stride loops."""
        if transposed:
            for i in range(Wc.shape[0]):
                for j in range(Wc.shape[1]):
                    Wc[i, j] += c * g[j, i]
        else:
            for i in range(Wc.shape[0]):
                for j in range(Wc.shape[1]):
                    Wc[i, j] += c * g[i, j]

    @numba.njit(nogil=True)
    def dot(a, b):
        """⟨a, b⟩ of two 2-D arrays in float64 (also for float32: it only rounds less), in four interleaved
        partial sums combined at the end: four independent chains instead of one add waiting on the last,
        in an order fixed by this code (no reassociation left to the compiler)."""
        s0 = s1 = s2 = s3 = 0.0
        n = a.shape[1]
        for i in range(a.shape[0]):
            j = 0
            while j + 4 <= n:
                s0 += a[i, j] * b[i, j]
                s1 += a[i, j + 1] * b[i, j + 1]
                s2 += a[i, j + 2] * b[i, j + 2]
                s3 += a[i, j + 3] * b[i, j + 3]
                j += 4
            while j < n:
                s0 += a[i, j] * b[i, j]
                j += 1
        return (s0 + s1) + (s2 + s3)

    @numba.njit(nogil=True)
    def matrices(Ws, tr, b):
        """Instance b's weights as 2-D views (a layer stored transposed comes as the C array of its transpose)."""
        out = []
        for l in range(len(Ws)):
            out.append(Ws[l][b].T if tr[l] else Ws[l][b])
        return out

    @numba.njit(nogil=True)
    def buffers(W):
        """Work arrays for every step of every instance (no allocation inside the loop): the gradients G_l
        (W_l's shape), the backward products B_l (rows of W_l, columns of W_1; B_1 is G_1 itself) and the
        prefixes P_l = W_l⋯W_1 (P_1 = W_1 is the weight's own view, set per instance)."""
        L, dt, n0 = len(W), W[0].dtype, W[0].shape[1]
        G = [np.empty(W[l].shape, dtype=dt) for l in range(L)]
        Bb = [G[0]]
        for l in range(1, L):
            Bb.append(np.empty((W[l].shape[0], n0), dtype=dt))
        P = [W[0]]
        for l in range(1, L - 1):
            P.append(np.empty((W[l].shape[0], n0), dtype=dt)[:, :])
        return G, Bb, P

    @numba.njit(nogil=True)
    def forward(W, P):
        """P_l = W_l P_{l-1} into the prefix buffers (P[0] is W_1)."""
        for l in range(1, len(W) - 1):
            mm(P[l], W[l], False, P[l - 1], False)

    @numba.njit(nogil=True)
    def backward(W, P, G, Bb, top):
        """From B_top: G_l = B_l P_{l-1}^⊤ and B_{l-1} = W_l^⊤ B_l down to G_1 = B_1 (:func:`sim.gd._backward`)."""
        for l in range(top, 0, -1):
            mm(G[l], Bb[l], False, P[l - 1], True)
            mm(Bb[l - 1], W[l], True, Bb[l], False)

    @numba.njit(nogil=True)
    def factored(Ws, tr, M, Mt, tsq, half_u, neg, n, losses):
        L = len(Ws)
        G, Bb, P = buffers(matrices(Ws, tr, 0))
        d, r = Ws[L - 1].shape[2 if tr[L - 1] else 1], Ws[L - 1].shape[1 if tr[L - 1] else 2]
        dt = M.dtype
        WtW, PPt = np.empty((r, r), dtype=dt), np.empty((r, r), dtype=dt)
        WtM, PMt = np.empty((r, M.shape[2]), dtype=dt), np.empty((r, Mt.shape[2]), dtype=dt)
        gL, Bm = G[L - 1], Bb[L - 2]
        for b in range(Ws[0].shape[0]):
            W = matrices(Ws, tr, b)
            P[0] = W[0]
            WL, PL = W[L - 1], P[L - 2]
            for it in range(n):
                forward(W, P)
                mm(WtW, WL, True, WL, False)
                mm(PPt, PL, False, PL, True)
                mm(WtM, WL, True, M[b], False)
                mm(PMt, PL, False, Mt[b], False)
                mm(gL, WL, False, PPt, False)
                for i in range(d):
                    for j in range(r):
                        gL[i, j] -= PMt[j, i]
                mm(Bm, WtW, False, PL, False)
                Bm -= WtM
                losses[it, b] = (dot(WtW, PPt) - 2.0 * dot(WtM, PL) + tsq[b]) * half_u
                backward(W, P, G, Bb, L - 2)
                for l in range(L):
                    update(Ws[l][b], G[l], neg[l][b], tr[l])

    @numba.njit(nogil=True)
    def residual(Ws, tr, M, mask, has_mask, inv_n, per_instance, u, neg, n, losses):
        L = len(Ws)
        G, Bb, P = buffers(matrices(Ws, tr, 0))
        g = Bb[L - 1]
        for b in range(Ws[0].shape[0]):
            W = matrices(Ws, tr, b)
            P[0] = W[0]
            w, Mb, Kb = inv_n[b], M[b], mask[b]
            for it in range(n):
                forward(W, P)
                mm(g, W[L - 1], False, P[L - 2], False)
                if has_mask:
                    for i in range(g.shape[0]):
                        for j in range(g.shape[1]):
                            g[i, j] = (g[i, j] - Mb[i, j]) * Kb[i, j]
                else:
                    g -= Mb
                s = dot(g, g)
                if per_instance:
                    g *= w
                losses[it, b] = 0.5 * s * (w if per_instance else u)
                backward(W, P, G, Bb, L - 1)
                for l in range(L):
                    update(Ws[l][b], G[l], neg[l][b], tr[l])

    @numba.njit(nogil=True)
    def sensing(Ws, tr, A, y, u, neg, n, losses, rows):
        """r = A vec(W_L P) − y and g = Aᵀ r in one pass over A: per block of ``rows`` rows, its gemv then
        its transposed gemv while the block is still in cache (the eager step streams A twice). The block
        size (:data:`SENSING_BLOCK_BYTES`) is fixed, so the order of every sum is too."""
        L = len(Ws)
        G, Bb, P = buffers(matrices(Ws, tr, 0))
        g = Bb[L - 1]
        E = np.empty_like(g)
        m, D = A.shape[1], A.shape[2]
        r = np.empty(m, dtype=A.dtype)
        gf, Ef = g.reshape(D), E.reshape(D)
        for b in range(Ws[0].shape[0]):
            W = matrices(Ws, tr, b)
            P[0] = W[0]
            Ab, yb = A[b], y[b]
            for it in range(n):
                forward(W, P)
                mm(E, W[L - 1], False, P[L - 2], False)
                gf[:] = 0.0
                s = 0.0
                for a0 in range(0, m, rows):
                    k = min(rows, m - a0)
                    blk, rb = Ab[a0:], r[a0:]
                    gemv(_ROW, _NO, k, D, 1.0, blk.ctypes.data, D, Ef.ctypes.data, 1, 0.0, rb.ctypes.data, 1)
                    for i in range(a0, a0 + k):
                        r[i] -= yb[i]
                        s += r[i] * r[i]
                    gemv(_ROW, _TR, k, D, 1.0, blk.ctypes.data, D, rb.ctypes.data, 1, 1.0, gf.ctypes.data, 1)
                losses[it, b] = 0.5 * s * u
                backward(W, P, G, Bb, L - 1)
                for l in range(L):
                    update(Ws[l][b], G[l], neg[l][b], tr[l])

    return {"factored": factored, "residual": residual, "sensing": sensing}


def chunk(kind: str, W, t, neg, n: int, losses: np.ndarray) -> None:
    """``n`` steps of ``kind`` ("factored", "residual" or "sensing") in place on the (B, m, n) arrays ``W``, with
    per-instance update coefficients ``neg[l]`` (B,) = −c_l, the loss before step i in ``losses[i]`` (B,)."""
    dtype = W[0].dtype.type
    with _LOCK:
        if dtype not in _COMPILED:
            _COMPILED[dtype] = _build(dtype)
    fn = _COMPILED[dtype][kind]
    # a layer stored transposed (the compressed W_1 = V^T's view) goes in as its C-contiguous transpose
    tr = np.array([not w.flags.c_contiguous for w in W], dtype=np.bool_)
    Wt = tuple(w.transpose(0, 2, 1) if f else w for w, f in zip(W, tr))
    negt = tuple(np.ascontiguousarray(x.reshape(-1)) for x in neg)
    if kind == "sensing":
        A = t["A"]
        rows = max(1, SENSING_BLOCK_BYTES // (A.shape[2] * A.itemsize))
        fn(Wt, tr, A, np.ascontiguousarray(t["y"]), dtype(t["u"]), negt, n, losses, rows)
    elif kind == "factored":
        fn(Wt, tr, t["M"], t["Mt"], t["tsq"], dtype(t["half_u"]), negt, n, losses)
    else:
        mask = t["mask"] if t["has_mask"] else t["M"]  # an unread stand-in of the same type
        fn(Wt, tr, t["M"], mask, bool(t["has_mask"]), t["inv_n"], bool(t["per_instance"]), dtype(t["u"]), negt, n, losses)

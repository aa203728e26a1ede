r"""The fused chunks on NumPy's BLAS (``RunConfig(kernel="numpy")``): small CPU steps without torch's per-op cost.

The compressed DLN's step at d = 100 is a dozen products of 20×100 matrices. Torch spends more time per
product (dispatch, output allocation, its BLAS's set-up for skinny shapes) than NumPy with its bundled
OpenBLAS does for the whole product, so for small steps the same step in NumPy is faster (``cdln bench``
times both kernels in every run; in two runs on a 2-core CPU, with the compiled loop: 2.9× at d = 100 and
1.75–1.87× at d = 200 for the compressed step, 2.3–2.5× for 1,024 batched wide runs at d = 20). This module runs :mod:`sim.fused`'s two chunks —
the factored step (:meth:`sim.problems.Factorization.factored_gradients`) and the residual step — and the
sensing step (below) with
the same products in the same order, on NumPy views of the very torch tensors (no copy: the weights move
in place, and everything after the chunk sees torch tensors as before).

**Two paths, one bound.** Where NumPy's BLAS is its bundled OpenBLAS and every operand is laid out as a
gemm call reads it (:func:`sim.fused_nb.fits`; always so for the engine's tensors), the chunk runs
:mod:`sim.fused_nb`'s compiled loop: each instance's ``n`` steps in machine code, each product a direct
``cblas_?gemm`` call into that OpenBLAS, no Python and no allocation between them (:data:`COMPILED`
switches it off). Elsewhere it runs the NumPy calls below. Both make the same products in the same order
and both are checked against the bound that follows.

**Not bitwise: a stated bound.** A different BLAS sums each product's K terms in a different order, so
the two kernels' steps differ in the last bits. For a product of K terms each BLAS errs by at most
:math:`\gamma_K|A||B|`, :math:`\gamma_K = K\epsilon/(1-K\epsilon)` (Higham, *Accuracy and Stability of
Numerical Algorithms*, Eq. 3.13); a gradient that is a chain of m products and sums therefore differs
between the kernels by at most

.. math:: |\tilde g_{\rm numpy} - \tilde g_{\rm torch}| \le 2m\,\gamma_K\, g_{\rm abs} + O(\epsilon^2),

with :math:`g_{\rm abs}` the same chain evaluated on :math:`|W_l|` and :math:`|M^*|` with every
difference turned into a sum, and the update :math:`W - c\,g` adds three roundings of at most
:math:`\tfrac{\epsilon}{2}(|W| + |c\,g|)` (one in torch's fused multiply–add, two in NumPy's
:math:`c\,g` then :math:`W - c\,g`). tests/test_numpy_kernel.py checks exactly this bound, step by step, along real
trajectories of every path (factored, residual, masked, per-instance 1/N and per-instance η). The
eager torch step (:func:`sim.gd.gd_step`) stays the reference, and ``kernel="torch"`` the default:
a run that asks for ``numpy`` has ``kernel`` in its identity, so it is never mistaken for the reference.

**Threads.** A batch runs in tiles (the compiled loop: one per thread; the NumPy calls:
:func:`sim.fused._tile`'s cache-sized ones, their number rounded up to a multiple of the thread count),
spread over ``torch.get_num_threads()`` Python threads — NumPy releases the GIL
inside each product, the compiled loop throughout — with OpenBLAS held at one thread meanwhile; a single tile runs on OpenBLAS's own
threads, as many (where NumPy's BLAS is not an OpenBLAS whose threads can be set, the tiles run one
after another and its threads are left alone). Every instance of a batch is its own product, so the
tiling never changes a number. As for :mod:`sim.fused`, every bitwise claim holds at one fixed thread
count: OpenBLAS threads a product of more than about 2.6·10⁵ multiply–adds (d ≥ 300 wide, d ≥ 500
compressed) and may then round it differently on 1 and 2 threads, so above one thread a single run
(OpenBLAS threaded) and the same instance in a batch (OpenBLAS at one thread) may differ in their last
bits. On one thread (the sweep's workers) a batch equals its single runs bitwise, which the tests check.

Sensing has a step of its own here (:meth:`sim.problems.Sensing.numpy_terms`; the torch engine runs it
eagerly): :math:`r = A\,\mathrm{vec}(W_L P) - y`, :math:`g = A^\top r`, which the compiled loop computes in
one pass over the operator A (per cache-sized block of rows, the block's product then its transposed
product), where the eager step reads A — 160 MB at d = 100, m = 2000 — from memory twice. Its bound is
the one above with K = max(n1·n2, m). Sparse storage takes torch's eager loop whatever the kernel.
"""

from __future__ import annotations

import ctypes
import glob
import os
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np
import torch
from torch import Tensor

from . import fused_nb
from .fused import Coefficients, _tile

__all__ = ["numpy_chunk", "blas_threads", "tile_size", "run_tiles"]


def _dots(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(B,) :math:`\\langle a_k, b_k\\rangle` of two (B, m, n) stacks, as one batched product."""
    B = a.shape[0]
    return np.matmul(a.reshape(B, 1, -1), b.reshape(B, -1, 1)).reshape(B)


def _update(Ws, grads, coef, neg, uniform) -> None:
    """:math:`W_l \\leftarrow W_l - c_l g_l` in place (every ``g_l`` is a fresh temporary of this step)."""
    for l, (W, g) in enumerate(zip(Ws, grads)):
        if uniform[l]:
            g *= coef[l]
            W -= g
        else:
            g *= neg[l]
            W += g


def _backward(Ws, P, Bm, grads, top: int):
    """:func:`sim.gd._backward`: :math:`∇_{W_l} = B_l P_{l-1}^⊤`, :math:`B_{l-1} = W_l^⊤ B_l`; :math:`∇_{W_1} = B_1`."""
    for l in range(top, 0, -1):
        grads[l] = np.matmul(Bm, P[l - 1].transpose(0, 2, 1))
        Bm = np.matmul(Ws[l].transpose(0, 2, 1), Bm)
    grads[0] = Bm
    return grads


def _prefixes(Ws):
    P = [Ws[0]]
    for l in range(1, len(Ws) - 1):
        P.append(np.matmul(Ws[l], P[-1]))
    return P


def _factored(Ws, t, coef, neg, uniform, n: int, losses: np.ndarray) -> None:
    """``n`` steps of :func:`sim.fused._factored` (the factored gradients and the update), in NumPy."""
    M, Mt, tsq, half_u = t["M"], t["Mt"], t["tsq"], t["half_u"]
    L = len(Ws)
    for i in range(n):
        P = _prefixes(Ws)
        WL, PL = Ws[L - 1], P[L - 2]
        WLt = WL.transpose(0, 2, 1)
        WtW = np.matmul(WLt, WL)
        PPt = np.matmul(PL, PL.transpose(0, 2, 1))
        WtM = np.matmul(WLt, M)
        gL = np.matmul(WL, PPt)
        gL -= np.matmul(PL, Mt).transpose(0, 2, 1)
        Bm = np.matmul(WtW, PL)
        Bm -= WtM
        losses[i] = (_dots(WtW, PPt) - 2.0 * _dots(WtM, PL) + tsq) * half_u
        grads = [None] * L
        grads[L - 1] = gL
        _update(Ws, _backward(Ws, P, Bm, grads, L - 2), coef, neg, uniform)


def _residual(Ws, t, coef, neg, uniform, n: int, losses: np.ndarray) -> None:
    """``n`` steps of :func:`sim.fused._residual` (residual, mask, 1/N, backward, update), in NumPy."""
    M, mask, inv_n = t["M"], t["mask"], t["inv_n"]
    L = len(Ws)
    for i in range(n):
        P = _prefixes(Ws)
        g = np.matmul(Ws[L - 1], P[L - 2])
        g -= M
        if t["has_mask"]:
            g *= mask
        loss = 0.5 * _dots(g, g)
        if t["per_instance"]:
            losses[i] = loss * inv_n
            g *= inv_n.reshape(-1, 1, 1)
        else:
            losses[i] = loss * t["u"]
        _update(Ws, _backward(Ws, P, g, [None] * L, L - 1), coef, neg, uniform)


def _sensing(Ws, t, coef, neg, uniform, n: int, losses: np.ndarray) -> None:
    """``n`` steps of the sensing step (:meth:`sim.problems.Sensing._sum_residual`, backward, update), in NumPy."""
    A, y, u = t["A"], t["y"], t["u"]
    At = A.transpose(0, 2, 1)
    L, B = len(Ws), A.shape[0]
    for i in range(n):
        P = _prefixes(Ws)
        E = np.matmul(Ws[L - 1], P[L - 2])
        r = np.matmul(A, E.reshape(B, -1, 1))
        r -= y.reshape(B, -1, 1)
        losses[i] = 0.5 * _dots(r, r) * u
        g = np.matmul(At, r).reshape(E.shape)
        _update(Ws, _backward(Ws, P, g, [None] * L, L - 1), coef, neg, uniform)


_KINDS = {"factored": _factored, "residual": _residual, "sensing": _sensing}


_OPENBLAS_SYMBOLS = (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),  # NumPy >= 2
                     ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),  # NumPy 1.26's libopenblas64_
                     ("openblas_set_num_threads", "openblas_get_num_threads"))


def _openblas():
    """NumPy's bundled OpenBLAS thread setter and getter, or ``None`` (another BLAS: left as it is)."""
    if not hasattr(_openblas, "fns"):
        _openblas.fns = None
        libs = sorted(glob.glob(os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs", "lib*openblas*.so*")))
        for lib in libs:
            try:
                h = ctypes.CDLL(lib)
            except OSError:
                continue
            for set_name, get_name in _OPENBLAS_SYMBOLS:
                if hasattr(h, set_name) and hasattr(h, get_name):
                    _openblas.fns = (getattr(h, set_name), getattr(h, get_name))
                    return _openblas.fns
    return _openblas.fns


class blas_threads:
    """Context: NumPy's OpenBLAS on ``n`` threads inside, as it was after (no-op where it cannot be set)."""

    def __init__(self, n: int):
        self.n, self.old = int(n), None

    def __enter__(self):
        fns = _openblas()
        if fns is not None:
            self.old = int(fns[1]())
            if self.old != self.n:
                fns[0](ctypes.c_int(self.n))
        return self

    def __exit__(self, *exc):
        fns = _openblas()
        if fns is not None and self.old is not None and self.old != self.n:
            fns[0](ctypes.c_int(self.old))
        return False


_POOLS: dict = {}


def _pool(n: int) -> ThreadPoolExecutor:
    if n not in _POOLS:
        _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="cdln-numpy-kernel")
    return _POOLS[n]


def _view(x):
    return x.detach().numpy() if isinstance(x, Tensor) else x


def tile_size(Ws, M, tile: int | None, T: int) -> int:
    """Instances per tile: ``tile``, else :func:`sim.fused._tile`'s cache-sized tile, with the number of tiles
    rounded up to a multiple of the ``T`` threads and the instances spread evenly over them."""
    B = Ws[0].shape[0]
    per = max(1, tile if tile is not None else _tile(Ws, M))
    k = -(-B // per)
    if T > 1 and k > 1:  # a multiple of the threads, of about equal sizes: no thread idles while others work
        k = -(-k // T) * T
    return -(-B // min(k, B))


def numpy_chunk(problem, Ws, coefs: Coefficients, n: int, losses: Tensor, tile: int | None = None,
                threads: int | None = None) -> bool:
    """:func:`sim.fused.fused_chunk` with NumPy's BLAS: ``n`` GD steps in place on the CPU tensors ``Ws``, the
    loss before step i in ``losses[i]``. ``False`` (nothing done) where the problem has no fused step.
    ``threads`` (default ``torch.get_num_threads()``) Python threads share the batch's tiles."""
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 1):
        raise ValueError(f"tile must be None or an integer >= 1 (instances per tile), got {tile!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise ValueError(f"threads must be None or an integer >= 1, got {threads!r}")
    if Ws[0].device.type != "cpu" or losses.device.type != "cpu":
        raise ValueError(f"kernel 'numpy' runs on the CPU only; the weights are on {Ws[0].device}")
    terms = problem.numpy_terms(Ws)
    if terms is None or len(Ws) < 2:
        return False
    kind, t = terms
    T = threads if threads is not None else torch.get_num_threads()
    B = Ws[0].shape[0]
    W = [_view(w) for w in Ws]
    tt = {name: _view(v) for name, v in t.items()}
    neg = [_view(x) for x in coefs.neg]
    out = _view(losses)
    run = _KINDS[kind]
    compiled = _compiled(kind, W, tt)
    # the compiled loop runs each instance's n steps in turn (its target stays in cache whatever the tile):
    # one tile per thread; the NumPy calls run a cache-sized tile's steps together
    per = (tile if tile is not None else -(-B // T)) if compiled else tile_size(Ws, t.get("M", t.get("A")), tile, T)

    def tile_of(a: int):
        sl = slice(a, min(B, a + per))
        full = a == 0 and sl.stop == B
        sub = (lambda v: v) if full else (lambda v: v[sl] if isinstance(v, np.ndarray) and v.ndim and v.shape[0] == B else v)
        # a tile's losses go to a buffer of its own, then into its columns (a column slice is strided; and the
        # compiled loop then always sees a C-contiguous buffer, one type, compiled once)
        rows = out[:n] if full else np.empty((n, sl.stop - sl.start), dtype=out.dtype)
        if compiled:
            fused_nb.chunk(kind, [sub(w) for w in W], {name: sub(v) for name, v in tt.items()}, [sub(x) for x in neg],
                           n, rows)
            if not full:
                out[:n, sl] = rows
            return
        run([sub(w) for w in W], {name: sub(v) for name, v in tt.items()}, coefs.coef, [sub(x) for x in neg],
            coefs.uniform, n, rows)
        if not full:
            out[:n, sl] = rows

    run_tiles([lambda a=a: tile_of(a) for a in range(0, B, per)], T)
    return True


COMPILED = True  #: use :mod:`sim.fused_nb`'s compiled loop where it applies (``False``: the NumPy calls only)


def _compiled(kind: str, W, tt) -> bool:
    """Whether this chunk takes :mod:`sim.fused_nb`'s compiled loop: it is on, NumPy's OpenBLAS gemm is found
    for the dtype, and every operand is laid out as its gemm calls read (else the NumPy calls, same bound)."""
    if not COMPILED or not fused_nb.available(W[0].dtype):
        return False
    if kind == "sensing":
        return fused_nb.fits(list(W) + [tt["A"]])
    ops = list(W) + [tt["M"]] + ([tt["Mt"]] if kind == "factored" else []) + ([tt["mask"]] if tt.get("has_mask") else [])
    return fused_nb.fits(ops)


def run_tiles(tasks, T: int) -> None:
    """Run the tiles' callables: in turn on OpenBLAS's own ``T`` threads when there is one tile, one thread or
    no settable OpenBLAS; else on a pool of ``T`` Python threads with OpenBLAS held at one thread."""
    if len(tasks) == 1 or T == 1 or _openblas() is None:
        with blas_threads(T):
            for task in tasks:
                task()
        return
    with blas_threads(1):
        futures = [_pool(T).submit(task) for task in tasks]
        try:
            for f in futures:
                f.result()
        finally:  # an error or an interrupt: no tile is left running (in BLAS, or on the weights) past this call
            for f in futures:
                f.cancel()
            wait(futures)

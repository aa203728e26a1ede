r"""A peer for ``cdln bench --peer jax``: the same GD step written the way the authors write theirs.

JAX, 64-bit floats, the loss written out and differentiated by ``jax.grad``, ``jax.jit`` around a
``lax.fori_loop`` over the steps (so no Python runs between steps), and ``jax.vmap`` over a batch:

.. math:: \ell(W_1,\dots,W_L)=\tfrac12\|W_L\cdots W_1-M^*\|_F^2,\qquad
          W_l\leftarrow W_l-\eta\,s_l\,\nabla_{W_l}\ell .

JAX is an optional extra (``pip install 'cdln[peers]'``); nothing here is imported by ``sim`` itself,
and :func:`available` says, without raising, whether it can run. Only timing uses this module: the
numbers ``cdln`` checks never come from it.
"""

from __future__ import annotations

import time

import numpy as np

__all__ = ["available", "jax_stepper", "time_per_step"]


def available(device: str = "cpu", threads: int | None = None) -> str | None:
    """``None`` when JAX can run on ``device``, else the one-line reason it cannot. ``threads`` pins XLA's
    CPU threads to torch's (through ``XLA_FLAGS``, read when JAX starts: only before its first import)."""
    import os
    import sys

    if threads is not None and "jax" not in sys.modules and "XLA_FLAGS" not in os.environ:
        os.environ["XLA_FLAGS"] = (f"--xla_cpu_multi_thread_eigen={'false' if threads == 1 else 'true'} "
                                   f"intra_op_parallelism_threads={threads}")
    try:
        import jax
    except ImportError as exc:  # pragma: no cover - depends on the environment
        return f"JAX is not installed ({exc}); pip install 'cdln[peers]' to time it beside ours"
    if device.startswith("cuda"):
        try:
            jax.devices("gpu")
        except RuntimeError:
            return f"JAX {jax.__version__} has no GPU backend here (pip install 'jax[cuda12]' for one)"
    return None


def jax_stepper(Ws, M, scales, eta: float, steps: int, *, device: str = "cpu", dtype: str = "float64"):
    """A callable that runs ``steps`` jitted GD steps of the batch ``Ws`` (each (B, d_l, d_{l-1}), NumPy) on
    targets ``M`` (B, n1, n2) and waits for the result; B = 1 runs unbatched (no ``vmap``), as the authors do."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", dtype == "float64")
    dev = jax.devices("gpu" if device.startswith("cuda") else "cpu")[0]

    def loss(ws, m):
        e = ws[0]
        for w in ws[1:]:
            e = w @ e
        return 0.5 * jnp.sum((e - m) ** 2)

    def step(ws, m):
        g = jax.grad(loss)(ws, m)
        return [w - (eta * s) * gi for w, s, gi in zip(ws, scales, g)]

    batched = Ws[0].shape[0] > 1
    fn = jax.vmap(step, in_axes=(0, 0)) if batched else step

    @jax.jit
    def run(ws, m):
        return jax.lax.fori_loop(0, steps, lambda i, w: fn(w, m), ws)

    np_dt = np.float64 if dtype == "float64" else np.float32
    pick = (lambda a: a) if batched else (lambda a: a[0])
    ws = [jax.device_put(jnp.asarray(pick(np.asarray(w, np_dt))), dev) for w in Ws]
    m = jax.device_put(jnp.asarray(pick(np.asarray(M, np_dt))), dev)
    run(ws, m)[0].block_until_ready()  # compile

    def call():
        run(ws, m)[0].block_until_ready()

    return call


def time_per_step(call, steps: int, repeat: int = 7) -> float:
    """Best seconds per step of ``call`` (``steps`` steps per call)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        best = min(best, (time.perf_counter() - t0) / steps)
    return best

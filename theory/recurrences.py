r"""Theorem 1: exact per-mode GD recurrences of the compressed DLN (Algorithm 1).

With Algorithm 1's initialisation on the target's own singular vectors
(:math:`\widetilde W_L(0)=\epsilon U^*_{\hat r}`, :math:`\widetilde W_1(0)=\epsilon V^{*\top}_{\hat r}`,
:math:`\widetilde W_l(0)=\epsilon I_{\hat r}`), GD on the factorization loss
:math:`\tfrac12\|\widetilde W_{L:1}-M^*\|_F^2` keeps every layer diagonal in the target's
singular basis, so each of the :math:`\hat r` modes evolves independently as the scalar loss
:math:`\tfrac12(x_L\cdots x_1-\sigma_i)^2` (:math:`\sigma_i = 0` for the β modes :math:`i>r`).

**Where this differs from the paper.** The paper's Eqs. (13)–(14) track one scalar
:math:`\lambda_i` per mode. That is exact only when every layer moves with the same step,
i.e. for :math:`\alpha=1` (or :math:`L=2`, where both layers are outer and the step is simply
:math:`\alpha\eta`). For :math:`\alpha\neq1` and :math:`L\ge3` the outer scalar :math:`a`
(step :math:`\alpha\eta`) and the inner scalars :math:`b` (step :math:`\eta`) separate, and GD
follows the two-variable recurrence

.. math::
    e &= a^2 b^{L-2} - \sigma, \\
    a(t+1) &= a(t) - \alpha\eta\, e\, a\, b^{L-2}, \\
    b(t+1) &= b(t) - \eta\, e\, a^2 b^{L-3}, \qquad a(0)=b(0)=\epsilon,

with end-to-end singular value :math:`a^2 b^{L-2}`. For :math:`\alpha=1`, :math:`a\equiv b\equiv
\lambda` and this reduces to the paper's Eq. (13) :math:`\lambda(t+1)=\lambda(1-\eta(\lambda^L
-\sigma)\lambda^{L-2})` and, with σ = 0, Eq. (14) :math:`\beta(t+1)=\beta(1-\eta\beta^{2(L-1)})`.
"""

from __future__ import annotations

import numpy as np

from . import checks
from .stability import critical_step_size

__all__ = ["compressed_spectrum", "mode_step", "fit_steps"]


def mode_step(a, b, sigma, *, depth: int, eta, alpha=1.0):
    r"""One GD step of a mode's outer (a) and inner (b) layer scalars (see module docstring).

    Returns ``(a_next, b_next)``. For ``depth == 2`` there is no inner layer and ``b`` is
    returned unchanged.

    >>> mode_step(0.5, 0.5, 1.0, depth=3, eta=0.1)   # Eq. (13): 0.5*(1 - 0.1*(0.125-1)*0.5)
    (0.521875, 0.521875)
    """
    L = depth
    bq = b ** (L - 2)
    e = a * a * bq - sigma
    if L == 2:
        return a - alpha * eta * e * a, b
    return a - alpha * eta * e * a * bq, b - eta * e * a * a * b ** (L - 3)


def compressed_spectrum(
    sigma_star,
    *,
    depth: int,
    eps,
    eta,
    steps: int,
    alpha=1.0,
    rank_hat: int | None = None,
    every: int = 1,
    form: str = "gd",
) -> np.ndarray:
    r"""Predicted end-to-end singular values of the compressed DLN along GD (Theorem 1).

    Implements Eqs. (13)–(14) of the paper generalised to every α of Algorithm 1 (module
    docstring): mode i's end-to-end value is :math:`a_i(t)^2 b_i(t)^{L-2}`, which equals
    :math:`\lambda_i(t)^L` (and :math:`\beta(t)^L` for the β modes) when α = 1.

    Vectorised over modes and over a batch of parameter sets: ``sigma_star`` may have shape
    ``(*batch, r)`` and ``eps``, ``eta``, ``alpha`` may be arrays broadcastable to ``batch``.
    The loss is sum-normalised, :math:`\tfrac12\|\cdot\|_F^2`.

    Args:
        sigma_star: target singular values, shape ``(r,)`` or ``(*batch, r)``, > 0.
        depth: L >= 2.
        eps: initialisation scale ε > 0.
        eta: step size η > 0 (inner layers; the outer layers use αη).
        steps: number of GD steps T >= 0.
        alpha: outer-layer step multiplier α > 0.
        rank_hat: width r̂ >= r; the last r̂ − r columns are the β modes. Default r.
        every: keep every ``every``-th step (step 0 always kept).
        form: ``"gd"`` (default) follows GD exactly; ``"paper"`` applies Eq. (13)–(14) as
            printed, with step η for every layer whatever α is (for comparison only).

    Returns:
        Array ``(steps // every + 1, *batch, rank_hat)``: the diagonal of
        :math:`U^{*\top}\widetilde W_{L:1}(t)V^*` at t = 0, every, 2·every, …. These are the
        singular values (up to sign when GD is unstable), in mode order, not sorted.

    Warns:
        StepSizeWarning: if η exceeds :func:`theory.critical_step_size` of the largest σ*.

    >>> compressed_spectrum([1.0], depth=2, eps=0.5, eta=0.1, steps=1)  # λ₁ = 0.5·(1 − 0.1·(0.25 − 1))
    array([[0.25      ],
           [0.28890625]])
    """
    L = checks.depth(depth)
    sig = checks.sigma_star(sigma_star)
    e0 = checks.positive("eps", eps)
    et = checks.positive("eta", eta)
    al = checks.positive("alpha", alpha)
    T = checks.nonneg_int("steps", steps)
    k = checks.nonneg_int("every", every, 1)
    R = checks.rank_hat(rank_hat, sig.shape[-1])
    checks.choice("form", form, ("gd", "paper"))

    batch = np.broadcast_shapes(sig.shape[:-1], e0.shape, et.shape, al.shape)
    if R > sig.shape[-1]:
        pad = np.zeros(sig.shape[:-1] + (R - sig.shape[-1],))
        sig = np.concatenate([sig, pad], axis=-1)
    sig = np.broadcast_to(sig, batch + (R,))
    col = lambda x: np.broadcast_to(x, batch)[..., None]  # noqa: E731
    e0, et, al = col(e0), col(et), col(al)

    if form == "paper":
        al = np.ones_like(al)
    checks.warn_if_unstable(
        et, critical_step_size(np.max(sig, axis=-1, keepdims=True), depth=L, alpha=al, eps=e0), what="eta"
    )
    if L == 2:  # both layers are outer: Eq. (13) with step alpha * eta is exact
        et, al = et * al, np.ones_like(al)
    two_var = L >= 3 and np.any(al != 1.0)

    out = np.empty((T // k + 1,) + batch + (R,))
    a = np.array(np.broadcast_to(e0, batch + (R,)), dtype=float)
    b = a.copy()
    out[0] = a ** L
    with np.errstate(over="ignore", invalid="ignore"):
        if two_var:
            aeta = al * et
            for t in range(1, T + 1):
                q = b ** (L - 3)
                bq = q * b
                err = a * a * bq - sig
                a_new = a - aeta * err * a * bq
                b -= et * err * a * a * q
                a = a_new
                if t % k == 0:
                    out[t // k] = a * a * b ** (L - 2)
        else:
            lam = a
            for t in range(1, T + 1):
                q = lam ** (L - 2)
                lam2 = lam * lam
                lam *= 1.0 - et * (lam2 * q - sig) * q
                if t % k == 0:
                    out[t // k] = lam ** L
    return out


def fit_steps(
    sigma_star,
    *,
    depth: int,
    eps,
    eta,
    delta: float = 0.01,
    alpha=1.0,
    max_steps: int = 10_000_000,
) -> np.ndarray:
    r"""GD steps until each mode's end-to-end value first reaches :math:`(1-\delta)\sigma_i^*`.

    Iterates the exact recurrence of :func:`compressed_spectrum` (vectorised over modes);
    a mode that has not fitted within ``max_steps`` gets ``-1``.

    >>> int(fit_steps([1.0], depth=2, eps=0.5, eta=0.1)[0])
    27
    """
    L = checks.depth(depth)
    sig = checks.sigma_star(sigma_star)
    d = checks.open_unit("delta", delta)
    e0 = float(checks.positive("eps", eps))
    et = float(checks.positive("eta", eta))
    al = float(checks.positive("alpha", alpha))
    n = checks.nonneg_int("max_steps", max_steps, 1)
    checks.warn_if_unstable(et, critical_step_size(sig.max(), depth=L, alpha=al, eps=e0), what="eta")
    target = (1.0 - d) * sig
    a = np.full(sig.shape, e0)
    b = a.copy()
    if L == 2:
        et, al = et * al, 1.0
    res = np.where(a ** L >= target, 0, -1)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, n + 1):
            if al != 1.0:
                a, b = mode_step(a, b, sig, depth=L, eta=et, alpha=al)
            else:  # Eq. (13), exactly as compressed_spectrum evaluates it
                a = b = a * (1.0 - et * (a ** L - sig) * a ** (L - 2))
            newly = (res < 0) & (a * a * b ** (L - 2) >= target)
            res[newly] = t
            if np.all(res >= 0):
                break
    return res

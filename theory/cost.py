r"""Cost of wide versus compressed DLNs: parameters, multiply-accumulates per GD step, memory.

Layer l maps :math:`\mathbb R^{d_{l-1}}\to\mathbb R^{d_l}` (:math:`W_l\in\mathbb R^{d_l\times d_{l-1}}`),
widths :math:`(d_0,\dots,d_L)`. The wide DLN for an :math:`n_1\times n_2` target has widths
:math:`(n_2, w, \dots, w, n_1)`; the compressed one :math:`(n_2,\hat r,\dots,\hat r,n_1)`, giving
:math:`2d\hat r+(L-2)\hat r^2` parameters instead of :math:`Ld^2` (Section 2.2).

A GD step with explicit gradients from prefix/suffix products (the scheme of ``sim``):
prefixes :math:`P_l=W_lP_{l-1}` (l = 2..L), suffix-residuals
:math:`B_{l}=W_{l+1}^\top B_{l+1}` from :math:`B_L=P_L-M^*` (l = L−1..1), and gradients
:math:`\nabla_{W_l}=B_lP_{l-1}^\top` (l = 2..L; :math:`\nabla_{W_1}=B_1`), costing

.. math:: \text{MAC} = d_0\Big[2\sum_{l=2}^{L} d_l d_{l-1} + \sum_{l=1}^{L-1} d_{l+1}d_l\Big],

i.e. :math:`3(L-1)d^3` wide versus :math:`3d^2\hat r+3(L-2)d\hat r^2` compressed (square).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import checks

__all__ = ["wide_widths", "compressed_widths", "param_count", "gd_step_macs",
           "gd_step_memory_bytes", "CostComparison", "compare_costs"]


def wide_widths(shape, depth: int, width: int | None = None) -> tuple[int, ...]:
    """Widths (n2, w, …, w, n1) of the wide DLN; default hidden width w = max(n1, n2)."""
    L = checks.depth(depth)
    n1, n2 = checks.shape(shape)
    w = max(n1, n2) if width is None else checks.nonneg_int("width", width, 1)
    return (n2,) + (w,) * (L - 1) + (n1,)


def compressed_widths(shape, depth: int, rank_hat: int) -> tuple[int, ...]:
    """Widths (n2, r̂, …, r̂, n1) of the compressed DLN (Algorithm 1)."""
    L = checks.depth(depth)
    n1, n2 = checks.shape(shape)
    rh = checks.nonneg_int("rank_hat", rank_hat, 1)
    return (n2,) + (rh,) * (L - 1) + (n1,)


def _widths(widths) -> tuple[int, ...]:
    ws = tuple(widths)
    if len(ws) < 3:
        raise ValueError(f"widths must list d_0..d_L with L >= 2 (at least 3 entries), got {ws!r}")
    return tuple(checks.nonneg_int(f"widths[{i}]", w, 1) for i, w in enumerate(ws))


def param_count(widths) -> int:
    r""":math:`\sum_l d_l d_{l-1}`.

    >>> param_count((100, 20, 20, 100))   # 2 d r̂ + (L-2) r̂^2 with d=100, r̂=20, L=3
    4400
    """
    ws = _widths(widths)
    return sum(ws[i] * ws[i - 1] for i in range(1, len(ws)))


def gd_step_macs(widths, *, factored: bool = False) -> int:
    r"""Multiply-accumulates of one explicit-gradient GD step (module docstring formula).

    ``factored=True``: the residual-free step that ``sim`` uses for factorization with a narrow
    last hidden width :math:`k=d_{L-1}`: :math:`M^*P^\top` and :math:`W_L^\top M^*`
    (:math:`2d_0d_Lk`), the Grams :math:`W_L^\top W_L`, :math:`PP^\top` (:math:`k^2(d_L+d_0)`),
    :math:`W_L(PP^\top)` and :math:`(W_L^\top W_L)P` (:math:`k^2(d_L+d_0)`), plus the chain below
    layer L as in the plain scheme.

    >>> gd_step_macs((10, 10, 10, 10)) == 3 * 2 * 10**3
    True
    >>> gd_step_macs((100, 20, 20, 100), factored=True)   # 2·d²r̂ + 4·r̂²d + 3·r̂²d
    680000
    """
    ws = _widths(widths)
    L = len(ws) - 1
    if not factored:
        fwd_grad = 2 * sum(ws[l] * ws[l - 1] for l in range(2, L + 1))
        bwd = sum(ws[l + 1] * ws[l] for l in range(1, L))
        return ws[0] * (fwd_grad + bwd)
    d0, dL, k = ws[0], ws[L], ws[L - 1]
    top = 2 * d0 * dL * k + 2 * k * k * (dL + d0)
    fwd_grad = 2 * sum(ws[l] * ws[l - 1] for l in range(2, L))
    bwd = sum(ws[l + 1] * ws[l] for l in range(1, L - 1))
    return top + d0 * (fwd_grad + bwd)


def gd_step_memory_bytes(widths, dtype_bytes: int = 8) -> int:
    r"""Working set of one GD step in the ``sim`` scheme, in bytes.

    Parameters and gradients (2P), the prefixes :math:`P_1..P_{L-1}` (Σ d_l d_0), residual and
    target (2 d_L d_0), and two alternating suffix buffers (2 max_l d_l d_0).
    """
    ws = _widths(widths)
    b = checks.nonneg_int("dtype_bytes", dtype_bytes, 1)
    L = len(ws) - 1
    n = (2 * param_count(ws) + sum(ws[l] * ws[0] for l in range(1, L)) + 2 * ws[L] * ws[0]
         + 2 * max(ws[l] * ws[0] for l in range(1, L + 1)))
    return n * b


@dataclass(frozen=True)
class CostComparison:
    """Wide versus compressed cost for one setting; ratios are wide / compressed."""

    wide_widths: tuple[int, ...]
    compressed_widths: tuple[int, ...]
    wide_params: int
    compressed_params: int
    wide_macs: int
    compressed_macs: int
    wide_bytes: int
    compressed_bytes: int

    @property
    def param_ratio(self) -> float:
        return self.wide_params / self.compressed_params

    @property
    def mac_ratio(self) -> float:
        return self.wide_macs / self.compressed_macs

    @property
    def memory_ratio(self) -> float:
        return self.wide_bytes / self.compressed_bytes


def compare_costs(shape, *, depth: int, rank_hat: int, width: int | None = None,
                  dtype_bytes: int = 8) -> CostComparison:
    """Parameters, MACs per GD step and memory of the wide and the compressed DLN."""
    ww = wide_widths(shape, depth, width)
    cw = compressed_widths(shape, depth, rank_hat)
    return CostComparison(ww, cw, param_count(ww), param_count(cw), gd_step_macs(ww), gd_step_macs(cw),
                          gd_step_memory_bytes(ww, dtype_bytes), gd_step_memory_bytes(cw, dtype_bytes))

"""Argument validation shared by every public theory function (and by ``cdln``'s report config).

Public: ``sim`` and ``cdln`` validate with the same helpers, so one message format holds everywhere.

Every check raises :class:`ValueError` *before any work starts*, and the message names the
argument, the value it received and the valid range, e.g.
``ValueError: depth must be an integer >= 2, got 1``.
"""

from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

__all__ = ["StepSizeWarning", "depth", "nonneg_int", "positive", "open_unit", "sigma_star", "rank_hat",
           "choice", "warn_if_unstable", "finite_float", "shape", "option", "validate_choices"]


class StepSizeWarning(RuntimeWarning):
    """Raised (as a warning) when a step size exceeds the predicted critical step size."""


def depth(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 2:
        raise ValueError(f"depth must be an integer >= 2, got {value!r}")
    return int(value)


def nonneg_int(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive(name: str, value, *, allow_zero: bool = False) -> np.ndarray:
    """A finite positive scalar or array (returned as a float64 array)."""
    arr = np.asarray(value, dtype=float)
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        rng = "[0, inf)" if allow_zero else "(0, inf)"
        shown = arr if arr.ndim == 0 else arr[bad].ravel()[0]
        raise ValueError(f"{name} must be finite and in {rng}, got {float(shown)!r}")
    return arr


def open_unit(name: str, value) -> float:
    if not isinstance(value, numbers.Real) or not (0.0 < float(value) < 1.0):
        raise ValueError(f"{name} must be in the open interval (0, 1), got {value!r}")
    return float(value)


def sigma_star(value, *, allow_zero: bool = False) -> np.ndarray:
    """Target singular values: an array (..., r) of finite values > 0 (>= 0 if allowed)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        arr = arr[None]
    if arr.shape[-1] == 0:
        raise ValueError("sigma_star must hold at least one singular value, got an empty array")
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if np.any(bad):
        rng = "[0, inf)" if allow_zero else "(0, inf)"
        raise ValueError(
            f"sigma_star must be finite and in {rng}, got {float(arr[bad].ravel()[0])!r}"
        )
    return arr


def rank_hat(value, n_modes: int) -> int:
    if value is None:
        return n_modes
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < n_modes:
        raise ValueError(
            f"rank_hat must be an integer >= the number of modes ({n_modes}), got {value!r}"
        )
    return int(value)


def choice(name: str, value, options) -> str:
    if value not in options:
        raise ValueError(f"{name} must be one of {sorted(options)}, got {value!r}")
    return value


def warn_if_unstable(eta, eta_crit, *, what: str = "eta", stacklevel: int = 3) -> bool:
    """Warn (StepSizeWarning) when any eta exceeds its critical step size; return whether it did."""
    eta = np.asarray(eta, dtype=float)
    eta_crit = np.asarray(eta_crit, dtype=float)
    over = eta > eta_crit
    if np.any(over):
        idx = np.argmax(np.broadcast_to(over, np.broadcast_shapes(over.shape)).ravel())
        e = np.broadcast_to(eta, over.shape).ravel()[idx]
        c = np.broadcast_to(eta_crit, over.shape).ravel()[idx]
        warnings.warn(
            f"{what}={float(e):.6g} exceeds the critical step size {float(c):.6g} "
            f"(sum-normalised loss): the iteration will not converge to the target",
            StepSizeWarning,
            stacklevel=stacklevel,
        )
        return True
    return False


def finite_float(name: str, value) -> float:
    if not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def shape(value) -> tuple[int, int]:
    """A matrix shape: an int d (square) or a pair (n1, n2) of ints >= 1."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value), int(value))
    try:
        n1, n2 = value
    except (TypeError, ValueError):
        raise ValueError(f"shape must be an int or a pair (n1, n2) of ints >= 1, got {value!r}") from None
    return nonneg_int("shape[0]", n1, 1), nonneg_int("shape[1]", n2, 1)


def option(default, help: str, *, choices=None, unit: str | None = None):
    """A config dataclass field that carries its own documentation: one line of ``help``, the valid
    ``choices`` (validated by :func:`validate_choices`) and the ``unit`` or normalisation. The
    command line's flags, the config's validation and ``docs/cli.md`` are all generated from it."""
    import dataclasses

    meta = {"help": help, "choices": tuple(choices) if choices is not None else None, "unit": unit}
    return dataclasses.field(default=default, metadata=meta)


def validate_choices(obj, skip=()) -> None:
    """``ValueError`` for the first field of the dataclass ``obj`` whose value is not among its
    :func:`option` choices (``None`` is allowed where the default is ``None``: "not given").
    Fields in ``skip`` are left to a narrower check by the caller."""
    import dataclasses

    for f in dataclasses.fields(obj):
        opts = f.metadata.get("choices") if f.name not in skip else None
        v = getattr(obj, f.name)
        if opts is None or (v is None and f.default is None):
            continue
        if v not in opts:
            raise ValueError(f"{f.name} must be one of {', '.join(map(str, opts))}; got {v!r}")

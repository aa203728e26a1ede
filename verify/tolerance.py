"""The one place tolerances come from: k · eps(dtype), with k justified where it is used."""

import numpy as np


def ulps(k: float, dtype=np.float64) -> float:
    """``k`` machine epsilons of ``dtype`` (float64: 2.22e-16 each)."""
    return float(k) * float(np.finfo(dtype).eps)

"""cdln.theory — closed forms, recurrences, gradient-flow ODEs, stability, fit times, bounds.

numpy / scipy / sympy only (never torch). Every step size is for the sum-normalised loss
½‖·‖² unless an argument names another normalisation. Equation numbers refer to
Kwon et al., "Efficient Compression of Overparameterized Deep Models through
Low-Dimensional Learning Dynamics" (arXiv 2311.05061v2).
"""

from . import checks
from .checks import StepSizeWarning
from . import eos
from .corollary import InitialErrors, initial_errors
from .cost import (CostComparison, compare_costs, compressed_widths, gd_step_macs,
                   gd_step_memory_bytes, param_count, wide_widths)
from .fit_times import (IncrementalSchedule, escape_constant, fit_time, fit_time_asymptotic,
                        incremental_schedule)
from .flow import (aligned_mode_flow, balance_invariants, beta_flow, flow_spectrum, flow_time,
                   mode_invariant, wide_flow_spectrum)
from .recurrences import compressed_spectrum, fit_steps, mode_step
from .stability import (convert_step_size, critical_step_size, curvature_scale, normaliser,
                        problem_critical_step_size)
from .targets import Target, authors_spectrum_asymptotic, authors_target

__all__ = [
    # Theorem 1 (recurrences)
    "compressed_spectrum", "mode_step", "fit_steps",
    # gradient flow
    "flow_spectrum", "wide_flow_spectrum", "aligned_mode_flow", "beta_flow", "flow_time",
    "mode_invariant", "balance_invariants",
    # stability and normalisation
    "critical_step_size", "problem_critical_step_size", "normaliser", "convert_step_size",
    "curvature_scale", "StepSizeWarning",
    # fit times
    "fit_time", "fit_time_asymptotic", "escape_constant", "incremental_schedule",
    "IncrementalSchedule",
    # Corollary 1 and costs
    "initial_errors", "InitialErrors", "compare_costs", "CostComparison", "param_count",
    "gd_step_macs", "gd_step_memory_bytes", "wide_widths", "compressed_widths",
    # targets, symbolic
    "authors_target", "authors_spectrum_asymptotic", "Target", "symbolic",
    # the sequel: beyond the edge of stability (theory.eos; sympy in theory.eos_symbolic)
    "eos",
    # argument validation (shared with sim and cdln)
    "checks",
]


def __getattr__(name):  # sympy is slow to import: load `theory.symbolic` on first use
    if name == "symbolic":
        import importlib

        return importlib.import_module(".symbolic", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

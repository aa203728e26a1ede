"""cdln.sim — real GD on wide and compressed DLNs (torch), batched over seeds, CPU or CUDA.

A reader can follow a run: ``RunConfig`` (config.py) → ``make_problem`` (build.py; the problem kinds
behind one protocol in problems.py, sparse completion in sparse_completion.py) +
``init_wide``/``init_compressed`` (models.py) → ``run_gd`` (gd.py; or ``run_altmin``,
``run_flow``) → ``run``/``load_run`` (results.py).
"""

from . import io
from . import eos
from . import instances
from . import data, observations, sparse_completion, sparse_ops  # noqa: F401  (sparse completion at scale)
from .altmin import run_altmin
from .config import MODELS, PROBLEMS, RunConfig
from .flow import run_flow
from .gd import DivergenceError, Trace, end_to_end, gd_step, gd_steps, gradients, run_gd, uses_factored_step
from .models import init_compressed, init_wide, widths_of
from .build import make_problem
from .data import DataError, load_movielens, movielens_path
from .problems import Completion, DenseProblem, Factorization, MovieLens, Problem, Sensing
from .results import Run, execute, load_run, run

__all__ = [
    "RunConfig", "PROBLEMS", "MODELS",
    "Problem", "DenseProblem", "Factorization", "Completion", "MovieLens", "Sensing",
    "make_problem", "load_movielens", "movielens_path", "DataError",
    "init_wide", "init_compressed", "widths_of",
    "gradients", "gd_step", "gd_steps", "uses_factored_step", "end_to_end", "run_gd", "Trace", "DivergenceError",
    "run_altmin", "run_flow",
    "Run", "run", "load_run", "execute",
    "io", "eos", "instances", "data", "observations", "sparse_completion", "sparse_ops",
]

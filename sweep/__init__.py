"""cdln.sweep — many runs on a Dask cluster, one parquet table: ``cdln sweep SPEC``.

Between ``sim`` (one run, batched over seeds, cached in the store) and ``cdln`` (the command line):
a spec (``[base]``, ``[grid]``, ``[[zip]]``; :mod:`sweep.spec`) → the points the store lacks, batched
by seed (:mod:`sweep.plan`) → one Dask task per batch (:mod:`sweep.task`, :mod:`sweep.engine`) →
one row per (config, seed). ``sweep.run(spec, client=None) -> pandas.DataFrame`` is its Python face.
The nonlinear networks' trainings (Table 1, Figs. 1, 20, 21) go to the same clusters through
:func:`sweep.trainings.train_missing`.
"""

from .engine import as_spec, describe, plan_of, run, run_points, table, write_results
from .plan import Batch, Plan, cost_estimate, make_plan, step_macs
from .spec import RUN_KEYS, Spec, config_of, load_spec, parse_spec, to_toml
from .store import Store
from .task import OUTCOME_COLUMNS, run_batch
from .trainings import missing_trainings, train_missing

__all__ = [
    "run", "run_points", "as_spec", "describe", "plan_of", "table", "write_results",
    "Spec", "load_spec", "parse_spec", "to_toml", "config_of", "RUN_KEYS",
    "Batch", "Plan", "make_plan", "cost_estimate", "step_macs",
    "Store", "run_batch", "OUTCOME_COLUMNS", "train_missing", "missing_trainings",
]

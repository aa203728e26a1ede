"""The committed sweep tables (``docs/sweeps/<name>/results.parquet``) as evidence for a claim's conditions.

A region map is measured once by ``python -m sweep.maps`` or ``cdln sweep`` (minutes to hours) and
committed; the claim tests here re-derive each law from the table's rows and assert it on every row,
so a condition that quotes a law cannot drift from the table behind it. A table is used only if the
spec it was run with (``<name>/spec.toml``, written there by the sweep) has every setting of the spec
committed beside it (``docs/sweeps/<name>.toml``) unchanged: an edited spec without a rerun is an error here,
not a silent mismatch. ``verify`` may not import ``sweep`` (the layers contract), so this reads the
files with pandas alone.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from verify.measures import gd_tie_band

__all__ = ["SweepTable", "sweep_table", "gd_band"]

ROOT = Path(__file__).resolve().parent.parent / "docs" / "sweeps"


@dataclass(frozen=True)
class SweepTable:
    name: str
    frame: pd.DataFrame
    spec: dict

    @property
    def cite(self) -> str:
        """How the evidence names the table (a path in the repository, and how to rebuild it)."""
        return f"docs/sweeps/{self.name}/results.parquet ({len(self.frame)} rows; spec docs/sweeps/{self.name}.toml)"


def sweep_table(name: str) -> SweepTable:
    """The committed table of sweep ``name``, checked against its committed spec."""
    table, ran, spec = ROOT / name / "results.parquet", ROOT / name / "spec.toml", ROOT / f"{name}.toml"
    for p in (table, ran, spec):
        if not p.is_file():
            raise FileNotFoundError(f"sweep table {name!r}: {p} is missing (its spec's header says how to run it)")
    committed, as_run = tomllib.loads(spec.read_text()), tomllib.loads(ran.read_text())
    # ``cdln sweep`` writes the spec as run: defaults filled in and the store made absolute
    if any(as_run.get(k) != v for k, v in committed.items() if k != "store"):
        raise AssertionError(f"sweep table {name!r}: {ran} differs from {spec}: the spec was edited after the "
                             "sweep ran; rerun it (the command is in the spec's header)")
    return SweepTable(name, pd.read_parquet(table), committed)


def gd_band(frame: pd.DataFrame, scale=None) -> np.ndarray:
    """Per row, the rounding band of its margin (a difference of two squared errors of the sweep's
    L-fold products of d × d matrices): :func:`verify.measures.gd_tie_band` at scale ‖M*‖² (the
    ``target_sq`` column), or at the per-row magnitudes ``scale`` the margin was formed from."""
    scale = frame.target_sq if scale is None else scale
    return np.array([gd_tie_band(float(s), d=int(d), depth=int(L)) for s, d, L in zip(scale, frame.d, frame.depth)])

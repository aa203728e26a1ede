"""The results store a sweep shares with ``cdln run`` and the figure scripts: ``ROOT/<key>/``.

Finished runs are ``sim.run``'s folders (written atomically; the key is the machine-independent
config hash), so a run made by any worker, by an earlier sweep or by ``cdln run`` is found by any
other. ``sim`` keeps no record of a run that diverged (it raises before writing); the sweep keeps
one, ``ROOT/_diverged/<key>.json``, so a rerun does not repeat a deterministic divergence. A failed
run (any other error) is not recorded and is tried again by the next sweep.

Two finishers of one key (two sweeps sharing a store, or a task Dask rescheduled while its first
worker was still running) are not an error: ``sim.run`` renames its temporary folder onto
``ROOT/<key>``, and the second rename fails with ``OSError`` because the folder is there; the store
then reads the first finisher's run, which holds the same numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import sim
from sim.io import atomic_write_text

__all__ = ["Store"]


class Store:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).absolute()

    def path(self, key: str) -> Path:
        return self.root / key

    def has_run(self, key: str) -> bool:
        return (self.root / key / "summary.json").is_file()

    def load(self, key: str) -> sim.Run:
        return sim.load_run(self.root / key)

    def run(self, cfg: sim.RunConfig) -> sim.Run:
        """``sim.run`` into the store; a concurrent finisher of the same key returns the run it wrote."""
        try:
            return sim.run(cfg, root=self.root)
        except OSError:
            key = cfg.key()
            if self.has_run(key) and json.loads((self.root / key / "config.json").read_text()).get("key") == key:
                r = self.load(key)
                r.cached = True
                return r
            raise

    # ---------------------------------------------------------------- divergence records
    def _diverged_path(self, key: str) -> Path:
        return self.root / "_diverged" / f"{key}.json"

    def diverged(self, key: str) -> dict | None:
        p = self._diverged_path(key)
        return json.loads(p.read_text()) if p.is_file() else None

    def put_diverged(self, cfg: sim.RunConfig, exc: sim.DivergenceError) -> dict:
        rec = {"key": cfg.key(), "config": cfg.to_dict(), "status": "diverged", "message": str(exc),
               "step": exc.step, "loss": exc.loss, "seed": exc.seed, "eta_stable": exc.eta_stable}
        atomic_write_text(self._diverged_path(cfg.key()), json.dumps(rec, indent=1))
        return rec

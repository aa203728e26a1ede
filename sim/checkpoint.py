r"""Checkpoints of a long run: a killed process resumes at its last checkpoint, with the same numbers.

A paper-setting run can take an hour (Fig. 7's wide DLN on MovieLens: about 0.66 s a step for 6,000+
steps). :func:`sim.results.run` gives :func:`sim.gd.run_gd` a :class:`Checkpoint` beside the run's
folder (``<root>/.ckpt-<key>.pt``). At a log, once ``every_s`` seconds of wall time have passed since the
last save, run_gd saves everything its loop carries:

* the weights, the step t, the training time so far and the wall time so far;
* the trace logged so far (:class:`sim.gd.Trace`, including dropped instances' errors);
* the patience state (best test error and logs since, per instance), the divergence limits and the
  step coefficients (a dropped instance's are zero).

The file is written to a temporary name and renamed into place, so a kill during a save leaves the
previous checkpoint whole. A rerun of the same config finds it, checks it is this run's (the key, the
weights' shapes and dtype), and continues from step t. GD is deterministic and a checkpoint is taken at
a log, where the loop's chunks restart anyway (:data:`sim.gd.CHUNK` steps between logs, cut at each log),
so the resumed run takes the same steps on the same values: on the same machine and thread count its
weights and every logged number equal the uninterrupted run's bitwise (tests/test_checkpoint.py). Only
the timings differ. The summary says where a run resumed (``resumed``). The checkpoint is deleted
once the finished run is in the store, or once the run diverges.

Checkpoints are a convenience, not part of a run's identity: their interval never changes a number.
``cdln run --checkpoint-minutes M`` sets it (default :data:`DEFAULT_EVERY_S`; 0 turns checkpoints off).
A checkpoint is a pickle (``torch.save``): read only checkpoints this package wrote.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from pathlib import Path

import torch

__all__ = ["Checkpoint", "DEFAULT_EVERY_S"]

DEFAULT_EVERY_S = 600.0  #: seconds of wall time between two saves (a short run never writes one)
_FORMAT = 1


class Checkpoint:
    """Where and how often a run saves its state (``every_s`` >= 0 seconds; 0: at every log)."""

    def __init__(self, path: str | os.PathLike, key: str, every_s: float = DEFAULT_EVERY_S):
        if isinstance(every_s, bool) or not isinstance(every_s, (int, float)) or not every_s >= 0:
            raise ValueError(f"every_s must be a number of seconds >= 0, got {every_s!r}")
        self.path, self.key, self.every_s = Path(path), str(key), float(every_s)
        self._last = time.monotonic()

    def due(self) -> bool:
        """Whether ``every_s`` seconds have passed since the last save (or since this object was made)."""
        return time.monotonic() - self._last >= self.every_s

    def save(self, state: dict) -> None:
        """Write ``state`` atomically (a temporary file renamed over the previous checkpoint)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{self.path.name}-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                torch.save({"format": _FORMAT, "key": self.key, **state}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        self._last = time.monotonic()

    def load(self, Ws) -> dict | None:
        """This run's saved state, or ``None`` (no checkpoint; or one of another run or format, which is
        set aside with a warning rather than trusted)."""
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001 - an unreadable file: start afresh, say so
            warnings.warn(f"checkpoint {str(self.path)!r} could not be read ({type(e).__name__}: {e}); starting afresh",
                          stacklevel=2)
            return None
        shapes = [tuple(W.shape) for W in Ws]
        ok = (isinstance(state, dict) and state.get("format") == _FORMAT and state.get("key") == self.key
              and [tuple(W.shape) for W in state.get("Ws", [])] == shapes
              and all(W.dtype == V.dtype for W, V in zip(state["Ws"], Ws)))
        if not ok:
            warnings.warn(f"checkpoint {str(self.path)!r} is not this run's (key {self.key}, weights {shapes}); "
                          "starting afresh", stacklevel=2)
            return None
        return state

    def clear(self) -> None:
        """Remove the checkpoint (the run is finished and stored, or diverged)."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass

"""Cached nonlinear training runs: ``runs/nonlinear/<config hash>/`` with result.json (+ snapshots.npz).

Written into a temporary folder and renamed into place, like ``sim.run``; a finished run is read back
instead of retrained, so ``cdln table1`` and the figures that plot the same runs train them once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from .train import TrainConfig, TrainResult, train

__all__ = ["train_cached", "config_key"]


def config_key(cfg: TrainConfig) -> str:
    d = cfg.to_dict()
    d["device"] = torch.device(cfg.device).type
    d["torch"] = torch.__version__.split("+")[0]
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def train_cached(cfg: TrainConfig, root: str | os.PathLike = "runs", data=None, progress=None) -> tuple[TrainResult, bool]:
    """(result, cached): the run of ``cfg`` from ``root/nonlinear/<key>/``, training it if missing."""
    dest = Path(root) / "nonlinear" / config_key(cfg)
    if (dest / "result.json").is_file():
        d = json.loads((dest / "result.json").read_text())
        snaps = []
        if (dest / "snapshots.npz").is_file():
            with np.load(dest / "snapshots.npz") as z:
                snaps = [z[f"s{i}"] for i in range(len(z.files))]
        return TrainResult(**{**d, "snapshots": snaps}), True
    res = train(cfg, data, progress=progress)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{dest.name}-", dir=dest.parent))
    try:
        d = {k: v for k, v in dataclasses.asdict(res).items() if k != "snapshots"}
        (tmp / "result.json").write_text(json.dumps(d, indent=1))
        if res.snapshots:
            np.savez(tmp / "snapshots.npz", **{f"s{i}": s for i, s in enumerate(res.snapshots)})
        try:
            os.replace(tmp, dest)
        except OSError:
            if not (dest / "result.json").is_file():
                raise
            # another process finished the same key first: the same training (same config, seed, device); its
            # result stands and this copy is dropped
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return res, False

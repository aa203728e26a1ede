"""Region maps that are not `cdln run` sweeps: many small measurements on matrices, one parquet table.

Some conditional verdicts are about quantities no training run logs (Corollary 1 is a statement at
t = 0). Their maps are measured here, on the matrices ``sim.instances`` builds, spread over a Dask
``LocalCluster`` (or any ``distributed.Client``) one task per (d, L), and written as
``OUT/results.parquet`` with ``OUT/spec.toml`` beside it. Everything in a table follows from its spec
(a TOML file under ``docs/sweeps/``) and the seeds it lists; nothing is typed in.

    python -m sweep.maps docs/sweeps/corollary1-map.toml --out docs/sweeps/corollary1-map --workers 2

A spec names its ``map`` (one of :data:`MAPS`) and that map's settings; see the spec files.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd


def _quiet_threads():
    """One BLAS/torch thread per task: the cluster's workers are the parallelism."""
    import torch

    torch.set_num_threads(1)


# ------------------------------------------------------------------ corollary1: t = 0 on matrices
def corollary1_task(d: int, depth: int, spec: dict) -> list[dict]:
    """Every (r̂, ε, init) of one (d, L): both nets at t = 0 (sim.instances.initial_pair), proof's scaling.

    The gap is formed from the end-to-end matrices P (wide) and P̃ (Algorithm 1) as
    ‖P‖² − ‖P̃‖² − 2⟨P − P̃, M*⟩ (the same number as the difference of the two squared errors,
    without its cancellation); the columns also hold that difference, the overlap ω = tr(QᵀM*)
    and the norms a rounding band needs.
    """
    import theory
    from sim.gd import end_to_end
    from sim.instances import initial_pair

    _quiet_threads()
    r = int(spec["rank"])
    sig = theory.authors_target(d, r, int(spec["target_seed"])).sigma
    seeds = int(spec["haar_seeds"][str(d)])
    rows = []
    for dr in spec["rank_hat_minus_rank"]:
        rh = r + int(dr)
        for eps in spec["eps"]:
            for init, seed in [("aligned", 0)] + [("haar", s) for s in range(seeds)]:
                t0 = time.perf_counter()
                pair = initial_pair(sig, d=d, rank_hat=rh, depth=depth, eps=float(eps), scaling="proof",
                                    aligned=init == "aligned", seed=seed)
                P = end_to_end(pair.wide_layers)[0].numpy()
                Pc = end_to_end(pair.compressed_layers)[0].numpy()
                M = pair.problem.target[0].numpy()
                wsq, csq = float(np.sum(P * P)), float(np.sum(Pc * Pc))
                D = P - Pc
                rows.append(dict(
                    d=d, rank=r, rank_hat=rh, rank_hat_minus_rank=int(dr), depth=depth, eps=float(eps), init=init,
                    seed=seed, gap=wsq - csq - 2.0 * float(np.sum(D * M)),
                    gap_of_errors=pair.wide_error - pair.compressed_error, overlap=pair.overlap,
                    wide_error=pair.wide_error, compressed_error=pair.compressed_error, wide_sq=wsq,
                    compressed_sq=csq, diff_norm=float(np.linalg.norm(D)), target_norm=float(np.linalg.norm(M)),
                    time_s=time.perf_counter() - t0))
    return rows


#: map name -> (the tasks of a spec as (function, args) pairs)
MAPS = {
    "corollary1": lambda s: [(corollary1_task, (int(d), int(L), s)) for d in sorted(s["d"], reverse=True)
                             for L in s["depth"]],
}


def load(path) -> dict:
    spec = tomllib.loads(Path(path).read_text())
    if spec.get("map") not in MAPS:
        raise SystemExit(f"{path}: 'map' must be one of {sorted(MAPS)}, got {spec.get('map')!r}")
    return spec


def run(spec_path, out, client=None, workers: int = 2) -> pd.DataFrame:
    """All tasks of the spec on ``client`` (or an embedded LocalCluster of ``workers``), written to ``out``."""
    spec = load(spec_path)
    tasks = MAPS[spec["map"]](spec)
    t0 = time.perf_counter()
    if client is None:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
                Client(cl) as c:
            rows = sum(c.gather([c.submit(f, *a, pure=False) for f, a in tasks]), [])
    else:
        rows = sum(client.gather([client.submit(f, *a, pure=False) for f, a in tasks]), [])
    df = pd.DataFrame(rows)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / "results.parquet", index=False)
    shutil.copyfile(spec_path, out / "spec.toml")
    print(f"{len(df)} rows in {time.perf_counter() - t0:.1f} s wall ({df.time_s.sum():.1f} s of measurements) "
          f"-> {out / 'results.parquet'}")
    return df


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sweep.maps", description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("--out", required=True)
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args(argv)
    run(a.spec, a.out, workers=a.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())

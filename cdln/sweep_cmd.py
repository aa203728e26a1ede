"""`cdln sweep SPEC`: a spec's runs on a Dask cluster (embedded or existing) → OUT/results.parquet."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT = Path("runs") / "sweeps"  # beside the run store (git-ignored): runs/sweeps/<spec name>/


def add_sweep_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", metavar="SPEC",
                   help="TOML or JSON file: [base] cdln run keys, [grid] lists (their product), optional [[zip]] "
                        "lists that vary together, store (default: runs), max_batch (seeds per batched run, "
                        "default 16), threads (torch threads per run, default 1)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on the existing Dask cluster of this scheduler, e.g. tcp://HOST:8786 "
                        "(default: an embedded LocalCluster)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes of the embedded LocalCluster, one thread each (default: the number of cores)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="writes DIR/results.parquet and DIR/spec.toml (default: runs/sweeps/<SPEC's name>)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the runs, the batches and theory's cost estimate of what is missing; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary line")


def sweep_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    import sweep

    fail = lambda msg: parser.exit(2, f"cdln sweep: error: {msg}\n")  # noqa: E731
    try:
        spec = sweep.load_spec(args.spec)
    except ValueError as exc:
        fail(exc)
    if args.workers is not None and args.workers < 1:
        fail(f"--workers must be an integer >= 1, got {args.workers}")
    if args.workers is not None and args.scheduler is not None:
        fail("--workers sizes the embedded LocalCluster; it does not apply with --scheduler")
    for w in spec.warnings:
        print(f"cdln sweep: warning: {w}", file=sys.stderr)
    if args.dry_run:
        print(sweep.describe(spec, workers=args.workers))
        return 0
    out = Path(args.out) if args.out is not None else DEFAULT_OUT / Path(args.spec).stem
    try:
        df = sweep.run(spec, out=out, scheduler=args.scheduler, workers=args.workers,
                       progress=not args.quiet and sys.stderr.isatty())
    except OSError as exc:  # e.g. no scheduler at --scheduler
        fail(f"cannot reach the Dask scheduler {args.scheduler!r}: {exc}" if args.scheduler else exc)
    if not args.quiet:
        counts = df.status.value_counts().to_dict()
        print(f"{len(df)} runs: " + ", ".join(f"{counts.get(s, 0)} {s}" for s in ("completed", "diverged", "failed"))
              + f" → {out / 'results.parquet'}")
    return 0

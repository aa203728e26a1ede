"""`cdln` command line. Subcommands: `theory` (the theory report), `run` (one run or a batch of seeds),
`bench` (speed ratios measured in one run), `verify` (the claims' verdicts and report), `figures`
(the docs' figures from cached runs), `table1` (Table 1's nonlinear networks).

Bad input exits with status 2 and one line on stderr, before any work starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from . import __version__


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    from .flags import add_dataclass_flags
    from .report import ReportConfig

    parser = _Parser(prog="cdln", description="Compressed deep linear networks: theory, runs, checks.")
    parser.add_argument("--version", action="version", version=f"cdln {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    th = sub.add_parser("theory", help="print what theory predicts for a setting (default: the paper's)")
    add_dataclass_flags(th, ReportConfig)
    th.add_argument("--json", action="store_true", help="print the report as JSON")

    from .run_cmd import add_run_flags

    rn = sub.add_parser("run", help="run GD (or AltMin, or the gradient flow) on a problem; results in runs/<hash>/. "
                                    "With no flags: the paper's setting at α = 5 for 40,000 steps (every target mode "
                                    "in seconds); the closing line says how many of the target's modes are fitted "
                                    "and when theory expects the next",
                        description="Run GD (or AltMin, or the gradient flow) on a problem; results in runs/<hash>/. "
                                    "Defaults are sim.RunConfig's (the paper's setting) except --alpha 5, --steps "
                                    "40000 and --log-every 100 (AltMin keeps 1000 steps and a log every 10) (cdln run's own, so that a run with no flags learns "
                                    "its whole target in seconds; sim.RunConfig and sweep specs keep alpha 1, 1000 "
                                    "steps, a log every 10). The closing line gives how many of the target's modes "
                                    "are fitted (sigma_i >= 0.99 sigma*_i) and, if not all, the step at which theory "
                                    "expects the next one; summary.json holds them as 'modes'.")
    add_run_flags(rn)

    from .sweep_cmd import add_sweep_flags

    sw = sub.add_parser("sweep", help="run a grid of runs on a Dask cluster; one parquet row per (config, seed)")
    add_sweep_flags(sw)

    vf = sub.add_parser("verify", help="check every claim of the paper; writes docs/verification.md/.json")
    vf.add_argument("--profile", default="ci", choices=("ci", "dev", "deep"),
                    help="hypothesis profile: ci (bounded, derandomized), dev, deep (hours)")
    vf.add_argument("--render-only", action="store_true",
                    help="re-render the report (and, for ci, the home page's verdict table) from its committed "
                         "JSON, without running the tests")
    vf.add_argument("--claims", default=None, metavar="IDS",
                    help="run only these comma-separated claims' tests and replace their rows in the profile's "
                         "committed report, the others kept (e.g. --profile deep --claims theorem2-flow)")

    bn = sub.add_parser("bench", help="measure step speed against matmul rate, NumPy, autograd and batching")
    bn.add_argument("--device", default="cpu", help="where to time the steps: cpu, cuda or cuda:N (default: cpu)")
    bn.add_argument("--dtype", default=None, choices=("float64", "float32"),
                    help="floating-point type of every timed step (default: float64; float32 with --sparse)")
    bn.add_argument("--sparse", action="store_true",
                    help="sparse completion at scale instead: 10^5 x 10^5, 10^7 observations, r̂ = 20 (minutes)")
    bn.add_argument("--quick", action="store_true", help="d = 100, 200 only (with --sparse: 2·10^4 squared, 2·10^6 observations)")
    bn.add_argument("--peer", default=None, choices=("jax",),
                    help="also time the same steps in JAX, written as the authors write theirs (extra [peers]; "
                         "skipped with a message when JAX is not installed)")
    bn.add_argument("--threads", type=int, default=None,
                    help="torch threads for every timed step (and XLA's for --peer jax; default: torch's own)")
    bn.add_argument("--out", default=None, help="also write the results as JSON to this file")
    bn.add_argument("--markdown", default=None, help="also write the table as a Markdown page to this file")
    fg = sub.add_parser("figures", help="draw the figures of docs/figures/ from cached runs (launching missing runs)")
    fg.add_argument("names", nargs="*", metavar="NAME", help="figures to draw (default: all; see --list)")
    fg.add_argument("--fast", action="store_true", help="reduced settings that keep each effect (minutes on a CPU)")
    fg.add_argument("--paper", action="store_true",
                    help="the paper's settings: every run through the sweep engine first, pictures to docs/figures/paper/")
    fg.add_argument("--workers", type=int, default=None,
                    help="with --paper: processes of the embedded Dask LocalCluster (default: one per core)")
    fg.add_argument("--scheduler", default=None, help="with --paper: an existing Dask cluster's address (tcp://HOST:PORT)")
    fg.add_argument("--threads", type=int, default=None,
                    help="with --paper: torch threads per run on a worker (default 1; e.g. --workers 1 --threads 2 gives one long run both cores)")
    fg.add_argument("--list", action="store_true", help="list the figures and exit")
    fg.add_argument("--runs", default="runs", help="run cache folder (default: runs)")
    t1 = sub.add_parser("table1", help="Table 1: MLP and ViT with a plain, DLN or compressed-DLN penultimate layer")
    t1.add_argument("--fast", nargs="?", const=True, default=False, metavar="BLOCKS",
                    help="fast settings (a 10000-image subset, 5 epochs, 2 seeds: minutes on a CPU) for every block, or "
                         "for the comma-separated BLOCKS (MLP, ViT) only, the others at the paper's settings")
    t1.add_argument("--seeds", type=int, default=None, help="seeds per variant (default: 2 fast, 5 full)")
    t1.add_argument("--device", default="cpu", help="where to train: cpu, cuda or cuda:N (default: cpu)")
    t1.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                    help="floating-point type of the networks (default: float32)")
    t1.add_argument("--data-dir", default=None, help="CIFAR-10 python batches for the ViT rows (default: Fashion-MNIST)")
    t1.add_argument("--fashion-dir", default=None, help="Fashion-MNIST IDX files (default: Debian's /usr/share/datasets/fashion-mnist)")
    t1.add_argument("--width", type=int, default=784, help="MLP hidden width h (default: 784, Table 1's)")
    t1.add_argument("--rank-hat", type=int, default=None, help="compressed width r̂ (default: 4·d_y = 40)")
    t1.add_argument("--workers", type=int, default=None,
                    help="make the missing trainings first on an embedded Dask LocalCluster of this many processes "
                         "(one torch thread each; default: one after another in this process)")
    t1.add_argument("--scheduler", default=None, help="make them on an existing Dask cluster (tcp://HOST:PORT)")
    t1.add_argument("--out", default=None,
                    help="writes OUT.md and OUT.json (default: docs/table1 with --fast, else docs/table1-paper)")
    t1.add_argument("--runs", default="runs", help="run cache folder (default: runs)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "theory":
        from .report import ReportConfig, build_report, format_report, to_json

        fields = {f.name for f in dataclasses.fields(ReportConfig)}
        try:
            cfg = ReportConfig(**{k: v for k, v in vars(args).items() if k in fields})
        except ValueError as exc:
            parser.exit(2, f"cdln theory: error: {exc}\n")
        rep = build_report(cfg)
        print(to_json(rep) if args.json else format_report(rep))
        return 0
    if args.command == "verify":
        from .verify_cmd import verify_command

        return verify_command(args, parser)
    if args.command == "bench":
        import torch

        if args.device != "cpu" and not (args.device.startswith("cuda") and torch.cuda.is_available()):
            parser.exit(2, f"cdln bench: error: device {args.device!r} is not available on this machine\n")
        if args.sparse:
            from sim.bench_sparse import format_sparse_bench, run_sparse_bench, write_sparse_outputs

            res = run_sparse_bench(device=args.device, dtype=args.dtype or "float32", quick=args.quick)
            print(format_sparse_bench(res))
            write_sparse_outputs(res, json_path=args.out, markdown_path=args.markdown)
            return 0
        from sim.bench import format_bench, run_bench, write_outputs

        res = run_bench(device=args.device, dtype=args.dtype or "float64", quick=args.quick, peer=args.peer,
                        threads=args.threads)
        print(format_bench(res))
        write_outputs(res, json_path=args.out, markdown_path=args.markdown)
        return 0
    if args.command == "table1":
        from .table1 import table1_command

        return table1_command(args, parser)
    if args.command == "figures":
        from .figures import figures_command

        return figures_command(args, parser)
    if args.command == "run":
        from .run_cmd import run_command

        return run_command(args, parser)
    if args.command == "sweep":
        from .sweep_cmd import sweep_command

        return sweep_command(args, parser)
    return 2  # pragma: no cover  (argparse enforces a known command)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

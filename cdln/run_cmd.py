"""`cdln run`: flags (or a JSON config file) → sim.RunConfig → sim.run → runs/<key>/."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
import warnings

_LISTS = {"spectrum": float, "widths": int}


def add_run_flags(p: argparse.ArgumentParser) -> None:
    from sim import RunConfig

    hints = typing.get_type_hints(RunConfig)
    for f in dataclasses.fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        t = hints[f.name]
        if f.name in _LISTS:
            conv = (lambda typ: lambda s: tuple(typ(x) for x in s.split(",") if x.strip()))(_LISTS[f.name])
            conv.__name__ = f"comma-separated {_LISTS[f.name].__name__}s"
        elif t in (int, float, str):
            conv = t
        else:  # Optional[int] / Optional[str]
            conv = int if int in typing.get_args(t) else str
        p.add_argument(flag, type=conv, default=argparse.SUPPRESS, metavar=f.name.upper(),
                       help=f"(default: {f.default!r})")
    p.add_argument("--config", type=argparse.FileType("r"), default=None,
                   help="JSON file with the same keys as the flags (flags override it)")
    p.add_argument("--out", default=None, help="result folder (default: runs/<config hash>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sim import DataError, DivergenceError, RunConfig, run

    given = {k: v for k, v in vars(args).items() if k in {f.name for f in dataclasses.fields(RunConfig)}}
    try:
        base = json.load(args.config) if args.config is not None else {}
        if not isinstance(base, dict):
            raise ValueError("config file must hold a JSON object")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cfg = RunConfig.from_dict({**base, **given})
        for w in caught:
            print(f"cdln run: warning: {w.message}", file=sys.stderr)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        parser.exit(2, f"cdln run: error: {exc}\n")
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, unit="step", file=sys.stderr, dynamic_ncols=True)

        def progress(step, loss, err, rate):
            bar.update(step - bar.n)
            bar.set_postfix(loss=f"{loss:.3e}", error=f"{err:.3e}", steps_per_s=f"{rate:.0f}")
    else:
        progress = None
    try:
        r = run(cfg, args.out, progress=progress)
    except (DataError, MemoryError, ValueError) as exc:
        parser.exit(2, f"cdln run: error: {exc}\n")
    except DivergenceError as exc:
        parser.exit(1, f"cdln run: {exc}\n")
    finally:
        if bar is not None:
            bar.close()
    s = r.summary
    last = r.metrics[r.metrics.step == r.metrics.step.max()]
    errs = ", ".join(f"{c} {last[c].mean():.4g}" for c in last.columns if c.endswith("error") or c.endswith("rmse"))
    how = "cached" if r.cached else f"{s['train_time_s']:.2f} s training ({s['device']})"
    print(f"{cfg.problem}/{cfg.model}: {s['steps_done']} steps, train loss {last.train_loss.mean():.4g}, "
          f"{errs}; {how}; {len(cfg.seed_list)} seed(s) → {r.path}")
    return 0

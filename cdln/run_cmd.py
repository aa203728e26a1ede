"""`cdln run`: flags (or a JSON config file) → sim.RunConfig → sim.run → runs/<key>/.

Its defaults are :class:`sim.RunConfig`'s — the paper's setting (d = 100, r = 10, r̂ = 20, L = 3, ε = 10⁻³,
η = 10 with the mean loss) — except for :data:`FIRST_CONTACT`: the paper's α = 5 and enough steps for
theory's last mode, so that ``cdln run`` with no flags learns the whole target in seconds. They apply under
a ``--config`` file and the flags (each overrides them); ``sim.RunConfig``, the sweep specs and the figure
scripts keep their own defaults (α = 1, 1000 steps, a log every 10), so no stored run key moves.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import warnings

#: ``cdln run``'s own defaults where they differ from sim.RunConfig's: the paper's α = 5 (Fig. 5; RunConfig
#: keeps α = 1, where Theorem 1 holds as printed), 40,000 steps (theory.fit_steps puts the paper's last mode,
#: σ*_10 = 8.88, at step 36,384 at α = 5: ~5 s on one core) and a log every 100 steps (400 logs; logging,
#: one SVD of W_{L:1} each, would otherwise take as long as the training)
FIRST_CONTACT = {"alpha": 5.0, "steps": 40_000, "log_every": 100}
#: AltMin's steps are least-squares solves (≈ 12 ms each at the paper's size) and it fits the paper's target
#: in tens of them: ``cdln run --model altmin`` keeps RunConfig's 1000 steps and a log every 10 (40,000 steps
#: would take some eight minutes); α does not apply to it
ALTMIN_KEEPS = ("steps", "log_every")


def first_contact(asked: dict) -> dict:
    """``cdln run``'s own defaults for a run asked with ``asked`` (the config file's keys under the flags):
    :data:`FIRST_CONTACT`, less :data:`ALTMIN_KEEPS` for AltMin."""
    if asked.get("model") == "altmin":
        return {k: v for k, v in FIRST_CONTACT.items() if k not in ALTMIN_KEEPS}
    return dict(FIRST_CONTACT)


def add_run_flags(p: argparse.ArgumentParser) -> None:
    """A flag per :class:`sim.RunConfig` field (help, unit, choices from its metadata), then the command's own."""
    from sim import RunConfig

    from .flags import add_dataclass_flags

    keeps = {f.name: f"AltMin: {f.default}" for f in dataclasses.fields(RunConfig) if f.name in ALTMIN_KEEPS}
    add_dataclass_flags(p, RunConfig, suppress_defaults=True, command_defaults=FIRST_CONTACT, command="cdln run",
                        command_notes=keeps)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="JSON file with the same keys as the flags (snake_case, e.g. rank_hat; a relative "
                        "target_file is read from the file's folder); flags override it, and a key it leaves "
                        "out takes cdln run's default (--alpha 5, --steps 40000 and --log-every 100 included)")
    p.add_argument("--out", default=None, help="result folder (default: runs/<config hash>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--checkpoint-minutes", type=float, default=10.0, metavar="M",
                   help="a GD run saves its state beside its result folder every M minutes of wall time, at a "
                        "log, and a rerun of the same config resumes there bitwise (sim.checkpoint); 0: never "
                        "(default 10)")


def _read_config_file(path: str) -> dict:
    """The JSON object in ``path``; ``ValueError`` (exit 2) if it is missing, unreadable or not an object."""
    try:
        with open(path) as fh:
            base = json.load(fh)
    except OSError as exc:
        raise ValueError(f"config file {path!r} cannot be read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"config file {path!r} is not valid JSON: {exc}") from None
    if not isinstance(base, dict):
        raise ValueError(f"config file {path!r} must hold a JSON object, got {type(base).__name__}")
    tf = base.get("target_file")
    if isinstance(tf, str) and tf and not os.path.isabs(tf):  # relative to the config file, as in any config
        base["target_file"] = os.path.join(os.path.dirname(os.path.abspath(path)), tf)
    return base


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sim import DataError, DivergenceError, RunConfig, run

    given = {k: v for k, v in vars(args).items() if k in {f.name for f in dataclasses.fields(RunConfig)}}
    try:
        base = _read_config_file(args.config) if args.config is not None else {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            asked = {**base, **given}
            cfg = RunConfig.from_dict({**first_contact(asked), **asked})
        for w in caught:
            print(f"cdln run: warning: {w.message}", file=sys.stderr)
    except (ValueError, TypeError) as exc:
        parser.exit(2, f"cdln run: error: {exc}\n")
    minutes = args.checkpoint_minutes
    if not minutes >= 0 or minutes == float("inf"):
        parser.exit(2, f"cdln run: error: --checkpoint-minutes must be a finite number of minutes >= 0 (0: never), "
                       f"got {minutes:g}\n")
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
        r = run(cfg, args.out, progress=progress, checkpoint_every_s=minutes * 60.0 if minutes > 0 else None)
    except (DataError, MemoryError, ValueError) as exc:
        parser.exit(2, f"cdln run: error: {exc}\n")
    except DivergenceError as exc:
        # the stable step falls with α (theory.critical_step_size): say where an α nobody gave came from
        why = (f" (α = {cfg.alpha:g} is cdln run's default, not sim.RunConfig's {RunConfig().alpha:g}: give --alpha "
               "or a smaller --eta)" if cfg.model == "compressed" and "alpha" not in asked else "")
        parser.exit(1, f"cdln run: {exc}{why}\n")
    finally:
        if bar is not None:
            bar.close()
    print(closing_line(cfg, r))
    return 0


def closing_line(cfg, r) -> str:
    """The run's one-line summary: steps, final loss and errors (seed means), the target's modes fitted and
    theory's step for the next one (:mod:`cdln.modes`), time, seeds, folder. A run made here gets the mode
    numbers in its summary.json too (``modes``); a cached one is read, never rewritten."""
    from sim.io import atomic_write_text

    from .modes import describe, mode_report

    s = r.summary
    rep = s.get("modes") or mode_report(cfg, r)
    if not r.cached and "modes" not in s:
        s["modes"] = rep
        atomic_write_text(r.path / "summary.json", json.dumps(s, indent=2))
    last = r.metrics[r.metrics.step == r.metrics.step.max()]
    errs = ", ".join(f"{c} {last[c].mean():.4g}" for c in last.columns if c.endswith("error") or c.endswith("rmse"))
    how = "cached" if r.cached else f"{s['train_time_s']:.2f} s training ({s['device']})"
    return (f"{cfg.problem}/{cfg.model}: {s['steps_done']} steps, train loss {last.train_loss.mean():.4g}, "
            f"{errs}; {describe(rep)}; {how}; {len(cfg.seed_list)} seed(s) → {r.path}")

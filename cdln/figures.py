"""`cdln figures [--fast | --paper] [NAME …]`: run the figure scripts of docs/figures/ and build the gallery page.

Each ``docs/figures/NAME.py`` is loaded by path (the folder is documentation, not a package) and
its ``make(ctx)`` is called with the ``FAST`` or ``FULL`` settings; it writes
``docs/figures/NAME.png`` and ``NAME.json`` (settings, runs used, the numbers plotted, and notes
computed from them). ``docs/figures.md`` is then rebuilt from every ``NAME.json`` present, so
the gallery always states the exact command and settings behind each picture.

``--paper`` draws the paper's figures (scripts with a ``PAPER`` statement) at their ``FULL`` settings,
the paper's own, into ``docs/figures/paper/``. Their runs are made first, all at once, by the sweep
engine (:func:`sweep.run_points`: batched, on an embedded Dask ``LocalCluster`` or a given scheduler,
into the same run store): each script is run in *collecting* mode, where a run the store lacks is
recorded instead of made (:class:`cdln.plotting.PendingRun`), until a pass finds nothing missing; then
every figure is drawn from the store. The gallery shows the paper-setting picture where one exists,
with the fast one (what ``make run`` redraws) linked beside it.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
import traceback
from pathlib import Path

from sim.io import atomic_write_text

__all__ = ["discover", "make_figure", "write_gallery", "figures_command"]

FIG_DIR = Path("docs/figures")
PAPER_DIR = FIG_DIR / "paper"
#: collecting passes before giving up (a script that reads its runs one at a time needs one per run)
MAX_PASSES = 64
#: a paper figure's or table's script: figN / tableN, or figNb for a panel of figure N drawn by a script of its own
PAPER_NAME = re.compile(r"(fig|table)(\d+)([a-z]?)")


def _order(name: str):
    """fig2 < fig10 < fig15 < fig15b (a figure's second panel, drawn apart) < table3 < new figures (natural order)."""
    m = PAPER_NAME.fullmatch(name)
    return (0 if m and m.group(1) == "fig" else 1 if m else 2, int(m.group(2)) if m else 0, name)


def discover(fig_dir: Path = FIG_DIR) -> dict[str, Path]:
    """Every figure script (``NAME.py`` not starting with ``_``) in natural order."""
    if not fig_dir.is_dir():
        return {}
    found = {p.stem: p for p in fig_dir.glob("*.py") if not p.stem.startswith("_")}
    return {k: found[k] for k in sorted(found, key=_order)}


def load(path: Path):
    spec = importlib.util.spec_from_file_location(f"cdln_figure_{path.stem.replace('-', '_')}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for attr in ("TITLE", "CAPTION", "FAST", "FULL", "make"):
        if not hasattr(mod, attr):
            raise AttributeError(f"figure script {path} defines no {attr}")
    return mod


def make_figure(name: str, path: Path, *, fast: bool, runs_root: Path, out_dir: Path, quiet=False,
                settings: dict | None = None, command: str | None = None) -> dict:
    """Run one figure script; returns its JSON payload. ``settings`` replaces the script's FAST or
    FULL settings (a smaller check of the same script; the JSON records what was used)."""
    from .plotting import Context

    mod = load(path)
    settings = dict(settings if settings is not None else mod.FAST if fast else mod.FULL)
    ctx = Context(name=name, fast=fast, settings=settings, runs_root=runs_root, out_dir=out_dir, quiet=quiet)
    t0 = time.perf_counter()
    fig, data, notes = mod.make(ctx)
    meta = {"name": name, "title": mod.TITLE, "caption": mod.CAPTION, "paper": getattr(mod, "PAPER", None),
            "command": command or f"cdln figures {'--fast ' if fast else ''}{name}", "fast": fast, "notes": list(notes),
            "wall_s": round(time.perf_counter() - t0, 2),
            "runs_train_s": round(_train_seconds(runs_root, ctx.runs_used) + ctx.cached_training_s(), 2)}
    if ctx.trainings:
        meta["trainings"] = ctx.trainings
    ctx.save(fig, data, meta=meta)
    return meta


def _train_seconds(runs_root: Path, used: list) -> float:
    """Training time summed over the distinct runs a figure used (each run's summary; a batch counts once)."""
    total, seen = 0.0, set()
    for u in used:
        f = Path(runs_root) / u["key"] / "summary.json"
        if u["key"] not in seen and f.is_file():
            seen.add(u["key"])
            total += float(json.loads(f.read_text()).get("train_time_s", 0.0))
    return total


def collect(names: list[str], scripts: dict[str, Path], runs_root: Path) -> tuple[list, dict]:
    """One collecting pass: the runs the store lacks that each script reads first, and the scripts that failed
    for another reason (name -> message)."""
    from .plotting import Context, Pending

    pending, errors = [], {}
    for n in names:
        mod = load(scripts[n])
        if not getattr(mod, "SIM_RUNS", True):
            continue
        ctx = Context(name=n, fast=False, settings=dict(mod.FULL), runs_root=runs_root, out_dir=PAPER_DIR, quiet=True,
                      collect=[])
        try:
            fig, _, _ = mod.make(ctx)
            from .plotting import plt

            plt.close(fig)
        except Pending:
            pass
        except Exception as exc:  # noqa: BLE001 - reported, and the figure is left out
            errors[n] = f"{type(exc).__name__}: {exc}"
        pending += ctx.collect
    return pending, errors


def trainings(names: list[str], scripts: dict[str, Path]) -> list:
    """The nonlinear trainings (sim.nonlinear TrainConfigs) the scripts' ``trainings(FULL)`` declare, in order:
    made on the cluster before the figures are drawn, like their sim runs."""
    out = []
    for n in names:
        mod = load(scripts[n])
        declare = getattr(mod, "trainings", None)
        if declare is not None:
            out += declare(dict(mod.FULL))
    return out


def make_paper_runs(names, scripts, runs_root: Path, *, workers=None, scheduler=None, threads=1, log=print) -> dict:
    """Collect and make every run the paper-setting figures need, pass after pass, through the sweep engine
    on one Dask cluster, ``threads`` torch threads per run, then the nonlinear trainings they declare
    (:func:`trainings`) on the same cluster; returns {name: error} for the scripts that cannot be drawn."""
    import contextlib
    import dataclasses

    from sweep import engine, run_points
    from sweep.trainings import missing_trainings, train_missing

    errors: dict = {}
    with contextlib.ExitStack() as stack:
        client = None
        for k in range(1, MAX_PASSES + 1):
            pending, errs = collect([n for n in names if n not in errors], scripts, runs_root)
            errors.update(errs)
            if not pending:
                todo = missing_trainings(trainings([n for n in names if n not in errors], scripts), runs_root)
                if todo:
                    if client is None:
                        client = stack.enter_context(engine._client(None, scheduler, workers))
                    t0 = time.perf_counter()
                    train_missing(todo, runs_root, client=client, threads=threads, progress=log)
                    log(f"nonlinear: {len(todo)} trainings in {time.perf_counter() - t0:.0f} s")
                return errors
            points = [dataclasses.replace(c, seed=c.seed + i, seeds=1) for c in pending for i in range(c.seeds)]
            if client is None:
                client = stack.enter_context(engine._client(None, scheduler, workers))
            t0 = time.perf_counter()
            df = run_points(points, store=runs_root, client=client, max_batch=max(c.seeds for c in pending),
                            threads=threads)
            bad = df[df.status != "completed"]
            log(f"pass {k}: {len(df)} runs ({len(bad)} not completed) in {time.perf_counter() - t0:.0f} s")
            if len(bad):
                for _, row in bad.iterrows():
                    log(f"  {row.key}: {row.status}: {row.message}")
                raise RuntimeError(f"{len(bad)} paper-setting run(s) did not complete; the figures that need them "
                                   "cannot be drawn (messages above)")
    raise RuntimeError(f"the scripts still declared new runs after {MAX_PASSES} collecting passes")


def _paper_table(fig_dir: Path) -> list[str]:
    """Every figure and table of the paper (each ``figN``/``tableN`` script): drawn at the paper's settings or
    not, in full or in part (the script's ``PAPER_PARTIAL``), the training time of its runs plus its drawing
    (from its JSON), and what its paper settings leave out or replace, and why (the script's ``PAPER_GAP``)."""
    rows, done = [], 0
    for n, path in discover(fig_dir).items():
        if not PAPER_NAME.fullmatch(n):
            continue
        try:
            mod = load(path)
            title, gap, part = mod.TITLE, getattr(mod, "PAPER_GAP", None), getattr(mod, "PAPER_PARTIAL", False)
        except Exception as e:  # one broken script must not hide the others' rows (nor the gallery)
            title, gap, part = n, f"the script does not load: {type(e).__name__}: {e}", False
        pj = fig_dir / "paper" / f"{n}.json"
        if pj.is_file():
            m = json.loads(pj.read_text())
            done += 1
            rows.append(f"| {title} | {'yes, in part' if part else 'yes'} | "
                        f"{(float(m.get('runs_train_s') or 0.0) + float(m['wall_s'])) / 60:,.1f} | {gap or '—'} |")
        else:
            rows.append(f"| {title} | no: fast settings only | | {gap or 'not drawn yet'} |")
    if not rows:
        return []
    return ["## The paper's figures at the paper's settings", "",
            f"{done} of {len(rows)} are drawn at the paper's settings. Time: the training time of the figure's runs "
            "(on this machine's CPU, from their summaries) plus its drawing; a run or a nonlinear training "
            "(sim.nonlinear) that several figures or `cdln table1` share is made once and counted in each, a "
            "training made while the figure was drawn in its drawing time.", "",
            "| figure | at the paper's settings | training + drawing (min) | left out or replaced, and why |",
            "|---|---|---|---|", *rows, ""]


def write_gallery(fig_dir: Path = FIG_DIR, page: Path = Path("docs/figures.md")) -> Path:
    """Rebuild the gallery page from the NAME.json files present (a paper-setting one, under ``paper/``,
    first: its picture is shown, with the fast one linked)."""
    names = [n for n in discover(fig_dir) if (fig_dir / f"{n}.json").is_file() or (fig_dir / "paper" / f"{n}.json").is_file()]
    lines = ["# Figures", "",
             "Every picture here is drawn by a script in `docs/figures/` from cached runs (`runs/<config hash>/`);",
             "`cdln figures --fast` regenerates them all on a 2-core CPU (reduced settings that keep the effect; what",
             "`make run` draws), `cdln figures --paper` draws the paper's figures at the paper's settings, every run made",
             "first by the sweep engine (`docs/figures/paper/`). Where a paper-setting picture exists it is the one shown,",
             "with the fast one linked. Each entry states its command, its settings, its wall time and notes computed",
             "from the plotted numbers (also in `NAME.json` beside the picture).", "",
             "Colours are the same everywhere: **blue** the wide (original) DLN, **red** the compressed DLN",
             "(Algorithm 1), **green** AltMin, **black** gradient flow / theory, **orange** the Theorem 1 recurrence;",
             "for the nonlinear networks, **blue** the DLN penultimate layer, **red** the compressed one, **grey** the",
             "plain one.", ""] + _paper_table(fig_dir)
    for n in names:
        paper = (fig_dir / "paper" / f"{n}.json").is_file()
        sub = "paper/" if paper else ""
        m = json.loads((fig_dir / f"{sub}{n}.json").read_text())
        lines += [f"## {m['title']}", "", f"![{m['title']}](figures/{sub}{n}.png)", "", m["caption"], ""]
        if m.get("paper"):
            lines += [f"*The paper's figure:* {m['paper']}", ""]
        if m.get("notes"):
            lines += ["*Measured here:*", ""] + [f"- {x}" for x in m["notes"]] + [""]
        settings = ", ".join(f"{k} = {v}" for k, v in m["settings"].items())
        what = "the paper's" if paper else "fast" if m["fast"] else "full"
        train = f", training {m['runs_train_s']:.0f} s over its runs" if m.get("runs_train_s") else ""
        lines += [f"*Command:* `{m['command']}` ({what} settings, {m['wall_s']:.0f} s to draw, runs included unless "
                  f"cached{train}). *Settings:* {settings}. *Data:* [`{n}.json`](figures/{sub}{n}.json)", ""]
        if paper and (fig_dir / f"{n}.json").is_file():
            lines += [f"*Fast version* (what `make run` redraws): [{n}.png](figures/{n}.png), "
                      f"[{n}.json](figures/{n}.json)", ""]
    return atomic_write_text(page, "\n".join(lines))


def figures_command(args, parser) -> int:
    scripts = discover(FIG_DIR)
    if not scripts:
        parser.exit(2, f"cdln figures: error: no figure scripts in {FIG_DIR}/ (run it from the repository root)\n")
    if args.list:
        for n, p in scripts.items():
            print(f"{n:16s} {load(p).TITLE}")
        return 0
    unknown = [n for n in args.names if n not in scripts]
    if unknown:
        parser.exit(2, f"cdln figures: error: unknown figure {unknown[0]!r}; valid: {', '.join(scripts)}\n")
    if args.paper and args.fast:
        parser.exit(2, "cdln figures: error: --paper and --fast exclude each other\n")
    if not args.paper and (args.workers is not None or args.scheduler is not None or args.threads is not None):
        parser.exit(2, "cdln figures: error: --workers, --scheduler and --threads apply only with --paper\n")
    for flag in ("workers", "threads"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.exit(2, f"cdln figures: error: --{flag} must be >= 1, got {getattr(args, flag)}\n")
    if args.paper:
        return _paper(args, parser, scripts)
    names = args.names or list(scripts)
    return _draw_all(names, scripts, [], time.perf_counter(), "figure(s)",
                     lambda n: make_figure(n, scripts[n], fast=args.fast, runs_root=Path(args.runs), out_dir=FIG_DIR),
                     lambda n, meta: f"{FIG_DIR}/{n}.png  {meta['title']}")


def _draw_all(names, scripts, failed: list, t0: float, what: str, draw, line) -> int:
    """Draw each figure (one broken figure must not hide the others), rebuild the gallery, report."""
    for n in [n for n in names if n not in failed]:
        t1 = time.perf_counter()
        try:
            meta = draw(n)
            print(f"{n:16s} {time.perf_counter() - t1:6.1f} s  {line(n, meta)}")
        except Exception as exc:
            failed.append(n)
            traceback.print_exc()
            print(f"{n:16s} FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    page = write_gallery(FIG_DIR)
    print(f"{len(names) - len(failed)} {what} in {time.perf_counter() - t0:.0f} s; gallery: {page}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _paper(args, parser, scripts) -> int:
    paper = {n: p for n, p in scripts.items() if load(p).PAPER}
    wrong = [n for n in args.names if n not in paper]
    if wrong:
        parser.exit(2, f"cdln figures: error: {wrong[0]!r} is not one of the paper's figures; valid: {', '.join(paper)}\n")
    names = args.names or list(paper)
    runs_root = Path(args.runs)
    t0 = time.perf_counter()
    errors = make_paper_runs(names, paper, runs_root, workers=args.workers, scheduler=args.scheduler,
                             threads=args.threads or 1)
    for n, msg in errors.items():
        print(f"{n:16s} FAILED while collecting its runs: {msg}", file=sys.stderr)
    return _draw_all(names, paper, list(errors), t0, "paper-setting figure(s)",
                     lambda n: make_figure(n, paper[n], fast=False, runs_root=runs_root, out_dir=PAPER_DIR,
                                           command=f"cdln figures --paper {n}"),
                     lambda n, meta: f"{PAPER_DIR}/{n}.png  (training {meta['runs_train_s']:.0f} s)")

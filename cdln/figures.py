"""`cdln figures [--fast] [NAME …]`: run the figure scripts of docs/figures/ and build the gallery page.

Each ``docs/figures/NAME.py`` is loaded by path (the folder is documentation, not a package) and
its ``make(ctx)`` is called with the ``FAST`` or ``FULL`` settings; it writes
``docs/figures/NAME.png`` and ``NAME.json`` (settings, runs used, the numbers plotted, and notes
computed from them). ``docs/figures.md`` is then rebuilt from every ``NAME.json`` present, so
the gallery always states the exact command and settings behind each picture.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

from sim.io import atomic_write_text

__all__ = ["discover", "make_figure", "write_gallery", "figures_command"]

FIG_DIR = Path("docs/figures")


def _order(name: str):
    """fig2 < fig10 < table3 < new figures (natural order)."""
    import re

    m = re.match(r"(fig|table)(\d+)$", name)
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
                settings: dict | None = None) -> dict:
    """Run one figure script; returns its JSON payload. ``settings`` replaces the script's FAST or
    FULL settings (a smaller check of the same script; the JSON records what was used)."""
    from .plotting import Context

    mod = load(path)
    settings = dict(settings if settings is not None else mod.FAST if fast else mod.FULL)
    ctx = Context(name=name, fast=fast, settings=settings, runs_root=runs_root, out_dir=out_dir, quiet=quiet)
    t0 = time.perf_counter()
    fig, data, notes = mod.make(ctx)
    meta = {"name": name, "title": mod.TITLE, "caption": mod.CAPTION, "paper": getattr(mod, "PAPER", None),
            "command": f"cdln figures {'--fast ' if fast else ''}{name}", "fast": fast, "notes": list(notes),
            "wall_s": round(time.perf_counter() - t0, 2)}
    ctx.save(fig, data, meta=meta)
    return meta


def write_gallery(fig_dir: Path = FIG_DIR, page: Path = Path("docs/figures.md")) -> Path:
    """Rebuild the gallery page from the NAME.json files present."""
    names = [n for n in discover(fig_dir) if (fig_dir / f"{n}.json").is_file()]
    lines = ["# Figures", "",
             "Every picture here is drawn by a script in `docs/figures/` from cached runs (`runs/<config hash>/`);",
             "`cdln figures --fast` regenerates them all on a 2-core CPU (reduced settings that keep the effect),",
             "`cdln figures` uses the paper's settings. Each entry states its command, its settings, and notes",
             "computed from the plotted numbers (also in `NAME.json` beside the picture).", "",
             "Colours are the same everywhere: **blue** the wide (original) DLN, **red** the compressed DLN",
             "(Algorithm 1), **green** AltMin, **black** gradient flow / theory, **orange** the Theorem 1 recurrence;",
             "for the nonlinear networks, **blue** the DLN penultimate layer, **red** the compressed one, **grey** the",
             "plain one.", ""]
    for n in names:
        m = json.loads((fig_dir / f"{n}.json").read_text())
        lines += [f"## {m['title']}", "", f"![{m['title']}](figures/{n}.png)", "", m["caption"], ""]
        if m.get("paper"):
            lines += [f"*The paper's figure:* {m['paper']}", ""]
        if m.get("notes"):
            lines += ["*Measured here:*", ""] + [f"- {x}" for x in m["notes"]] + [""]
        settings = ", ".join(f"{k} = {v}" for k, v in m["settings"].items())
        lines += [f"*Command:* `{m['command']}` ({'fast' if m['fast'] else 'full'} settings, "
                  f"{m['wall_s']:.0f} s to draw, runs included unless cached). *Settings:* {settings}. "
                  f"*Data:* [`{n}.json`](figures/{n}.json)", ""]
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
    names = args.names or list(scripts)
    failed = []
    t0 = time.perf_counter()
    for n in names:
        t1 = time.perf_counter()
        try:
            meta = make_figure(n, scripts[n], fast=args.fast, runs_root=Path(args.runs), out_dir=FIG_DIR)
            print(f"{n:16s} {time.perf_counter() - t1:6.1f} s  {FIG_DIR}/{n}.png  {meta['title']}")
        except Exception as exc:  # one broken figure must not hide the others
            failed.append(n)
            traceback.print_exc()
            print(f"{n:16s} FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    page = write_gallery(FIG_DIR)
    print(f"{len(names) - len(failed)} figure(s) in {time.perf_counter() - t0:.0f} s; gallery: {page}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0

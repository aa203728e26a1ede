"""MkDocs hook: serve MathJax from the site itself, so that formulas render with no network.

MathJax 3.2.2 comes from PyPI (``django-static-mathjax``, a plain copy of MathJax's ``es5`` build
with no Django dependency; in the ``docs`` extra). This hook adds the files the site uses to the
build, under ``javascripts/mathjax/`` — the CommonHTML component ``tex-chtml.js``, its woff fonts,
the TeX extensions it may autoload, and the menu / accessibility parts it loads on demand — so
``mkdocs build`` and ``mkdocs serve`` both ship them and no page asks another host for anything.
``docs/javascripts/mathjax-config.js`` configures MathJax for ``pymdownx.arithmatex``'s generic
output (``\\(…\\)`` and ``\\[…\\]`` inside ``.arithmatex`` elements, nothing else).
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

DEST = "javascripts/mathjax"
# what tex-chtml.js needs, relative to MathJax's es5/ folder: itself, the fonts it asks for, and
# the components it loads lazily (TeX extensions on first use, the context menu, assistive tools)
PARTS = ("tex-chtml.js", "output/chtml", "input/tex/extensions", "ui", "a11y", "sre")


def mathjax_root() -> Path:
    """MathJax's ``es5`` folder inside the installed ``django-static-mathjax``."""
    try:
        root = Path(str(importlib.resources.files("mathjax"))) / "static" / "mathjax" / "es5"
    except ModuleNotFoundError as err:
        raise PluginError("MathJax is not installed: pip install -e '.[docs]' (django-static-mathjax)") from err
    if not (root / "tex-chtml.js").is_file():
        raise PluginError(f"no MathJax build at {root}: reinstall django-static-mathjax (pip install -e '.[docs]')")
    return root


def on_files(files: Files, config, **kwargs) -> Files:
    root = mathjax_root()
    for part in PARTS:
        src = root / part
        paths = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for p in paths:
            rel = p.relative_to(root).as_posix()
            files.append(File.generated(config, f"{DEST}/{rel}", abs_src_path=str(p)))
    return files

"""Griffe extension: the docstrings' reStructuredText mathematics, as the site's Markdown mathematics.

The docstrings carry their formulas the way Sphinx reads them — ``.. math::`` blocks and
``:math:`…``` roles — and mkdocstrings renders docstrings as Markdown, where both would show as raw
source. Before griffe parses a docstring (so before mkdocstrings renders it), this extension
rewrites, in the docstring's text only (the source files are untouched):

* ``.. math::`` blocks → ``$$ … $$`` display blocks, one per blank-line-separated equation, a
  multi-line equation (``\\`` or ``&``) wrapped in ``aligned`` as Sphinx does, at the
  directive's own indentation (so a block inside an ``Args:`` item stays in that item);
* ``:math:`x``` → ``$x$``;
* the cross-reference roles (``:func:`theory.flow_time```, ``:class:``, ``:meth:``, ``:mod:``,
  ``:data:``, ``:attr:``, ``:exc:``, ``:obj:``) → code spans, ``~`` keeping the last name only.

``pymdownx.arithmatex`` (``generic: true``, configured in ``mkdocs.yml``) then turns ``$…$`` and
``$$…$$`` into the spans MathJax typesets, exactly as on the hand-written pages. Loaded by
mkdocstrings-python's ``extensions`` option; the conversion itself is :func:`rst_to_markdown`,
tested in ``tests/test_docs_math.py``.
"""

from __future__ import annotations

import re
from typing import Any

try:  # griffe >= 1 (griffelib); the pure conversion below needs no griffe
    from griffe import Extension
except ImportError:  # pragma: no cover - only without the docs extra
    Extension = object  # type: ignore[assignment,misc]

_DIRECTIVE = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<rest>.*)$")
_OPTION = re.compile(r"^:(label|nowrap|name|class):")
_MATH_ROLE = re.compile(r":math:`(?P<tex>[^`]+)`")
_XREF_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj):`(?P<target>[^`]+)`")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _equations(body: list[str]) -> list[str]:
    """The blank-line-separated equations of a ``.. math::`` body, each wrapped as Sphinx wraps it."""
    parts, cur = [], []
    for line in body + [""]:
        if line.strip():
            cur.append(line.strip())
        elif cur:
            parts.append(cur)
            cur = []
    out = []
    for lines in parts:
        tex = "\n".join(lines)
        if ("\\\\" in tex or "&" in tex) and "\\begin{" not in tex:
            tex = "\\begin{aligned}\n" + tex + "\n\\end{aligned}"
        out.append(tex)
    return out


def _blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _DIRECTIVE.match(lines[i])
        if not m:
            out.append(lines[i])
            i += 1
            continue
        indent = m.group("indent")
        body = [m.group("rest")] if m.group("rest").strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > len(indent)):
            body.append(lines[i])
            i += 1
        body = [ln for ln in body if not _OPTION.match(ln.strip())]
        if out and out[-1].strip():
            out.append("")
        for tex in _equations(body):
            out.append(indent + "$$")
            out.extend(indent + ln for ln in tex.split("\n"))
            out.append(indent + "$$")
            out.append("")
        if i < len(lines) and not lines[i].strip():
            i += 1  # the directive's own closing blank line: one is written above
    return "\n".join(out).rstrip("\n") + ("\n" if text.endswith("\n") else "")


def _xref(m: re.Match) -> str:
    target = m.group("target").strip()
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def rst_to_markdown(text: str) -> str:
    """Rewrite a docstring's reST math (blocks and roles) and cross-reference roles as Markdown.

    >>> rst_to_markdown("Value :math:`\\\\epsilon^L`, see :func:`~theory.flow_time`.")
    'Value $\\\\epsilon^L$, see `flow_time`.'
    """
    text = _blocks(text)
    text = _MATH_ROLE.sub(lambda m: "$" + m.group("tex").strip() + "$", text)
    return _XREF_ROLE.sub(_xref, text)


class RstMath(Extension):  # type: ignore[misc,valid-type]
    """Rewrite every docstring with :func:`rst_to_markdown` as griffe creates its object."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        doc = getattr(obj, "docstring", None)
        if doc is not None and doc.value:
            doc.value = rst_to_markdown(doc.value)

"""Mathematics on the site without a browser: the docstrings' reST math becomes the site's Markdown math
(docs/hooks/rst_math.py), the built site carries MathJax itself and asks no other host for anything,
and the API reference holds no raw ``.. math::`` / ``:math:``. What the reader then sees (typeset
formulas, no raw TeX) is checked in Chromium by tests/test_docs_site.py.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"cdln_docs_{name}", ROOT / "docs" / "hooks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


rst = _load("rst_math")


def test_math_role_becomes_inline_dollars():
    assert rst.rst_to_markdown(r"from :math:`\epsilon^L` to :math:` (1-\delta)\sigma_i^* `.") == (
        r"from $\epsilon^L$ to $(1-\delta)\sigma_i^*$.")


def test_math_block_becomes_a_display_block_at_its_indentation():
    doc = ("Closed form,\n\n"
           "    .. math:: t_i = \\frac{1}{\\sigma}\\Big[\\frac{a}{b}\n"
           "              + c\\Big],\\qquad\n"
           "              \\lambda_1 = x.\n\n"
           "    then text.")
    assert rst.rst_to_markdown(doc) == (
        "Closed form,\n\n"
        "    $$\n"
        "    t_i = \\frac{1}{\\sigma}\\Big[\\frac{a}{b}\n"
        "    + c\\Big],\\qquad\n"
        "    \\lambda_1 = x.\n"
        "    $$\n\n"
        "    then text.")


def test_math_block_with_body_on_following_lines_inside_an_args_item():
    doc = ("Args:\n"
           "    x: the value\n"
           "        .. math::\n\n"
           "            x = y^2\n"
           "    y: other")
    out = rst.rst_to_markdown(doc)
    assert "        $$\n        x = y^2\n        $$\n" in out
    assert out.endswith("\n    y: other") and ".. math::" not in out


def test_multiline_equation_is_wrapped_in_aligned_and_blank_lines_split_equations():
    doc = ".. math::\n\n   e &= a^2 - \\sigma, \\\\\n   a' &= a - e\n\n   b = 1\n"
    out = rst.rst_to_markdown(doc)
    assert out == ("$$\n\\begin{aligned}\ne &= a^2 - \\sigma, \\\\\na' &= a - e\n\\end{aligned}\n$$\n\n"
                   "$$\nb = 1\n$$\n")


def test_label_and_nowrap_options_are_dropped():
    out = rst.rst_to_markdown(".. math::\n   :label: eq13\n\n   x = 1\n")
    assert ":label:" not in out and "$$\nx = 1\n$$" in out


def test_cross_reference_roles_become_code_spans():
    out = rst.rst_to_markdown("see :func:`theory.flow_time`, :class:`~sim.RunConfig` and :py:meth:`a.b`.")
    assert out == "see `theory.flow_time`, `RunConfig` and `a.b`."


def test_text_without_rst_is_unchanged():
    text = "Plain *markdown* with `code`, $x$ already, and\n\n    an indented block.\n"
    assert rst.rst_to_markdown(text) == text


def test_every_docstring_math_block_and_role_is_rewritten():
    """No ``.. math::`` or ``:math:`` survives in any docstring of the packages the API reference shows."""
    import ast

    left, blocks, roles = [], 0, 0
    for pkg in ("theory", "sim", "sweep", "cdln"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node, clean=True)
                    if doc and ("math::" in doc or ":math:" in doc):
                        blocks += doc.count(".. math::")
                        roles += doc.count(":math:`")
                        out = rst.rst_to_markdown(doc)
                        if ".. math::" in out or ":math:" in out or out.count("$$") % 2:
                            left.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert blocks >= 20 and roles >= 100, f"only {blocks} math blocks and {roles} roles found in the docstrings"
    assert not left, f"docstrings whose reST math is not fully rewritten: {left}"


def test_site_serves_mathjax_itself(site):
    mj = site / "javascripts" / "mathjax"
    assert (mj / "tex-chtml.js").stat().st_size > 500_000
    fonts = list((mj / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))
    assert len(fonts) >= 20, f"{len(fonts)} MathJax fonts in the site"
    assert (mj / "input" / "tex" / "extensions" / "ams.js").is_file()  # an autoloaded extension, served too
    home = (site / "index.html").read_text()
    assert 'src="javascripts/mathjax/tex-chtml.js"' in home and "javascripts/mathjax-config.js" in home


_EXTERNAL = re.compile(r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)""",
                       re.I)


def test_no_page_loads_anything_from_another_host(site):
    """What a page loads (scripts, stylesheets, images, fonts via <link>) all comes from the site itself.
    Links a reader may follow (<a href>) are allowed; the browser test checks the requests themselves."""
    pages = sorted(p for p in site.rglob("*.html") if "javascripts" not in p.parts)
    assert len(pages) >= 15
    found = {str(p.relative_to(site)): _EXTERNAL.findall(p.read_text()) for p in pages}
    found = {k: v for k, v in found.items() if v}
    assert not found, f"pages that load from another host: {found}"
    css = [p for p in site.rglob("*.css") if re.search(r"url\(\s*['\"]?(?:https?:)?//", p.read_text())]
    assert not css, f"stylesheets that fetch from another host: {css}"


@pytest.mark.parametrize("page,min_math", [("api/theory", 200), ("api/sim", 50), ("theory", 40), ("eos", 10)])
def test_pages_carry_math_for_mathjax_and_no_raw_rst(site, page, min_math):
    html = (site / page / "index.html").read_text()
    n = html.count('class="arithmatex"')
    assert n >= min_math, f"{page}: {n} formulas marked for MathJax, expected >= {min_math}"
    assert ".. math::" not in html and ":math:`" not in html, f"{page}: raw reST math left"
    assert not re.search(r"<pre[^>]*>(?:<span></span>)?<code[^>]*>\s*(?:\$\$|\\\[)", html), f"{page}: a formula inside a code block"

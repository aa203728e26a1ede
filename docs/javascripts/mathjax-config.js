// MathJax 3 for pymdownx.arithmatex (generic: true): typeset only what arithmatex marked, i.e.
// \( … \) and \[ … \] inside elements of class "arithmatex" (pages' $…$ / $$…$$, the reports'
// formulas, and the API reference's docstring math, which docs/hooks/rst_math.py rewrites).
// MathJax itself is served from javascripts/mathjax/ (docs/hooks/mathjax.py): no network.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"]],
    displayMath: [["\\[", "\\]"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex",
  },
};

// material's instant navigation swaps page content without a reload: typeset the new content. The
// first emission is the page's own load, which MathJax typesets by itself; clearing its cache then
// would drop the glyphs' CSS of the formulas already typeset (they would show blank).
if (typeof document$ !== "undefined") {
  let loaded = false;
  document$.subscribe(() => {
    if (!loaded) { loaded = true; return; }
    if (window.MathJax && MathJax.typesetPromise) {
      MathJax.startup.output.clearCache();
      MathJax.typesetClear();
      MathJax.texReset();
      MathJax.typesetPromise();
    }
  });
}

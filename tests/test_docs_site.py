"""The documentation site: `mkdocs build --strict` passes, and in headless Chromium, as a reader sees it
at 1280 px: the home page and the figures page load every image; every page loads with the network
cut (no request leaves 127.0.0.1, nothing fails, the console is clean); the formulas of the pages,
the reports and the API reference are typeset (no raw TeX in the visible text); the verdict tables
need no horizontal scroll; the site search finds a claim id.

Chromium and ChromeDriver are Debian's (`chromium`, `chromium-driver`), installed by `make setup`.
Outside CI a machine without them skips the browser part; in CI (CI set) their absence fails.
`CDLN_SCREENSHOTS=DIR` also saves 1280-px screenshots of the home page, the report and the theory
page there (home.png, verification.png, theory.png).
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
WIDTH, HEIGHT = 1280, 900  # the reader's window (CSS px)


def test_site_builds_strict_with_every_page_and_figure(site):
    for page in ("index.html", "theory/index.html", "figures/index.html", "verification/index.html",
                 "benchmarks/index.html", "api/theory/index.html", "api/sim/index.html"):
        assert (site / page).is_file(), page
    figs = sorted(p.stem for p in (ROOT / "docs" / "figures").glob("*.json"))
    assert figs, "no figures: run `cdln figures --fast`"
    html = (site / "figures" / "index.html").read_text()
    missing = [n for n in figs if f"{n}.png" not in html or not (site / "figures" / f"{n}.png").is_file()]
    assert not missing, f"figures missing from the gallery: {missing}"
    # the API reference really carries the docstrings' formulas
    assert "critical_step_size" in (site / "api" / "theory" / "index.html").read_text()


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and DRIVER):
        if os.environ.get("CI"):
            pytest.fail("chromium / chromedriver missing in CI: `make setup` installs Debian's chromium and chromium-driver")
        pytest.skip("Debian's chromium and chromium-driver are not installed (make setup installs them as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="cdln-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}",
                 # the network is cut: every host name but the local server's fails to resolve
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"):
        opts.add_argument(flag)
    # performance: the DevTools network events, to see every request a page makes and any that failed
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_page_load_timeout(60)
    drv.set_script_timeout(120)
    drv.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                        {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


_IMAGES = """return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);"""


@pytest.mark.parametrize("page,min_images", [("", 1), ("figures/", None)])
def test_page_loads_every_image_with_a_clean_console(server, browser, page, min_images):
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + page)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    WebDriverWait(browser, 30).until(lambda d: all(c for _, c, _ in d.execute_script(_IMAGES)))
    imgs = browser.execute_script(_IMAGES)
    if min_images is None:  # the gallery shows every figure that has a NAME.json
        min_images = len(list((ROOT / "docs" / "figures").glob("*.json")))
    assert len(imgs) >= min_images, f"{page or 'home'}: {len(imgs)} images, expected >= {min_images}"
    broken = [src for src, done, width in imgs if not (done and width > 0)]
    assert not broken, f"{page or 'home'}: images that did not load: {broken}"
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"{page or 'home'}: console errors:\n{json.dumps(errors, indent=1)}"
    assert "cdln" in browser.title


# -- what a reader sees ----------------------------------------------------------------------------

_MATH_DONE = """const done = arguments[arguments.length - 1];
if (!document.querySelector('.arithmatex')) { done('no math'); return; }
const wait = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
  ? MathJax.startup.promise.then(() => done('typeset'), e => done('MathJax failed: ' + e))
  : setTimeout(wait, 50);
wait();"""

# the text a reader sees, code blocks and inline code left out (display: none drops them from innerText)
_VISIBLE_TEXT = """const s = document.createElement('style');
s.textContent = 'pre, code, .md-search, .md-nav, .md-header, .md-footer { display: none !important; }';
document.head.appendChild(s);
const t = (document.querySelector('article') || document.body).innerText;
s.remove();
return t;"""

_MATH_STATE = """return {
  marked: document.querySelectorAll('.arithmatex').length,
  typeset: document.querySelectorAll('.arithmatex mjx-container').length,
  errors: Array.from(document.querySelectorAll('mjx-merror')).map(e => e.getAttribute('data-mjx-error') || e.textContent),
  // CHTML draws each glyph as its mjx-c element's ::before content: none means the formula shows blank
  blank: Array.from(document.querySelectorAll('mjx-container mjx-c')).slice(0, 2000)
    .filter(c => ['none', 'normal', ''].includes(getComputedStyle(c, '::before').content)).length,
  glyphs: Math.min(document.querySelectorAll('mjx-container mjx-c').length, 2000),
  zeroWidth: Array.from(document.querySelectorAll('mjx-container')).filter(m => m.getBoundingClientRect().width === 0).length,
};"""

# raw TeX / reST a reader should never see outside code: a control word (\\frac, \\sigma, …), a braced
# super- or subscript, a TeX delimiter, and the docstrings' reST math markup
_RAW = re.compile(r"\\[A-Za-z]{2,}|\^\{|_\{|\$\$|\\\(|\\\[|\.\. math::|:math:`")


def _open(browser, url):
    """Load a page, wait for MathJax to finish, and return (requests, failed requests, console errors)."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get_log("performance"), browser.get_log("browser")  # drop what earlier pages left
    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")
    state = browser.execute_async_script(_MATH_DONE)
    assert not state.startswith("MathJax failed"), f"{url}: {state}"
    requests, failed, urls = [], [], {}
    for entry in browser.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
            requests.append(params["request"]["url"])
        elif msg["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{urls.get(params['requestId'], params['requestId'])}: {params.get('errorText')}")
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    return requests, failed, errors


def _pages(site):
    """Every page of the site, as a path relative to its root ('' for the home page)."""
    pages = sorted(str(p.parent.relative_to(site)) for p in site.rglob("index.html")
                   if "javascripts" not in p.parts and "assets" not in p.parts)
    return ["" if p == "." else p + "/" for p in pages]


def _local(url, server):
    return url.startswith(server) or url.startswith(("data:", "blob:", "about:"))


def test_every_page_loads_with_the_network_cut(site, server, browser):
    pages = _pages(site)
    assert len(pages) >= 15 and "api/sim/" in pages and "verification/" in pages, pages
    bad = {}
    for page in pages:
        requests, failed, errors = _open(browser, server + page)
        assert any(u.startswith(server) for u in requests), f"{page}: no request seen (is performance logging on?)"
        problems = ([f"left 127.0.0.1: {u}" for u in requests if not _local(u, server)]
                    + [f"failed: {f}" for f in failed] + [f"console: {e['message']}" for e in errors])
        if problems:
            bad[page or "home"] = problems
    assert not bad, "pages that need the network or fail:\n" + json.dumps(bad, indent=1)


_WIDE_DISPLAYS = """return Array.from(document.querySelectorAll('article div.arithmatex'))
  .filter(d => d.scrollWidth > d.clientWidth + 1)
  .map(d => [d.scrollWidth, d.clientWidth, (d.querySelector('mjx-assistive-mml') || d).textContent.slice(0, 60)]);"""


# (page, at least this many formulas, whether each display formula must fit the text column at 1280 px)
@pytest.mark.parametrize("page,min_formulas,fit", [
    ("theory/", 40, True), ("eos/", 10, True), ("verification/", 1, False), ("api/theory/", 200, False),
    ("api/sim/", 50, False), ("api/sweep/", 0, False), ("api/cdln/", 0, False)])
def test_formulas_are_typeset_and_no_raw_tex_shows(server, browser, page, min_formulas, fit):
    _open(browser, server + page)
    state = browser.execute_script(_MATH_STATE)
    assert state["typeset"] >= min_formulas, f"{page}: {state['typeset']} typeset formulas, expected >= {min_formulas}"
    assert state["typeset"] == state["marked"], f"{page}: {state['marked'] - state['typeset']} formulas left untypeset"
    assert not state["errors"], f"{page}: TeX errors: {state['errors'][:10]}"
    assert not state["typeset"] or (state["glyphs"] and not state["blank"]), (
        f"{page}: {state['blank']} of {state['glyphs']} glyphs drawn blank")
    assert not state["zeroWidth"], f"{page}: {state['zeroWidth']} formulas of zero width"
    text = browser.execute_script(_VISIBLE_TEXT)
    raw = sorted({text[max(0, m.start() - 30):m.end() + 30].replace("\n", " ") for m in _RAW.finditer(text)})
    assert not raw, f"{page}: raw TeX visible outside code ({len(raw)}):\n" + "\n".join(raw[:20])
    wide = browser.execute_script(_WIDE_DISPLAYS) if fit else []
    assert not wide, f"{page}: display formulas wider than the text column at {WIDTH} px (scroll, text): {wide}"
    if page == "theory/" and os.environ.get("CDLN_SCREENSHOTS"):
        _screenshot(browser, "theory")


# the first table's scroll container (material wraps each table in a horizontally scrolling div)
_TABLE_FIT = """const t = document.querySelector('article table');
if (!t) return null;
let box = t.parentElement;
while (box && box.tagName !== 'ARTICLE' && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
box = box || t.parentElement;
return {container: box.className || box.tagName, scrollWidth: box.scrollWidth, clientWidth: box.clientWidth,
        tableScroll: t.scrollWidth, tableClient: t.clientWidth, rows: t.querySelectorAll('tbody tr').length,
        bottom: Math.round(t.getBoundingClientRect().bottom + window.scrollY),
        table: Math.round(t.getBoundingClientRect().width), window: window.innerWidth,
        header: Array.from(t.querySelectorAll('th')).map(th => th.innerText.trim())};"""


@pytest.mark.parametrize("page,name", [("", "home"), ("verification/", "verification"),
                                       ("verification-deep/", "verification-deep")])
def test_verdict_table_needs_no_horizontal_scroll_at_1280px(server, browser, page, name):
    _open(browser, server + page)
    fit = browser.execute_script(_TABLE_FIT)
    assert fit is not None, f"{name}: no table"
    assert fit["window"] == WIDTH, fit
    if os.environ.get("CDLN_SCREENSHOTS"):
        _screenshot(browser, name)
    assert fit["scrollWidth"] <= fit["clientWidth"], (
        f"{name}: the first table scrolls sideways at {WIDTH} px: {fit['scrollWidth']} px of content in a "
        f"{fit['clientWidth']} px {fit['container']} (columns {fit['header']})")
    # the table itself may scroll too (material gives it overflow:auto; MathJax's hidden assistive MathML once
    # widened it past its box while the container above still fit)
    assert fit["tableScroll"] <= fit["tableClient"], (
        f"{name}: the first table scrolls inside itself at {WIDTH} px: {fit['tableScroll']} px of content in "
        f"{fit['tableClient']} px")
    if name == "home":  # the home page answers "which claims hold?" in one screen: the whole table above the fold
        assert fit["rows"] >= 15 and fit["bottom"] <= HEIGHT, (
            f"home: the verdict table ({fit['rows']} rows) ends at {fit['bottom']} px, below the {HEIGHT} px window")


def test_search_finds_a_claim_id(server, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, server)
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")  # in the header at 1280 px
    box.click()
    box.send_keys("theorem2-flow")
    hits = """return Array.from(document.querySelectorAll('.md-search-result__item a'))
      .map(a => [a.getAttribute('href'), a.innerText.slice(0, 200)]);"""
    WebDriverWait(browser, 30).until(lambda d: d.execute_script(hits))
    found = browser.execute_script(hits)
    assert any("verification" in href and "theorem2-flow" in text for href, text in found), (
        f"searching 'theorem2-flow' found no verification section that names it: {found[:8]}")


def _screenshot(browser, name):
    out = Path(os.environ["CDLN_SCREENSHOTS"])
    out.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": WIDTH, "height": height, "deviceScaleFactor": 1, "mobile": False})
    try:
        browser.save_screenshot(str(out / f"{name}.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})

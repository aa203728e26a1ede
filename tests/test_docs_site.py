"""The documentation site: `mkdocs build --strict` passes, and in headless Chromium the home page and
the figures page load every image with nothing failing in the console.

Chromium and ChromeDriver are Debian's (`chromium`, `chromium-driver`), installed by `make setup`.
Outside CI a machine without them skips the browser part; in CI (CI set) their absence fails.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)], cwd=ROOT,
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"mkdocs build --strict failed:\n{res.stderr[-3000:]}"
    return out


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
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_page_load_timeout(60)
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

"""The built site in a real browser: every page loads, renders and links where it should."""

from __future__ import annotations

import pathlib
import re
import sys
import time

import pytest
import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tools"))
from course import ROOT, colab_url, load_config, repository  # noqa: E402

from conftest import REPORT  # noqa: E402

CONFIG = load_config()
SITE_DIR = ROOT / "_build" / "html"


def _pages() -> list[str]:
    if not SITE_DIR.is_dir():
        return []
    return sorted(p.relative_to(SITE_DIR).as_posix() for p in SITE_DIR.rglob("*.html") if "_static" not in p.parts)


PAGES = _pages()
CHAPTERS = [p for p in PAGES if re.fullmatch(r"(student/)?lessons/\d\d_\w+\.html", p)]


def _open(browser, base_url: str, path: str, color_scheme: str = "light"):
    """Load a page; return it with the problems seen while loading and its load time."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=color_scheme)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on("request", lambda r: problems.append(f"outside request: {r.url}")
            if not r.url.startswith((base_url, "data:", "blob:")) else None)
    start = time.perf_counter()
    response = page.goto(f"{base_url}/{path}", wait_until="load")
    source = SITE_DIR / path.split("?")[0]
    if source.is_file() and 'http-equiv="refresh"' in source.read_text(encoding="utf-8").lower():  # index.html redirects
        page.wait_for_url(lambda url: not url.endswith(f"/{path}"), wait_until="load")
        page.wait_for_load_state("load")
    if page.locator("span.math, div.math").count():  # MathJax loads only where there is math
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=20000)
        page.evaluate("() => MathJax.startup.promise")
    seconds = time.perf_counter() - start
    return page, response, problems, seconds


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_and_renders(browser, base_url, path):
    page, response, problems, seconds = _open(browser, base_url, path)
    REPORT[path] = seconds
    try:
        assert response is not None and response.status == 200, f"{path}: HTTP {response and response.status}"
        # every image, lazy or not, decoded
        broken = page.evaluate("""async () => {
            const imgs = Array.from(document.images);
            imgs.forEach(img => img.loading = "eager");
            const bad = [];
            for (const img of imgs) {
                try { await img.decode(); } catch (e) { bad.push(img.getAttribute("src")); continue; }
                if (!img.naturalWidth) bad.push(img.getAttribute("src"));
            }
            return bad;
        }""")
        assert not broken, f"{path}: images that did not load: {broken}"
        unrendered = page.evaluate(r"""() => Array.from(document.querySelectorAll("span.math, div.math"))
            .filter(el => {
                if (!el.querySelector("mjx-container") || el.querySelector("mjx-merror")) return true;
                const rest = el.cloneNode(true);  // what is left once the typeset math is removed
                rest.querySelectorAll("mjx-container").forEach(m => m.remove());
                return /\\[()[\]]/.test(rest.textContent);  // raw TeX delimiters left over
            })
            .map(el => el.textContent.slice(0, 60))""")
        assert not unrendered, f"{path}: math not rendered by MathJax: {unrendered[:3]}"
        assert not problems, f"{path}: " + "; ".join(problems[:5])
    finally:
        page.close()


@pytest.mark.parametrize("path", CHAPTERS)
def test_chapter_page_structure(browser, base_url, path):
    page, _, _, _ = _open(browser, base_url, path)
    try:
        assert page.locator("div.cell").count() > 5, "code cells missing"
        assert page.locator("div.cell_output").count() > 5, "outputs missing"
        notebook = "lessons/" + pathlib.PurePosixPath(path).stem + ".ipynb"
        expected = colab_url(CONFIG, notebook)
        launch = page.locator('a[href^="https://colab.research.google.com/"]').evaluate_all("els => els.map(e => e.href)")
        assert launch and set(launch) == {expected}, f"Colab links {set(launch)} != {expected}"
        box = page.locator("div.admonition", has_text="What you will build").first
        assert box.count() == 1 and re.search(r"Runtime: \d+ s on a \d+-core CPU", box.inner_text())
        headings = page.locator("h2").all_inner_texts()
        assert any("Summary" in h for h in headings) and any("Exercises" in h for h in headings)
        solutions = page.locator(".solution").count()
        exercises = page.locator(".exercise").count()
        assert exercises >= 3
        if path.startswith("student/"):
            assert solutions == 0, "the student edition must hide the solutions"
            assert "Student edition" in page.locator(".bd-header-announcement").inner_text()
        else:
            assert solutions == exercises, "every exercise has its solution in the full edition"
    finally:
        page.close()


def test_search_finds_attention(browser, base_url):
    page, _, problems, _ = _open(browser, base_url, "search.html?q=attention")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=15000)
        hits = page.locator("#search-results ul.search li a").all_inner_texts()
        assert hits, "no search results for 'attention'"
        assert not problems, problems
    finally:
        page.close()


def test_dark_mode_toggle(browser, base_url):
    page, _, problems, _ = _open(browser, base_url, "lessons/01_dnn.html")
    try:
        assert page.evaluate("document.documentElement.dataset.theme") == "light"
        for _ in range(3):
            if page.evaluate("document.documentElement.dataset.theme") == "dark":
                break
            page.locator(".theme-switch-button").first.click()
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        channels = [int(v) for v in re.findall(r"\d+", background)[:3]]
        assert sum(channels) / 3 < 80, f"dark mode background is {background}"
        assert not problems, problems
    finally:
        page.close()


def test_screenshots(browser, base_url):
    out = ROOT / "_build" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    for path, scheme in (("book/intro.html", "light"), ("lessons/02_cnn.html", "light"), ("lessons/04_lstm.html", "dark")):
        page, _, _, _ = _open(browser, base_url, path, color_scheme=scheme)
        target = out / (path.replace("/", "_").replace(".html", f"_{scheme}.png"))
        page.screenshot(path=str(target), full_page=False)
        page.close()
        assert target.stat().st_size > 10_000


def test_every_external_link_is_listed():
    url, _, branch = repository(CONFIG)
    colab = colab_url(CONFIG, "lessons/").rsplit("lessons/", 1)[0] + "lessons/"
    entries = yaml.safe_load((ROOT / "book" / "external_links.yml").read_text())
    allowed = [e["url"].format(repository=url, colab=colab) for e in entries]
    unlisted = set()
    for html in SITE_DIR.rglob("*.html"):
        for link in re.findall(r'<a [^>]*href="(https?://[^"]+)"', html.read_text(encoding="utf-8")):
            if not any(link == a or link.startswith(a if a.endswith("/") else a + "/") or link.startswith(a + "?") for a in allowed):
                unlisted.add(link)
    assert not unlisted, f"external links not listed in book/external_links.yml: {sorted(unlisted)[:5]}"
    assert branch

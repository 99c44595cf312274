"""Fixtures of the browser tests: the built site served on localhost, one headless Chromium.

Run with ``make site-test`` (or ``pytest tests/site --site _build/html``); without ``--site``
every test here is skipped, so the unit-test run does not need a browser.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import threading

import pytest

REPORT: dict[str, float] = {}  # page → load time in seconds, filled by the tests


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--site"):
        return
    skip = pytest.mark.skip(reason="browser tests need --site _build/html (make site-test)")
    for item in items:
        if "tests/site" in item.nodeid.replace("\\", "/"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def site_root(pytestconfig: pytest.Config) -> pathlib.Path:
    root = pathlib.Path(pytestconfig.getoption("--site")).resolve()
    if not (root / "index.html").is_file():
        raise FileNotFoundError(f"no built site at {root}: run make book first")
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep the test output readable
        pass


@pytest.fixture(scope="session")
def base_url(site_root: pathlib.Path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(site_root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not config.getoption("--site") or not REPORT:
        return
    root = pathlib.Path(config.getoption("--site"))
    size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
    slowest = max(REPORT, key=REPORT.get)
    summary = {"pages": len(REPORT), "site_bytes": size, "slowest_page": slowest, "slowest_seconds": round(REPORT[slowest], 3)}
    terminalreporter.write_line(
        f"site: {summary['pages']} pages, {size / 2**20:.1f} MiB; slowest page {slowest} "
        f"({REPORT[slowest]:.2f} s to load and typeset)"
    )
    report = root.parent / "site-report.json"
    report.write_text(json.dumps(summary | {"load_seconds": dict(sorted(REPORT.items()))}, indent=2))

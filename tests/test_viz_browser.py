"""`abm viz` serves a page that renders offline: headless chromium (tests/test_report_browser.py
for the set-up) opens it with every request off this machine refused, steps the model and sees
the step count move. Skipped without the extra abm[viz]."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from test_report_browser import browser  # noqa: F401  (the module's chromium fixture)

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
ABM = [sys.executable, "-c", "import sys; from abm.cli import main; sys.exit(main())"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served():
    """`abm viz experiments/floor_levels.toml --scenario cfd` on a free local port."""
    pytest.importorskip("solara")
    pytest.importorskip("mesa.visualization")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([*ABM, "viz", "experiments/floor_levels.toml", "--scenario", "cfd",
                               "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 180            # solara's start imports a lot
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    out = server.stdout.read().decode() if server.poll() is not None else ""
                    pytest.fail(f"abm viz did not serve {url}: {out[-2000:]}")
                time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)       # the server and solara's process under it
        server.wait(timeout=30)


def test_the_app_renders_and_steps_with_no_request_leaving_the_machine(browser, served):  # noqa: F811
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    outside: list[str] = []
    failed: list[str] = []

    def local_only(route) -> None:
        if route.request.url.startswith(served.rstrip("/")) or route.request.url.startswith(
                served.replace("http", "ws").rstrip("/")):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", local_only)
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.status} {r.url}"))
    try:
        page.goto(served)
        step = page.get_by_role("button", name="Step")
        step.wait_for(timeout=120_000)
        page.get_by_text("step 0 of 240").wait_for(timeout=30_000)
        step.click()
        page.get_by_text("step 1 of 240").wait_for(timeout=30_000)
        assert page.locator("img").count() >= 3          # the three plots, drawn on the server
    finally:
        page.close()
    assert outside == []
    assert failed == []

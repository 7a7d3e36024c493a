"""Run the real studio (`streamlit run app.py`) on 127.0.0.1 for browser tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bigmodel.config import Home
from tests.processes import wait_for as wait_for  # used by the browser tests

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
"""Selector that matches once the app's script run has finished."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as response,
        ):
            if response.read() == b"ok":
                return
        time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer at {url} in {timeout} s")


def _stop_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)


def _processes_of(home: Home) -> list[int]:
    """Return the ids of processes whose environment names `home` as their data folder."""
    expected = f"BIGMODEL_HOME={home.root}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if expected in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
    return found


def _stop_services(home: Home) -> None:
    """Stop the worker and inference processes that the studio started for `home`.

    Looking them up by environment also finds a service still importing TensorFlow,
    which has not taken its lock yet and so has no recorded pid.
    """
    for pid in _processes_of(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _processes_of(home) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in _processes_of(home):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_studio(home: Home, timeout: float = 60.0) -> Iterator[str]:
    """Serve the studio for `home` until the block ends; yield its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(home.logs / "streamlit-test.log", "ab")  # noqa: SIM115  (closed in finally)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env={**os.environ, "BIGMODEL_HOME": str(home.root), "TF_CPP_MIN_LOG_LEVEL": "2"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_healthy(url, process, timeout)
        yield url
    finally:
        _stop_group(process.pid)
        process.wait(timeout=30)
        _stop_services(home)
        log.close()


def require_browser() -> None:
    """Skip the test when Chromium is missing, or fail it where browser tests must run."""
    if Path(CHROMIUM).exists():
        return
    import pytest

    if os.environ.get("BIGMODEL_REQUIRE_BROWSER"):
        pytest.fail(f"{CHROMIUM} is missing, and browser tests must run here")
    pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium package")


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Launch Debian's headless Chromium through Playwright for the block."""
    require_browser()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def idle(page: Page, timeout: float = 60_000) -> None:
    """Wait until the app's current script run has finished."""
    page.wait_for_selector(IDLE, timeout=timeout)


def shot(page: Page, name: str) -> None:
    """Save a screenshot when BIGMODEL_SCREENSHOTS names a folder."""
    folder = os.environ.get("BIGMODEL_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def chart_points(page: Page) -> int:
    """Count the data points drawn in the page's plotly traces."""
    return page.locator('[data-testid="stPlotlyChart"] .scatterlayer .point').count()

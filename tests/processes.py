"""Start the studio's background processes for a test and stop them afterwards."""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bigmodel import services
from bigmodel.config import Home

ROOT = Path(__file__).resolve().parent.parent


def environment(home: Home) -> dict[str, str]:
    return {
        **os.environ,
        "BIGMODEL_HOME": str(home.root),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
    }


@contextlib.contextmanager
def background(home: Home, service: str, timeout: float = 120.0) -> Iterator[subprocess.Popen]:
    """Run `python -m bigmodel <service>` until the block ends; wait until it holds its lock."""
    log = open(home.logs / f"{service}-test.log", "ab")  # noqa: SIM115  (closed in finally)
    process = subprocess.Popen(
        [sys.executable, "-m", "bigmodel", service],
        env=environment(home),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not services.is_running(home, service):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{service} did not start: see {log.name}")
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.5) -> Any:
    """Poll `predicate` until it returns a true value, and return that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")

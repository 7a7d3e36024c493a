"""Starting the background processes the studio needs: the training worker and the
inference service.

Each process holds an exclusive lock on a file in the data folder while it lives, so
one look at the lock shows whether it runs, and a second copy started by accident
exits at once. The processes are started in their own session, so they outlive the
page or command that started them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bigmodel.config import Home

logger = logging.getLogger(__name__)

WORKER = "worker"
INFERENCE = "inference"
INFERENCE_ADDRESS_FILE = "inference.json"
"""File in the data folder where the inference service writes its port."""
WORKER_STATUS_FILE = "worker.json"
"""File in the data folder where the worker manager writes its slot count."""


def lock_path(home: Home, service: str) -> Path:
    return home.root / f"{service}.lock"


@contextlib.contextmanager
def hold_lock(home: Home, service: str, record_pid: bool = False) -> Iterator[bool]:
    """Hold the service's lock for the `with` block; yield False if another process has it.

    With `record_pid`, the holder writes its process id into the lock file, where
    `service_pid` reads it.
    """
    home.ensure()
    with open(lock_path(home, service), "a+") as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        if record_pid:
            file.seek(0)
            file.truncate()
            file.write(str(os.getpid()))
            file.flush()
        try:
            yield True
        finally:
            fcntl.flock(file, fcntl.LOCK_UN)


def is_running(home: Home, service: str) -> bool:
    # NOTE: fcntl locks are POSIX only, so the studio's server runs on Linux or macOS.
    with hold_lock(home, service) as acquired:
        return not acquired


def service_pid(home: Home, service: str) -> int | None:
    """Return the process id of the running `service`, or None if it does not run."""
    if not is_running(home, service):
        return None
    try:
        return int(lock_path(home, service).read_text().strip())
    except ValueError:
        return None


def worker_slots(home: Home) -> int | None:
    """Return how many runs the running worker trains at once, or None if none runs."""
    if not is_running(home, WORKER):
        return None
    try:
        return int(json.loads((home.root / WORKER_STATUS_FILE).read_text())["slots"])
    except (OSError, ValueError, KeyError):
        return None


def stop(home: Home, service: str, timeout: float = 30.0) -> bool:
    """Terminate `service` and its children, then wait for it; False if it was not running.

    A run in training is left as running and marked interrupted when the next worker
    starts.
    """
    pid = service_pid(home, service)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_running(home, service) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_running(home, service):
        os.killpg(pid, signal.SIGKILL)
    logger.info("Stopped the %s process %d", service, pid)
    return True


def start(home: Home, service: str) -> bool:
    """Start `service` in the background unless it runs already; True if it was started."""
    if is_running(home, service):
        return False
    home.ensure()
    log = open(home.logs / f"{service}.log", "ab")  # noqa: SIM115  (owned by the child)
    environment = {
        **os.environ,
        "BIGMODEL_HOME": str(home.root),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }
    subprocess.Popen(
        [sys.executable, "-m", "bigmodel", service],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    logger.info("Started the %s process for %s", service, home.root)
    return True

"""Training workers: a manager process and one warm child process per slot.

The manager (`python -m bigmodel worker`) holds the worker lock and keeps one child
process per slot. A child imports TensorFlow as soon as it starts, then waits for a
queued run, trains it and exits, so every run gets a fresh process while a submitted
run still finds TensorFlow loaded. The manager replaces each child that exits and
marks the run of a child that died (killed, out of memory) as failed. Runs left
running by a manager that died are marked interrupted when the next one starts.

Start a child by hand with `python -m bigmodel.worker --slot N` only for debugging.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from types import FrameType

from bigmodel import services
from bigmodel.config import Home
from bigmodel.errors import SettingsError
from bigmodel.store import FAILED, INTERRUPTED, RUNNING, RunStore

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2

MAX_SLOTS = 32
"""Most runs one worker trains at once. Each slot keeps a process with TensorFlow
loaded (about 600 MB), so a mistyped `BIGMODEL_WORKERS` must not start hundreds."""


def default_slots(cores: int | None = None, memory_bytes: int | None = None) -> int:
    """Return how many runs may train at once: one per 2 cores and per 4 GiB, at least one.

    `BIGMODEL_WORKERS` overrides the rule, up to `MAX_SLOTS`. A training process uses
    every core it gets, so more slots than half the cores only make each run slower.

    Raises:
        SettingsError: when `BIGMODEL_WORKERS` is not a whole number from 1 to `MAX_SLOTS`.
    """
    configured = os.environ.get("BIGMODEL_WORKERS")
    if configured:
        if not configured.strip().isdigit() or not 1 <= int(configured) <= MAX_SLOTS:
            raise SettingsError("errors.workers_invalid", value=configured, maximum=MAX_SLOTS)
        return int(configured)
    cores = cores or os.cpu_count() or 1
    memory_bytes = memory_bytes or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return max(1, min(cores // 2, memory_bytes // (4 * 1024**3)))


def recover_orphaned_runs(store: RunStore) -> list[int]:
    """Mark runs left running by a dead manager as interrupted; return their ids.

    Call only while holding the worker lock, when no other worker can be training.
    """
    orphans = [run.id for run in store.list_runs([RUNNING])]
    for run_id in orphans:
        store.finish_run(
            run_id, INTERRUPTED, error_key="errors.worker_lost", error_params={"run_id": run_id}
        )
        logger.warning("Run %s was running when its worker stopped; marked interrupted", run_id)
    return orphans


def fail_runs_of(store: RunStore, pid: int, returncode: int) -> list[int]:
    """Mark the runs that child `pid` was training when it died as failed; return their ids."""
    failed = [run.id for run in store.list_runs([RUNNING]) if run.worker_pid == pid]
    for run_id in failed:
        store.finish_run(
            run_id,
            FAILED,
            error_key="errors.worker_killed",
            error_params={"run_id": run_id, "code": returncode},
        )
        logger.error("Worker %d died with code %d during run %s", pid, returncode, run_id)
    return failed


class _Shutdown:
    requested = False

    @classmethod
    def handle(cls, signum: int, frame: FrameType | None) -> None:
        cls.requested = True


def _spawn_child(home: Home, slot: int) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "BIGMODEL_HOME": str(home.root)}
    command = ["-m", "bigmodel.worker", "--slot", str(slot), "--manager", str(os.getpid())]
    return subprocess.Popen([sys.executable, *command], env=environment)


def serve(home: Home, slots: int | None = None) -> int:
    """Manage one warm child per slot until terminated; return the exit code."""
    with services.hold_lock(home, services.WORKER, record_pid=True) as acquired:
        if not acquired:
            logger.info("A worker for %s is running already; exiting", home.root)
            return 0
        signal.signal(signal.SIGTERM, _Shutdown.handle)
        store = RunStore(home)
        recover_orphaned_runs(store)
        slots = slots or default_slots()
        (home.root / services.WORKER_STATUS_FILE).write_text(
            json.dumps({"slots": slots, "pid": os.getpid()})
        )
        logger.info("Worker manager %d started with %d slots for %s", os.getpid(), slots, home.root)

        children: dict[int, subprocess.Popen[bytes]] = {}
        try:
            while not _Shutdown.requested:
                for slot in range(slots):
                    child = children.get(slot)
                    if child is not None and child.poll() is None:
                        continue
                    if child is not None and child.returncode != 0:
                        fail_runs_of(store, child.pid, child.returncode)
                    children[slot] = _spawn_child(home, slot)
                time.sleep(POLL_SECONDS)
        finally:
            _stop_children(children.values())
    return 0


def _stop_children(children: Iterable[subprocess.Popen[bytes]]) -> None:
    children = list(children)
    for child in children:
        if child.poll() is None:
            child.terminate()
    for child in children:
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


def train_one(home: Home, slot: int, manager: int) -> int:
    """Load TensorFlow, wait for a queued run, train it and return; the child's whole life.

    The child stops waiting once its parent is no longer `manager`, the pid of the
    manager that started it, so a child orphaned while it was starting never claims a run.
    """
    from bigmodel.training import execute_run  # imports TensorFlow, before any run waits

    store = RunStore(home)
    logger.info("Worker %d (slot %d) ready", os.getpid(), slot)
    while os.getppid() == manager:
        run = store.claim_next_run(os.getpid())
        if run is not None:
            execute_run(store, run)
            return 0
        time.sleep(POLL_SECONDS)
    logger.info("Worker %d: its manager is gone; exiting", os.getpid())
    return 0


def _die_with_parent() -> None:
    """Ask Linux to send SIGTERM to this process when its manager dies, even by SIGKILL."""
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bigmodel.worker")
    parser.add_argument("--slot", type=int, required=True)
    parser.add_argument("--manager", type=int, required=True, help="pid of the manager")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    _die_with_parent()
    if os.getppid() != args.manager:  # the manager died before the line above took effect
        return 0
    return train_one(Home.from_env(), args.slot, args.manager)


if __name__ == "__main__":
    sys.exit(main())

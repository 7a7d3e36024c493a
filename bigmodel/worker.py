"""The training worker: a long-lived process that executes queued runs one by one.

It imports TensorFlow once at start, so a run submitted to an idle worker starts
training within a second or two. Runs that were running when a previous worker died
are marked interrupted when the next worker starts.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from types import FrameType

from bigmodel import services
from bigmodel.config import Home
from bigmodel.store import INTERRUPTED, RUNNING, RunStore

logger = logging.getLogger(__name__)


class _Shutdown:
    requested = False

    @classmethod
    def handle(cls, signum: int, frame: FrameType | None) -> None:
        cls.requested = True
        raise SystemExit(0)


def recover_orphaned_runs(store: RunStore) -> list[int]:
    """Mark runs left running by a dead worker as interrupted; return their ids.

    Call only while holding the worker lock, when no other worker can be training.
    """
    orphans = [run.id for run in store.list_runs([RUNNING])]
    for run_id in orphans:
        store.finish_run(
            run_id,
            INTERRUPTED,
            error_key="errors.worker_lost",
            error_params={"run_id": run_id},
        )
        logger.warning("Run %s was running when its worker stopped; marked interrupted", run_id)
    return orphans


def serve(home: Home, poll_interval: float = 0.3) -> int:
    """Execute queued runs until the process is terminated; return the exit code."""
    with services.hold_lock(home, services.WORKER, record_pid=True) as acquired:
        if not acquired:
            logger.info("A worker for %s is running already; exiting", home.root)
            return 0
        signal.signal(signal.SIGTERM, _Shutdown.handle)
        store = RunStore(home)
        recover_orphaned_runs(store)

        from bigmodel.training import execute_run  # imports TensorFlow once, here

        logger.info("Worker %d ready for %s", os.getpid(), home.root)
        while not _Shutdown.requested:
            run = store.claim_next_run(os.getpid())
            if run is None:
                time.sleep(poll_interval)
                continue
            execute_run(store, run)
    return 0

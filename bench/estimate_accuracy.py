"""Cost estimates against what real training runs used.

Trains two CNNs of substantially different size on the bundled digits sample, each in
a fresh process like a worker child, and estimates each right after its run in the
same process. Prints, per model, the estimated and the measured memory and epoch
time with their ratio. Memory is the peak resident memory that the run added to the
process (VmHWM after the run minus VmRSS before it), against the estimate less the
process baseline. Epoch time is the median of the epochs after the first, which
includes tracing.

`tests/test_estimates.py` checks the memory figures with the same measurement. The
epoch times are compared here only, because a test never asserts a time.

Usage:
    python bench/estimate_accuracy.py
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bigmodel.config import Home  # noqa: E402
from bigmodel.estimate_views import CostEstimate  # noqa: E402
from bigmodel.samples import load_image_sample  # noqa: E402
from bigmodel.store import RunStore  # noqa: E402

SMALL = {"input_size": 16, "filters": 8, "conv_blocks": 2, "dense_units": 16}
LARGE = {"input_size": 32, "filters": 32, "conv_blocks": 1, "dense_units": 256}
SIZES = {
    "small": (SMALL, {"batch_size": 32, "epochs": 3, "patience": 0}),
    "large": (LARGE, {"batch_size": 256, "epochs": 3, "patience": 0}),
}

MEASURE_RUN = """
import json, os, re, sys
from pathlib import Path

from bigmodel import estimates, jobs
from bigmodel.config import Home
from bigmodel.store import RunStore
from bigmodel.training import execute_run


def status_bytes(field):
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\\s+(\\d+) kB", text, re.MULTILINE).group(1)) * 1024


store = RunStore(Home.from_env())
dataset_id, model, training = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
run_id = jobs.submit_run(
    store, dataset_id, "cnn", model=model, training=training, worker_pid=os.getpid()
)
before = status_bytes("VmRSS")
Path("/proc/self/clear_refs").write_text("5")  # restarts the peak (VmHWM) from now
run = execute_run(store, store.get_run(run_id))
added = status_bytes("VmHWM") - before
ends = [row.elapsed for row in store.get_metrics(run_id, kind="epoch")]
estimate = estimates.estimate_cost(
    store, dataset_id, "cnn", preset="balanced", model=model, training=training
)
print(json.dumps({
    "status": run.status,
    "added_bytes": added,
    "epoch_ends": ends,
    "estimate": estimate.to_dict(),
}))
"""


def train_and_estimate(home: Home, dataset_id: str, model: dict, training: dict) -> dict[str, Any]:
    """Train one run in a fresh process, estimate it there, and return both.

    The estimate follows the run at once, so that other load on the machine changes
    the timed batches and the timed epochs alike. It runs after the run, so that its
    own allocations cannot hide in the run's peak memory.

    Raises:
        RuntimeError: when the process fails, with the end of its error output.
    """
    environment = {
        **os.environ,
        "BIGMODEL_HOME": str(home.root),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", MEASURE_RUN, dataset_id, json.dumps(model), json.dumps(training)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    measured: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return measured


def epoch_seconds(measured: dict[str, Any]) -> float:
    """Return the median epoch time of a measured run, leaving out the first epoch."""
    ends = measured["epoch_ends"]
    return statistics.median(later - earlier for earlier, later in itertools.pairwise(ends))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        home = Home(Path(folder)).ensure()
        dataset_id = load_image_sample("digits", RunStore(home)).id
        print("model  memory est.  memory meas.  ratio  epoch est.  epoch meas.  ratio")
        for name, (model, training) in SIZES.items():
            measured = train_and_estimate(home, dataset_id, model, training)
            estimate = CostEstimate.from_dict(measured["estimate"])
            memory = (estimate.run_bytes / 2**20, measured["added_bytes"] / 2**20)
            epoch = (estimate.epoch_seconds, epoch_seconds(measured))
            memory_ratio, epoch_ratio = memory[0] / memory[1], epoch[0] / epoch[1]
            print(
                f"{name:<6} {memory[0]:8.0f} MiB  {memory[1]:9.0f} MiB  {memory_ratio:5.2f}"
                f"  {epoch[0]:8.2f} s  {epoch[1]:9.2f} s  {epoch_ratio:5.2f}"
            )
        print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

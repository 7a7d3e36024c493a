"""Test accuracy of the sequence families with default settings on two public datasets.

Each family (rnn, attention, cnn1d) is trained as a studio run on the official
training file, with its `balanced` preset, whose settings are the defaults. It is
then scored on the official test file, which is never used in training:

- GunPoint (UCR archive): wide layout, 50 training and 150 test series of 150 steps.
- BasicMotions (UEA archive): long layout, 40 and 40 recordings of 6 channels x 100 steps.

The table lists the test accuracy, the epochs trained (early stopping on the
validation loss), the training time, and the published figures from Fawaz et al.
(2019, 2020) beside them. The training time is `fit` alone, without TensorFlow's import.

Usage:
    python bench/sequence_accuracy.py [--families rnn,cnn1d] [--datasets gunpoint]
        [--seed 42] [--model '{"units": 32}'] [--training '{"epochs": 50}']
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bigmodel import jobs  # noqa: E402
from bigmodel.config import Home  # noqa: E402
from bigmodel.sequence_datasets import ingest_sequences  # noqa: E402
from bigmodel.sequence_prediction import SequencePredictor  # noqa: E402
from bigmodel.store import COMPLETED, RunStore  # noqa: E402
from bigmodel.training import execute_run  # noqa: E402

SAMPLES = ROOT / "assets" / "sequences"


@dataclasses.dataclass(frozen=True)
class Benchmark:
    name: str
    train_file: str
    test_file: str
    published: str


BENCHMARKS = {
    "gunpoint": Benchmark(
        "GunPoint",
        "GunPoint_TRAIN.csv",
        "GunPoint_TEST.csv",
        "1-NN Euclidean 91.3 %, FCN 100 %",
    ),
    "basicmotions": Benchmark(
        "BasicMotions",
        "BasicMotions_TRAIN_long.csv",
        "BasicMotions_TEST_long.csv",
        "InceptionTime 100 %",
    ),
}
FAMILIES = ("rnn", "attention", "cnn1d")


@dataclasses.dataclass(frozen=True)
class Result:
    benchmark: str
    family: str
    accuracy: float
    epochs: int
    seconds: float
    published: str


def run_one(store: RunStore, benchmark: Benchmark, family: str, args: argparse.Namespace) -> Result:
    """Train one family on a benchmark's training file and score it on the test file."""
    train_bytes = (SAMPLES / benchmark.train_file).read_bytes()
    dataset = ingest_sequences(train_bytes, benchmark.train_file, None, benchmark.name, store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        family,
        preset=args.preset,
        model=args.model,
        training={"seed": args.seed, **args.training},
    )
    store.start_run(run_id, worker_pid=os.getpid())
    run = execute_run(store, store.get_run(run_id))
    if run.status != COMPLETED or run.model_path is None or run.results is None:
        raise SystemExit(f"run {run_id} ended as {run.status}: {run.error_key} {run.traceback}")

    predictor = SequencePredictor(Path(run.model_path))
    test_bytes = (SAMPLES / benchmark.test_file).read_bytes()
    table = predictor.predict_csv(test_bytes, benchmark.test_file)
    accuracy = float((table["prediction"] == table["actual"]).mean())
    return Result(
        benchmark.name,
        family,
        accuracy,
        int(run.results["epochs_trained"]),
        float(run.results["training_seconds"]),
        benchmark.published,
    )


def print_table(results: list[Result]) -> None:
    header = f"{'dataset':<13} {'family':<10} {'test accuracy':>13} {'epochs':>6} "
    header += f"{'training':>9}  published"
    print(header)
    print("-" * (len(header) + 34))
    for result in results:
        print(
            f"{result.benchmark:<13} {result.family:<10} {result.accuracy:>13.3f} "
            f"{result.epochs:>6} {result.seconds:>7.0f} s  {result.published}"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--datasets", default=",".join(BENCHMARKS))
    parser.add_argument("--preset", default="balanced")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--model", type=json.loads, default={}, help="model settings (JSON)")
    parser.add_argument("--training", type=json.loads, default={}, help="training settings")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bigmodel-bench-") as folder:
        store = RunStore(Home(Path(folder)).ensure())
        for key in args.datasets.split(","):
            for family in args.families.split(","):
                started = time.monotonic()
                result = run_one(store, BENCHMARKS[key], family, args)
                results.append(result)
                print(
                    f"# {result.benchmark} {family}: accuracy {result.accuracy:.3f}, "
                    f"{result.epochs} epochs, {result.seconds:.0f} s training, "
                    f"{time.monotonic() - started:.0f} s in all",
                    flush=True,
                )
    print()
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

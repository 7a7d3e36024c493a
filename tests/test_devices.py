"""Training on several devices: MirroredStrategy over a CPU split into two logical devices.

The split must happen before TensorFlow starts, so the run trains in a new process
(`python -m bigmodel train`), which calls `execute_run` like a worker does.
"""

import subprocess
import sys

import pytest

from bigmodel import devices, jobs, services
from bigmodel.errors import SettingsError
from bigmodel.store import COMPLETED, PAUSED, RunStore
from tests.image_factory import make_color_folders
from tests.processes import ROOT, background, environment, wait_for


def test_cpu_split_trains_on_two_replicas(home, tmp_path):
    folder = make_color_folders(tmp_path / "colors", per_class=8)
    command = [sys.executable, "-m", "bigmodel", "train", "--dataset", str(folder)]
    command += ["--epochs", "2", "--batch-size", "8", "--input-size", "16", "--filters", "8"]

    result = subprocess.run(
        command,
        cwd=ROOT,
        env={**environment(home), devices.DEVICES_VARIABLE: "cpu:2"},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr
    [run] = RunStore(home).list_runs()
    assert run.status == COMPLETED, run.traceback
    assert run.results["epochs_trained"] == 2
    assert run.environment["replicas"] == "2"
    names = run.environment["devices"].split(", ")
    assert [name.rsplit("/", 1)[-1] for name in names] == ["device:CPU:0", "device:CPU:1"]
    assert "trains on 2 replicas" in jobs.run_log(RunStore(home), run.id)


@pytest.mark.parametrize("value", ["gpu:2", "cpu:two", "cpu:0", "many"])
def test_invalid_devices_value_is_named(monkeypatch, value):
    monkeypatch.setenv(devices.DEVICES_VARIABLE, value)

    with pytest.raises(SettingsError) as raised:
        devices.training_strategy()

    assert raised.value.key == "errors.devices_invalid"
    assert value in str(raised.value)
    assert devices.DEVICES_VARIABLE in str(raised.value)


def test_single_device_uses_default_strategy(monkeypatch):
    monkeypatch.setenv(devices.DEVICES_VARIABLE, "single")

    strategy = devices.training_strategy()

    assert strategy.num_replicas_in_sync == 1
    assert devices.describe(strategy)["replicas"] == "1"


def test_two_replica_run_pauses_and_resumes(home, tmp_path, monkeypatch):
    monkeypatch.setenv(devices.DEVICES_VARIABLE, "cpu:2")
    store = RunStore(home)
    folder = make_color_folders(tmp_path / "colors", per_class=8)
    epochs = 20
    command = [sys.executable, "-m", "bigmodel", "train", "--dataset", str(folder)]
    command += ["--epochs", str(epochs), "--batch-size", "8", "--input-size", "16"]
    command += ["--filters", "8", "--patience", "0"]

    with subprocess.Popen(command, cwd=ROOT, env=environment(home)) as training:
        [run] = wait_for(store.list_runs, timeout=120, interval=0.1)
        wait_for(lambda: store.get_metrics(run.id, kind="epoch"), timeout=120, interval=0.1)
        jobs.pause_run(store, run.id)
        training.wait(timeout=120)
    paused = store.get_run(run.id)
    assert paused.status == PAUSED, paused.traceback
    assert 1 <= paused.resume_epoch < epochs

    jobs.resume_run(store, run.id)
    with background(home, services.WORKER):
        resumed = jobs.wait_for_run(store, run.id, timeout=300)

    assert resumed.status == COMPLETED, resumed.traceback
    assert resumed.environment["replicas"] == "2"
    assert resumed.results["epochs_trained"] == epochs
    assert [row.epoch for row in store.get_metrics(run.id, kind="epoch")] == list(range(epochs))

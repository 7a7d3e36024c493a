"""The command line, run as users run it: `python -m bigmodel ...` in a subprocess."""

import subprocess
import sys

import pytest

from bigmodel import jobs, services
from bigmodel.image_datasets import ingest_folder
from bigmodel.store import COMPLETED, PAUSED, QUEUED, RunStore
from bigmodel.worker import recover_orphaned_runs
from tests.image_factory import make_color_folders
from tests.processes import ROOT, background, environment, wait_for


def bigmodel(home, *args):
    return subprocess.run(
        [sys.executable, "-m", "bigmodel", *args],
        cwd=ROOT,
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_missing_file_gets_a_message_not_a_traceback(home, tmp_path):
    result = bigmodel(home, "ingest", str(tmp_path / "nope.zip"), "--lang", "en")

    assert result.returncode == 2
    assert "Cannot read" in result.stderr
    assert "nope.zip" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_named(home, tmp_path):
    folder = make_color_folders(tmp_path / "colors", per_class=4)

    result = bigmodel(home, "--lang", "zh-CN", "train", "--dataset", str(folder), "--epochs", "abc")

    assert result.returncode == 2
    assert "epochs" in result.stderr
    assert "abc" in result.stderr
    assert "必须是数字" in result.stderr


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("command", ["train", "predict", "ingest", "report", "resume"])
def test_help_of_every_command_prints(home, command, language):
    # Help texts with a percent sign once crashed argparse's formatting.
    result = bigmodel(home, command, "--help", "--lang", language)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "--" in result.stdout


@pytest.mark.parametrize("position", ["before", "after"])
def test_lang_flag_works_on_either_side(home, position):
    args = ["--lang", "zh-CN", "runs"] if position == "before" else ["runs", "--lang", "zh-CN"]

    assert bigmodel(home, *args).returncode == 0


def test_train_trains_itself_while_a_worker_runs(home, tmp_path):
    folder = make_color_folders(tmp_path / "colors", per_class=8)

    with background(home, services.WORKER):
        result = bigmodel(
            home, "train", "--dataset", str(folder), "--epochs", "1", "--input-size", "16"
        )

    assert result.returncode == 0, result.stderr
    [run] = RunStore(home).list_runs()
    assert run.status == COMPLETED
    assert run.worker_pid != services.service_pid(home, services.WORKER)


@pytest.fixture
def queued_run(store, tmp_path):
    """Return the id of a queued run on a tiny dataset, which no worker trains."""
    dataset = ingest_folder(make_color_folders(tmp_path / "colors", per_class=4), "c", store)
    return jobs.submit_run(store, dataset.id, "cnn", training={"epochs": 3})


def test_pause_and_resume_of_a_queued_run(home, store, queued_run):
    run_id = queued_run

    paused = bigmodel(home, "pause", str(run_id), "--lang", "en")
    assert paused.returncode == 0, paused.stderr
    assert f"Run {run_id} is paused." in paused.stdout
    assert store.get_run(run_id).status == PAUSED

    resumed = bigmodel(home, "resume", str(run_id), "--lang", "en")
    assert resumed.returncode == 0, resumed.stderr
    assert f"Run {run_id} is queued again and trains from scratch." in resumed.stdout
    assert "No training worker runs" in resumed.stdout
    assert store.get_run(run_id).status == QUEUED


def test_resume_of_a_completed_run_is_rejected(home, store, queued_run):
    run_id = queued_run
    store.start_run(run_id, worker_pid=1)
    store.finish_run(run_id, COMPLETED)

    result = bigmodel(home, "resume", str(run_id), "--lang", "zh-CN")

    assert result.returncode == 2
    assert f"训练任务 {run_id} 当前状态为“已完成”，无法继续" in result.stderr
    assert store.get_run(run_id).status == COMPLETED


def test_interrupted_run_without_checkpoint_restarts(home, store, queued_run):
    run_id = queued_run
    store.start_run(run_id, worker_pid=1)
    recover_orphaned_runs(store)

    resumed = bigmodel(home, "resume", str(run_id), "--lang", "en")
    restarted = bigmodel(home, "resume", str(run_id), "--restart", "--lang", "en")

    assert resumed.returncode == 2
    assert "no checkpoint was saved" in resumed.stderr
    assert "Restart it from scratch" in resumed.stderr
    assert restarted.returncode == 0, restarted.stderr
    assert store.get_run(run_id).status == QUEUED


def test_pause_ends_train_command_and_worker_resumes(home, tmp_path):
    store = RunStore(home)
    folder = make_color_folders(tmp_path / "colors", per_class=8)
    command = [sys.executable, "-m", "bigmodel", "train", "--lang", "en", "--dataset", str(folder)]
    command += ["--epochs", "200", "--input-size", "16", "--filters", "8", "--patience", "0"]
    with subprocess.Popen(
        command, cwd=ROOT, env=environment(home), stdout=subprocess.PIPE, text=True
    ) as training:
        [run] = wait_for(store.list_runs, timeout=120, interval=0.1)
        wait_for(lambda: store.get_metrics(run.id, kind="epoch"), timeout=120, interval=0.1)
        paused = bigmodel(home, "pause", str(run.id), "--lang", "en")
        output, _ = training.communicate(timeout=120)

    assert paused.returncode == 0, paused.stderr
    assert f"Run {run.id} pauses after its current epoch." in paused.stdout
    assert training.returncode == 0
    run = store.get_run(run.id)
    assert run.status == PAUSED
    assert f"Run {run.id} paused after epoch {run.resume_epoch} of 200." in output

    with background(home, services.WORKER):
        resumed = bigmodel(home, "resume", str(run.id), "--lang", "en")
        wait_for(
            lambda: len(store.get_metrics(run.id, kind="epoch")) > run.resume_epoch,
            timeout=180,
            interval=0.1,
        )
        jobs.pause_run(store, run.id)
        repaused = jobs.wait_for_run(store, run.id, timeout=180)

    assert resumed.returncode == 0, resumed.stderr
    assert f"continues after epoch {run.resume_epoch} of 200" in resumed.stdout
    assert "No training worker runs" not in resumed.stdout
    assert repaused.status == PAUSED
    assert repaused.resume_epoch > run.resume_epoch

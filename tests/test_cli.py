"""The command line, run as users run it: `python -m bigmodel ...` in a subprocess."""

import subprocess
import sys

import pytest

from bigmodel import services
from bigmodel.store import COMPLETED, RunStore
from tests.image_factory import make_color_folders
from tests.processes import ROOT, background, environment


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

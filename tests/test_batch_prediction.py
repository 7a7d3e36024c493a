"""Batch prediction: collecting images, the chunked path through the inference service, the table.

The digits test trains a tiny CNN for one epoch and predicts all 1,797 digit images
through a real inference service, in chunks, then compares the CSV file with
predictions of one image per model call.
"""

from __future__ import annotations

import io
import math
import zipfile
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from bigmodel import i18n, inference_client, jobs, prediction_tables, services
from bigmodel.batch_prediction import (
    BatchImage,
    batch_from_paths,
    batch_from_uploads,
    predict_batch,
)
from bigmodel.config import Home
from bigmodel.errors import InvalidUploadError, SettingsError
from bigmodel.imaging import Notice, decode_image
from bigmodel.inference_client import Prediction
from bigmodel.samples import IMAGE_SAMPLES, load_image_sample
from bigmodel.store import COMPLETED, Run, RunStore
from tests.image_factory import png_bytes
from tests.processes import background
from tests.test_cli import bigmodel as run_cli

CASES = Path(__file__).resolve().parent / "cases"
DIGITS = IMAGE_SAMPLES["digits"]
CHUNK = 64


def digit_files() -> list[Path]:
    return sorted(DIGITS.glob("*/*.png"))


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def fake_chunk(images):
    """Predict class `a` with the confidence written in the file name, such as `0.3.png`."""
    return [
        Prediction(
            name, [("a", float(Path(name).stem)), ("b", 1 - float(Path(name).stem))], [], None
        )
        for name, _ in images
    ]


# Collecting images.


def test_zip_members_and_skipped_files():
    data = zip_bytes(
        {
            "photos/ok/0.9.png": png_bytes((1, 2, 3)),
            "photos/notes.txt": b"not an image",
            "photos/.DS_Store": b"junk",
        }
    )

    with batch_from_uploads([("photos.zip", data), ("0.2.PNG", png_bytes((0, 0, 0)))]) as batch:
        names = [image.name for image in batch.images]
        skipped = [(notice.source, notice.key) for notice in batch.skipped]

    assert names == ["photos.zip/photos/ok/0.9.png", "0.2.PNG"]
    assert skipped == [("photos.zip/photos/notes.txt", "ingest.skipped.not_an_image")]


def test_cp936_member_names_come_out_right():
    data = (CASES / "B37_gbk_names.zip").read_bytes()

    with batch_from_uploads([("检验.zip", data)]) as batch:
        names = sorted(image.name for image in batch.images)

    assert names == [
        "检验.zip/不合格/图片001.png",
        "检验.zip/不合格/图片002.png",
        "检验.zip/合格/图片001.png",
        "检验.zip/合格/图片002.png",
    ]


def test_file_named_zip_that_is_not_one():
    with pytest.raises(InvalidUploadError) as raised:
        batch_from_uploads([("photos.zip", b"plain text")])

    assert raised.value.key == "errors.not_a_zip"


def test_folder_and_files_from_paths(tmp_path):
    folder = tmp_path / "inbox"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "0.7.png").write_bytes(png_bytes((9, 9, 9)))
    (folder / "list.csv").write_text("a,b")
    single = tmp_path / "0.1.jpg"
    single.write_bytes(png_bytes((5, 5, 5)))

    with batch_from_paths([folder, single]) as batch:
        names = [image.name for image in batch.images]
        skipped = [notice.source for notice in batch.skipped]

    assert names == [f"{folder}/sub/0.7.png", str(single)]
    assert skipped == [f"{folder}/list.csv"]


# Chunks and progress.


def test_chunks_keep_order_and_report_progress():
    images = [BatchImage(f"{index / 10:.1f}.png", lambda: b"x") for index in range(10)]
    chunks = []
    progress = []

    def predict_chunk(chunk):
        chunks.append(len(chunk))
        return fake_chunk(chunk)

    predictions = predict_batch(
        images, predict_chunk, chunk_size=4, on_progress=lambda *p: progress.append(p)
    )

    assert [p.name for p in predictions] == [image.name for image in images]
    assert chunks == [4, 4, 2]
    assert progress == [(4, 10), (8, 10), (10, 10)]


def test_unreadable_image_becomes_error_row():
    def broken() -> bytes:
        raise InvalidUploadError("errors.member_unreadable", source="bad.png")

    images = [BatchImage("0.5.png", lambda: b"x"), BatchImage("bad.png", broken)]
    sent = []

    def predict_chunk(chunk):
        sent.extend(name for name, _ in chunk)
        return fake_chunk(chunk)

    predictions = predict_batch(images, predict_chunk)

    assert sent == ["0.5.png"]
    assert predictions[0].top[0] == ("a", 0.5)
    assert predictions[1].error == {"key": "errors.member_unreadable", "params": {}}


# Threshold, filters and the table.


def test_threshold_marks_rows_below_it():
    table = pd.DataFrame({"confidence": [0.2, 0.5, 0.9, None]})

    marked = prediction_tables.mark_uncertain(table, 0.5)

    assert marked["uncertain"].tolist() == [True, False, False, False]
    assert "uncertain" not in table


@pytest.mark.parametrize("threshold", [-0.1, 1.5, math.nan])
def test_threshold_outside_zero_to_one_is_rejected(threshold):
    with pytest.raises(SettingsError) as raised:
        prediction_tables.mark_uncertain(pd.DataFrame({"confidence": [0.5]}), threshold)

    assert raised.value.key == "batch.threshold_invalid"


def test_table_without_confidence_is_unchanged():
    table = pd.DataFrame({"prediction": [1.5, 2.5]})

    assert prediction_tables.mark_uncertain(table, 0.5) is table


def image_batch_table() -> pd.DataFrame:
    images = [BatchImage(name, lambda: b"x") for name in ("0.9.png", "0.3.png", "0.6.png")]
    predictions = predict_batch(images, fake_chunk)
    predictions[2] = Prediction("0.6.png", [("b", 0.6), ("a", 0.4)], [], None)
    skipped = [Notice("notes.txt", "ingest.skipped.not_an_image", {"extensions": ".png"})]
    return prediction_tables.mark_uncertain(
        prediction_tables.image_table(predictions, skipped), 0.5
    )


def test_filter_by_class_uncertain_and_failed():
    table = image_batch_table()

    assert prediction_tables.filter_table(table, ["a"])["file"].tolist() == ["0.9.png", "0.3.png"]
    assert prediction_tables.filter_table(table, uncertain_only=True)["file"].tolist() == [
        "0.3.png"
    ]
    assert prediction_tables.filter_table(table, failed_only=True)["file"].tolist() == ["notes.txt"]
    assert len(prediction_tables.filter_table(table)) == 4


def test_sort_puts_rows_without_confidence_last():
    table = image_batch_table()

    ascending = prediction_tables.sort_table(table, "confidence")
    descending = prediction_tables.sort_table(table, "confidence", descending=True)

    assert ascending["file"].tolist() == ["0.3.png", "0.6.png", "0.9.png", "notes.txt"]
    assert descending["file"].tolist() == ["0.9.png", "0.6.png", "0.3.png", "notes.txt"]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_csv_marks_and_reasons_per_language(language):
    t = i18n.Translator(language)

    data = prediction_tables.csv_bytes(prediction_tables.display_frame(image_batch_table(), t))
    rows = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False)

    assert data.startswith(b"\xef\xbb\xbf")
    assert list(rows.columns) == [
        t("ui.predict.column.file"),
        t("ui.predict.column.prediction"),
        t("ui.predict.column.confidence"),
        t("ui.predict.column.uncertain"),
        t("ui.predict.column.top"),
        t("ui.predict.column.error"),
    ]
    check = rows[t("ui.predict.column.uncertain")].tolist()
    assert check == ["", t("batch.uncertain"), "", ""]
    reason = rows[t("ui.predict.column.error")].tolist()[3]
    assert reason == t("ingest.skipped.not_an_image", source="notes.txt", extensions=".png")
    assert rows[t("ui.predict.column.top")].tolist()[2] == "b: 60.0% · a: 40.0%"


# The digits through a real inference service.


def train_digits_run(store: RunStore) -> Run:
    """Train a tiny CNN for one epoch on the digits sample, in this process."""
    from bigmodel.training import execute_run

    dataset = load_image_sample("digits", store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn",
        model={"input_size": 8, "conv_blocks": 1, "filters": 8, "dense_units": 16},
        training={"epochs": 1},
    )
    store.start_run(run_id, worker_pid=0)
    run = execute_run(store, store.get_run(run_id))
    assert run.status == COMPLETED, run.error_key
    return run


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> tuple[RunStore, Run]:
    store = RunStore(Home(tmp_path_factory.mktemp("batch") / "home").ensure())
    return store, train_digits_run(store)


def single_image_predictions(run: Run) -> dict[str, tuple[str, float]]:
    """Return the class and confidence of each digit, one image per model call."""
    from bigmodel.prediction import Predictor

    predictor = Predictor(Path(run.model_path))
    expected = {}
    for path in digit_files():
        probabilities = predictor.probabilities(decode_image(path.read_bytes(), path.name).pixels)
        best = int(probabilities.argmax())
        expected[f"{path.parent.name}/{path.name}"] = (
            predictor.class_names[best],
            float(probabilities[best]),
        )
    return expected


def test_digits_batch_matches_single_predictions(digits_run):
    store, run = digits_run
    files = {f"digits/{path.parent.name}/{path.name}": path.read_bytes() for path in digit_files()}
    files["digits/broken.png"] = b"\x89PNG not really"
    t = i18n.Translator("en")
    progress = []

    with background(store.home, services.INFERENCE):
        predict_chunk = partial(inference_client.predict_images, store.home, run.id, top_k=3)
        with batch_from_uploads([("digits.zip", zip_bytes(files))]) as batch:
            predictions = predict_batch(
                batch.images,
                predict_chunk,
                chunk_size=CHUNK,
                on_progress=lambda *p: progress.append(p),
            )
            table = prediction_tables.image_table(predictions, batch.skipped)
    marked = prediction_tables.mark_uncertain(table, 0.5)
    data = prediction_tables.csv_bytes(prediction_tables.display_frame(marked, t))
    rows = pd.read_csv(
        io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False, dtype={"Prediction": str}
    )

    assert progress[-1] == (1798, 1798)
    assert len(progress) == math.ceil(1798 / CHUNK)
    assert [done for done, _ in progress] == sorted(done for done, _ in progress)
    assert len(rows) == 1798

    by_file = rows.set_index("File")
    broken = by_file.loc["digits.zip/digits/broken.png"]
    assert broken["Why it could not be read"] == t(
        "errors.image_unknown_format", source="digits.zip/digits/broken.png"
    )
    expected = single_image_predictions(run)
    assert len(expected) == 1797
    for name, (label, confidence) in expected.items():
        row = by_file.loc[f"digits.zip/digits/{name}"]
        assert row["Prediction"] == label, name
        assert float(row["Confidence"]) == pytest.approx(confidence, abs=1e-5), name
        assert row["Check"] == (t("batch.uncertain") if confidence < 0.5 else ""), name
        assert row["Most likely classes"].startswith(f"{label}: "), name
        assert row["Most likely classes"].count("%") == 3, name


def test_cli_writes_csv_of_folder_and_zip(digits_run, tmp_path):
    store, run = digits_run
    output = tmp_path / "预测.csv"

    result = run_cli(
        store.home,
        "predict",
        str(run.id),
        str(DIGITS / "3"),
        str(CASES / "B37_gbk_names.zip"),
        "--output",
        str(output),
        "--threshold",
        "0.9",
        "--lang",
        "zh-CN",
    )

    assert result.returncode == 0, result.stderr
    rows = pd.read_csv(output, encoding="utf-8-sig", keep_default_na=False)
    names = rows["文件"].tolist()
    assert len(names) == len(list((DIGITS / "3").glob("*.png"))) + 4
    assert f"{CASES / 'B37_gbk_names.zip'}/合格/图片001.png" in names
    uncertain = rows["核对"] == "不确定——请人工核对"
    assert uncertain.tolist() == (rows["置信度"] < 0.9).tolist()
    assert str(output) in result.stdout


def test_cli_single_file_prints_as_before(digits_run):
    store, run = digits_run
    digit = DIGITS / "3" / "0003.png"

    result = run_cli(
        store.home,
        "predict",
        "--run",
        str(run.id),
        str(digit),
        "--lang",
        "en",
    )

    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith(f"{digit}: ")
    assert line.count("%") == 3


def test_sequence_chunks_match_whole_file(store):
    from bigmodel.samples import SEQUENCE_SAMPLES, load_sequence_sample
    from bigmodel.training import execute_run

    dataset = load_sequence_sample("gunpoint", store)
    run_id = jobs.submit_run(store, dataset.id, "cnn1d", preset="fast", training={"epochs": 1})
    store.start_run(run_id, worker_pid=0)
    assert execute_run(store, store.get_run(run_id)).status == COMPLETED
    data = SEQUENCE_SAMPLES["gunpoint"].test.read_bytes()
    progress = []

    with background(store.home, services.INFERENCE):
        whole = inference_client.predict_sequences(store.home, run_id, data, "test.csv")
        chunked = inference_client.predict_sequences(
            store.home,
            run_id,
            data,
            "test.csv",
            chunk_size=40,
            on_progress=lambda *p: progress.append(p),
        )

    assert progress == [(40, 150), (80, 150), (120, 150), (150, 150)]
    assert len(whole) == 150
    plain_columns = ["sequence", "steps", "row", "prediction", "actual"]
    pd.testing.assert_frame_equal(chunked[plain_columns], whole[plain_columns])
    assert chunked["confidence"].tolist() == pytest.approx(whole["confidence"].tolist(), abs=1e-5)
    assert [[label for label, _ in top] for top in chunked["top"]] == [
        [label for label, _ in top] for top in whole["top"]
    ]

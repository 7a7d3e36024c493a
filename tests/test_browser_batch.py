"""Batch prediction in a real headless Chromium against a running studio.

A tiny CNN trained for one epoch on the digits sample predicts a zip of 300 digit
images on the predict page: the progress bar shows, the table and its summary
follow, and the CSV download contains every image. Set BIGMODEL_SCREENSHOTS to a
folder to keep screenshots.
"""

from __future__ import annotations

import io
import re
import zipfile

import pandas as pd
import pytest

from bigmodel import i18n
from bigmodel.samples import IMAGE_SAMPLES
from bigmodel.store import RunStore
from tests.studio_server import chromium, idle, running_studio, shot
from tests.test_batch_prediction import train_digits_run

pytestmark = pytest.mark.browser
IMAGES = 300


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def digits_zip(path) -> None:
    """Write a zip of the first digit images, in their class folders, to `path`."""
    files = sorted(IMAGE_SAMPLES["digits"].glob("*/*.png"))[:IMAGES]
    names = [f"digits/{file.parent.name}/{file.name}" for file in files]
    with zipfile.ZipFile(path, "w") as archive:
        for name, file in zip(names, files, strict=True):
            archive.write(file, name)


def test_zip_upload_shows_progress_table_and_csv(browser, home, tmp_path):
    t = i18n.Translator("en")
    store = RunStore(home)
    run_id = train_digits_run(store).id
    upload = tmp_path / "数字.zip"
    digits_zip(upload)

    with running_studio(home) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/predict?lang=en&model={run_id}")
        idle(page)
        page.get_by_text(t("batch.mode_option.batch")).click()
        idle(page)
        dropzone = page.locator('.st-key-predict_batch [data-testid="stFileUploaderDropzoneInput"]')
        dropzone.set_input_files(str(upload))

        progress = page.locator('[data-testid="stProgress"]')
        progress.first.wait_for(timeout=60_000)
        assert progress.get_by_text(re.compile(rf"Predicted \d+ of {IMAGES} images")).count() == 1
        shot(page, "batch-progress")
        page.locator('[data-testid="stDataFrame"]').wait_for(timeout=300_000)
        idle(page)
        shot(page, "batch-table")

        assert page.get_by_text(re.compile(rf"^{IMAGES} images predicted: ")).count() == 1
        assert progress.count() == 0
        download = page.locator('[data-testid="stDownloadButton"] button')
        assert t("batch.download", rows=IMAGES) in download.inner_text()
        with page.expect_download() as event:
            download.click()
        path = tmp_path / "predictions.csv"
        event.value.save_as(path)

    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False)
    assert len(rows) == IMAGES
    assert rows["File"].str.startswith("数字.zip/").all()
    assert set(rows["Check"]) <= {"", t("batch.uncertain")}
    assert rows["Why it could not be read"].eq("").all()
    assert rows["Confidence"].between(0, 1).all()

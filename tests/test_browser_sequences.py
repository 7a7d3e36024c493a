"""The sequence path in a real headless Chromium against a running studio.

Upload GunPoint_TRAIN.csv, train a 1-D CNN for 3 epochs with its live chart, and
predict GunPoint_TEST.csv into a table with a download. Then the airline sample as a
forecast with its chart, and a GBK file with Chinese headers in the Chinese
interface. One studio serves the whole module, so the worker and the prediction
service load TensorFlow once. Set BIGMODEL_SCREENSHOTS to a folder to keep
screenshots of each step.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from bigmodel import i18n, jobs
from bigmodel.config import Home
from bigmodel.store import COMPLETED, RunStore
from tests.studio_server import chart_points, chromium, idle, running_studio, shot, wait_for

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
SEQUENCES = ROOT / "assets" / "sequences"
CASES = Path(__file__).resolve().parent / "cases"
EN = i18n.Translator("en")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RunStore]]:
    """Serve one studio, with its worker and prediction service, for every test here."""
    home = Home(tmp_path_factory.mktemp("studio") / "home").ensure()
    with running_studio(home) as url:
        yield url, RunStore(home)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    yield page
    page.close()


def _upload_csv(page: Page, t: i18n.Translator, path: Path) -> None:
    """Open the CSV tab of the data page and drop `path` on its uploader."""
    page.get_by_role("tab", name=t("ui.data.tab.csv")).click()
    uploader = page.locator('[data-testid="stFileUploader"]').filter(
        has_text=t("ui.data.csv_label")
    )
    uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    page.get_by_text(t("ui.data.seq_understood")).wait_for(timeout=60_000)
    idle(page)


def _choose(page: Page, label: str, option: str) -> None:
    """Pick `option` in the selectbox labelled `label` (a combobox in Streamlit 1.67)."""
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option).click()
    idle(page)


def _finished(store: RunStore, run_id: int):
    run = store.get_run(run_id)
    return None if run.is_active else run


def test_gunpoint_upload_train_and_predict(studio, page: Page, tmp_path: Path) -> None:
    url, store = studio
    page.goto(f"{url}/?lang=en")
    idle(page)
    _upload_csv(page, EN, SEQUENCES / "GunPoint_TRAIN.csv")
    assert page.get_by_text("Read as UTF-8, separator comma (,)").count() == 1
    shot(page, "sequence-data")
    page.locator(".st-key-data_seq_store button").click()
    dataset = wait_for(lambda: store.list_datasets("sequence"), timeout=30)[0]
    assert dataset.summary["num_sequences"] == 50

    page.goto(f"{url}/train?lang=en&dataset={dataset.id}")
    idle(page)
    _choose(page, EN("ui.train.family"), EN("ui.family.cnn1d"))
    page.get_by_role("spinbutton", name=EN("settings.epochs.label")).fill("3")
    page.get_by_role("button", name=EN("ui.train.start")).click()
    idle(page)
    run = wait_for(lambda: (store.list_runs() or [None])[0], timeout=30)
    assert run.family == "cnn1d"
    wait_for(lambda: chart_points(page) > 0, timeout=120)
    shot(page, "sequence-train-running")
    finished = wait_for(lambda: _finished(store, run.id), timeout=180)
    assert finished.status == COMPLETED, finished.error_key
    assert finished.results["epochs_trained"] == 3
    page.get_by_text("Training finished. Validation accuracy:").wait_for(timeout=30_000)

    page.goto(f"{url}/predict?lang=en&model={run.id}")
    idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        str(SEQUENCES / "GunPoint_TEST.csv")
    )
    download = page.locator('[data-testid="stDownloadButton"] button')
    download.wait_for(timeout=180_000)
    idle(page)
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    assert page.get_by_text("of 150 sequences").count() == 1
    shot(page, "sequence-predict")
    with page.expect_download() as event:
        download.click()
    path = tmp_path / "predictions.csv"
    event.value.save_as(path)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert len(data.decode("utf-8-sig").splitlines()) == 151


def test_airline_forecast_chart(studio, page: Page) -> None:
    url, store = studio
    page.goto(f"{url}/?lang=en")
    idle(page)
    page.locator(".st-key-data_seq_sample_airline button").click()
    idle(page)
    dataset = wait_for(
        lambda: [d for d in store.list_datasets("sequence") if d.name == "sample:airline"],
        timeout=30,
    )[0]
    assert dataset.summary["task"] == "forecast"

    run_id = jobs.submit_run(
        store, dataset.id, "cnn1d", preset="fast", training={"epochs": 3}, name="airline"
    )
    finished = wait_for(lambda: _finished(store, run_id), timeout=180)
    assert finished.status == COMPLETED, finished.error_key
    page.goto(f"{url}/train?lang=en&run={run_id}")
    idle(page)
    assert page.get_by_text("Training finished. Validation MAE:").count() == 1

    page.goto(f"{url}/predict?lang=en&model={run_id}")
    idle(page)
    page.locator(".st-key-predict_sample_button button").click()
    chart = page.locator(".st-key-predict_forecast")
    chart.locator(".legend").wait_for(timeout=180_000)
    idle(page)
    assert chart.get_by_text(EN("ui.chart.history"), exact=True).count() == 1
    assert chart.get_by_text(EN("ui.chart.forecast"), exact=True).count() == 1

    page.locator(".st-key-predict_holdout label").click()
    chart.get_by_text(EN("ui.chart.actual"), exact=True).wait_for(timeout=120_000)
    idle(page)
    shot(page, "sequence-forecast")


def test_gbk_headers_in_chinese(studio, page: Page) -> None:
    url, _ = studio
    zh = i18n.Translator("zh-CN")
    page.goto(f"{url}/?lang=zh-CN")
    idle(page)
    _upload_csv(page, zh, CASES / "B43_gbk.csv")

    assert page.get_by_text("GB18030").count() >= 1
    assert page.get_by_text("特征：温度(℃), 压力(kPa)").count() == 1
    order = page.get_by_role("combobox", name=zh("sequences.spec.order_column.label"))
    assert order.input_value() == "时间"
    assert page.get_by_text("未使用的列：备注").count() == 1
    shot(page, "sequence-gbk-zh-CN")


def test_uploader_texts_in_chinese(studio, page: Page) -> None:
    url, _ = studio
    zh = i18n.Translator("zh-CN")
    page.goto(f"{url}/?lang=zh-CN")
    idle(page)
    page.get_by_role("tab", name=zh("ui.data.tab.csv")).click()
    uploader = page.locator('[data-testid="stFileUploader"]').filter(
        has_text=zh("ui.data.csv_label")
    )

    button = uploader.locator('[data-testid="stFileUploaderDropzone"] button p')
    limit = uploader.locator('[data-testid="stFileUploaderDropzoneInstructions"] span')
    shown = "e => getComputedStyle(e, '::after').content"
    assert button.evaluate(shown) == '"上传"'
    assert limit.evaluate(shown) == '"每个文件最大 1 GB"'
    assert button.evaluate("e => getComputedStyle(e).fontSize") == "0px"

"""Take the screenshots in docs/screenshots/ of every page, in both languages.

Starts the real studio on a free 127.0.0.1 port with a temporary data folder, adds
the digits sample and a zip with problems, trains the default CNN, and photographs
each page in English and Simplified Chinese with headless Chromium. For sequences
it adds the GunPoint and airline samples and trains a 1-D CNN on each. The pictures
show a GunPoint upload under inspection, a GunPoint run in progress, the prediction
table of GunPoint_TEST.csv, and the airline forecast beside the held-out last year.
Then the evaluation of the digits run and of the GunPoint run on GunPoint_TEST.csv,
a batch prediction of a zip of digits, the demo page with and without presentation
mode, and the glossary.
Chinese text needs a CJK font (Debian: fonts-wqy-microhei).

Usage: python scripts/screenshots.py [output folder]
"""

from __future__ import annotations

import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from bigmodel import i18n, jobs  # noqa: E402
from bigmodel.config import Home  # noqa: E402
from bigmodel.image_datasets import ingest_zip  # noqa: E402
from bigmodel.samples import load_image_sample, load_sequence_sample  # noqa: E402
from bigmodel.store import RunStore  # noqa: E402
from tests.studio_server import CHROMIUM, CHROMIUM_ARGS, IDLE, running_studio  # noqa: E402

LANGUAGES = ("en", "zh-CN")
DIGIT = ROOT / "assets" / "digits" / "3" / "0003.png"
PROBLEM_ZIP = ROOT / "tests" / "cases" / "B42_zip_slip.zip"
SEQUENCES = ROOT / "assets" / "sequences"
SEQUENCE_TABLE = '[data-testid="stDownloadButton"]'
"""Selector that appears once the predict page shows a sequence prediction table."""


def shoot(
    page: Page,
    url: str,
    name: str,
    output: Path,
    upload: Path | None = None,
    height: int = 1000,
    prepare: Callable[[Page], None] | None = None,
    ready: str = '[data-testid="stProgress"]',
) -> None:
    """Open `url`, optionally drop `upload` on the first uploader or run `prepare`, and
    save a screenshot once `ready` is on the page and the script run has finished."""
    page.set_viewport_size({"width": 1400, "height": height})
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    if prepare is not None:
        prepare(page)
    if upload is not None:
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
        page.wait_for_selector(ready, timeout=180_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    time.sleep(1.5)  # plotly finishes its transition after the script run
    page.screenshot(path=str(output / f"{name}.png"), full_page=True)
    print(f"wrote {name}.png")


def inspect_upload(language: str, path: Path) -> Callable[[Page], None]:
    """Return a step that drops `path` on the CSV tab of the data page and waits for the report."""
    t = i18n.Translator(language)

    def prepare(page: Page) -> None:
        page.get_by_role("tab", name=t("ui.data.tab.csv")).click()
        uploader = page.locator('[data-testid="stFileUploader"]').filter(
            has_text=t("ui.data.csv_label")
        )
        uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        page.get_by_text(t("ui.data.seq_understood")).wait_for(timeout=60_000)

    return prepare


def forecast_held_out(page: Page) -> None:
    """Predict the sample's file with its last values held out, and wait for the chart."""
    page.locator(".st-key-predict_sample_button button").click()
    page.wait_for_selector(".st-key-predict_forecast .legend", timeout=180_000)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.locator(".st-key-predict_holdout label").click()
    page.wait_for_selector(IDLE, timeout=60_000)
    page.wait_for_function(
        "document.querySelectorAll('.st-key-predict_forecast .legend .traces').length >= 3",
        timeout=120_000,
    )


def wait_for_text(language: str, key: str) -> Callable[[Page], None]:
    """Return a step that waits until the catalog text `key` shows on the page."""
    text = i18n.Translator(language)(key)

    def prepare(page: Page) -> None:
        page.get_by_text(text).first.wait_for(timeout=300_000)

    return prepare


def evaluate_test_file(language: str, path: Path) -> Callable[[Page], None]:
    """Return a step that evaluates on an uploaded test file and waits for the importance plot."""
    t = i18n.Translator(language)

    def prepare(page: Page) -> None:
        page.get_by_text(t("ui.evaluate.source_test")).click()
        page.wait_for_selector(IDLE, timeout=60_000)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
        page.get_by_role("button", name=t("ui.evaluate.test_button")).click()
        legend = page.locator(".legendtext", has_text=t("ui.evaluate.chart.importance"))
        legend.first.wait_for(timeout=300_000)

    return prepare


def predict_batch(language: str, archive: Path) -> Callable[[Page], None]:
    """Return a step that switches the predict page to batch mode and drops `archive`."""
    t = i18n.Translator(language)

    def prepare(page: Page) -> None:
        page.get_by_text(t("batch.mode_option.batch")).click()
        page.wait_for_selector(IDLE, timeout=60_000)
        uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text=t("batch.files"))
        uploader.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
            str(archive)
        )
        page.wait_for_selector('[data-testid="stDownloadButton"]', timeout=300_000)

    return prepare


def digits_zip(folder: Path, count: int = 200) -> Path:
    """Write a zip of the first `count` digit images, as a user would upload them."""
    archive = folder / "digits-to-check.zip"
    images = sorted((ROOT / "assets" / "digits").glob("*/*.png"), key=lambda path: path.name)
    images = images[:count]
    with zipfile.ZipFile(archive, "w") as output:
        for image in images:
            output.write(image, image.name)
    return archive


def wait_for_epochs(store: RunStore, run_id: int, epochs: int) -> None:
    while len(store.get_metrics(run_id, kind="epoch")) < epochs:
        time.sleep(0.5)


def main(output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        home = Home(Path(folder)).ensure()
        store = RunStore(home)
        problems = ingest_zip(PROBLEM_ZIP, "B42_zip_slip", store)
        digits = load_image_sample("digits", store)
        gunpoint = load_sequence_sample("gunpoint", store)
        airline = load_sequence_sample("airline", store)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        archive = digits_zip(Path(folder))
        with running_studio(home) as url:
            page.goto(url)  # the first visit starts the worker and the inference service
            page.wait_for_selector(IDLE, timeout=60_000)
            run_id = jobs.submit_run(
                store, digits.id, "cnn", training={"epochs": 30}, name="Digits CNN"
            )
            wait_for_epochs(store, run_id, 4)
            for language in LANGUAGES:
                shoot(
                    page,
                    f"{url}/train?lang={language}&run={run_id}",
                    f"train-running-{language}",
                    output,
                )
            jobs.stop_run(store, run_id)
            jobs.wait_for_run(store, run_id, timeout=120)

            gunpoint_run = jobs.submit_run(
                store, gunpoint.id, "cnn1d", training={"epochs": 60}, name="GunPoint FCN"
            )
            wait_for_epochs(store, gunpoint_run, 6)
            for language in LANGUAGES:
                shoot(
                    page,
                    f"{url}/train?lang={language}&run={gunpoint_run}",
                    f"sequence-train-running-{language}",
                    output,
                )
            jobs.wait_for_run(store, gunpoint_run, timeout=900)
            airline_run = jobs.submit_run(
                store, airline.id, "cnn1d", preset="fast", training={"epochs": 150}, name="Airline"
            )
            jobs.wait_for_run(store, airline_run, timeout=900)

            for language in LANGUAGES:
                query = f"lang={language}"
                data_url = f"{url}/?{query}&dataset="
                shoot(page, data_url + digits.id, f"data-{language}", output, height=2400)
                shoot(page, data_url + problems.id, f"data-skipped-{language}", output, height=2000)
                shoot(
                    page,
                    f"{url}/?{query}",
                    f"sequence-data-{language}",
                    output,
                    height=3400,
                    prepare=inspect_upload(language, SEQUENCES / "GunPoint_TRAIN.csv"),
                )
                shoot(
                    page,
                    f"{url}/train?{query}&run={run_id}&dataset={digits.id}",
                    f"train-finished-{language}",
                    output,
                    height=2200,
                )
                shoot(
                    page,
                    f"{url}/predict?{query}&model={run_id}",
                    f"predict-{language}",
                    output,
                    upload=DIGIT,
                )
                shoot(
                    page,
                    f"{url}/predict?{query}&model={gunpoint_run}",
                    f"sequence-predict-{language}",
                    output,
                    upload=SEQUENCES / "GunPoint_TEST.csv",
                    ready=SEQUENCE_TABLE,
                    height=1200,
                )
                shoot(
                    page,
                    f"{url}/predict?{query}&model={airline_run}",
                    f"sequence-forecast-{language}",
                    output,
                    height=1500,
                    prepare=forecast_held_out,
                )
                shoot(page, f"{url}/models?{query}", f"models-{language}", output)
                shoot_results(page, url, language, output, run_id, gunpoint_run, archive)
        browser.close()


def shoot_results(
    page: Page,
    url: str,
    language: str,
    output: Path,
    digits_run: int,
    gunpoint_run: int,
    archive: Path,
) -> None:
    """Photograph the pages that show a trained model: evaluate, batch predict, demo, glossary."""
    query = f"lang={language}"
    shoot(
        page,
        f"{url}/evaluate?{query}&model={digits_run}",
        f"evaluate-{language}",
        output,
        height=3000,
        prepare=wait_for_text(language, "ui.evaluate.grad_cam_caption"),
    )
    shoot(
        page,
        f"{url}/evaluate?{query}&model={gunpoint_run}",
        f"evaluate-sequence-{language}",
        output,
        height=3000,
        prepare=evaluate_test_file(language, SEQUENCES / "GunPoint_TEST.csv"),
    )
    shoot(
        page,
        f"{url}/predict?{query}&model={digits_run}",
        f"predict-batch-{language}",
        output,
        height=1400,
        prepare=predict_batch(language, archive),
    )
    demo = f"{url}/demo?{query}&model={digits_run}"
    shoot(page, demo, f"demo-{language}", output, height=1800)
    shoot(page, f"{demo}&present=1", f"demo-present-{language}", output, height=1800)
    shoot(page, f"{url}/glossary?{query}", f"glossary-{language}", output, height=1600)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")

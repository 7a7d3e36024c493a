"""Take the screenshots in docs/screenshots/ of every page, in both languages.

Starts the real studio on a free 127.0.0.1 port with a temporary data folder, adds
the digits sample and a zip with problems, trains the default CNN, and photographs
each page in English and Simplified Chinese with headless Chromium. Chinese text
needs a CJK font (Debian: fonts-wqy-microhei).

Usage: python scripts/screenshots.py [output folder]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from bigmodel import jobs  # noqa: E402
from bigmodel.config import Home  # noqa: E402
from bigmodel.image_datasets import ingest_zip  # noqa: E402
from bigmodel.samples import load_image_sample  # noqa: E402
from bigmodel.store import RunStore  # noqa: E402
from tests.studio_server import CHROMIUM, CHROMIUM_ARGS, IDLE, running_studio  # noqa: E402

LANGUAGES = ("en", "zh-CN")
DIGIT = ROOT / "assets" / "digits" / "3" / "0003.png"
PROBLEM_ZIP = ROOT / "tests" / "cases" / "B42_zip_slip.zip"


def shoot(
    page: Page, url: str, name: str, output: Path, upload: Path | None = None, height: int = 1000
) -> None:
    page.set_viewport_size({"width": 1400, "height": height})
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    if upload is not None:
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(upload))
        page.wait_for_selector('[data-testid="stProgress"]', timeout=120_000)
        page.wait_for_selector(IDLE, timeout=60_000)
    time.sleep(1.5)  # plotly finishes its transition after the script run
    page.screenshot(path=str(output / f"{name}.png"), full_page=True)
    print(f"wrote {name}.png")


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
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

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

            for language in LANGUAGES:
                query = f"lang={language}"
                data_url = f"{url}/?{query}&dataset="
                shoot(page, data_url + digits.id, f"data-{language}", output, height=2400)
                shoot(page, data_url + problems.id, f"data-skipped-{language}", output, height=2000)
                shoot(
                    page, f"{url}/train?{query}&run={run_id}", f"train-finished-{language}", output
                )
                shoot(page, f"{url}/predict?{query}", f"predict-{language}", output, upload=DIGIT)
                shoot(page, f"{url}/models?{query}", f"models-{language}", output)
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots")

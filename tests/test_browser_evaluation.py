"""The evaluate page in a real headless Chromium against a running studio.

A CNN trained on the digits sample is evaluated on its validation split, in English
and in Chinese: the confusion matrix, the per-class table, the mistakes gallery with
Grad-CAM overlays, and a click on a cell of the matrix. An attention model trained on
GunPoint is evaluated on GunPoint_TEST.csv uploaded as a test set, with the importance
of each step. The models train in this process, so that the test waits for the
evaluation, not for the worker. Set BIGMODEL_SCREENSHOTS to a folder to keep
screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from bigmodel import i18n, jobs
from bigmodel.config import Home
from bigmodel.samples import load_image_sample, load_sequence_sample
from bigmodel.store import COMPLETED, RunStore
from bigmodel.training import execute_run
from tests.studio_server import chromium, idle, running_studio, shot

pytestmark = pytest.mark.browser
SEQUENCES = Path(__file__).resolve().parent.parent / "assets" / "sequences"
PLOT = '[data-testid="stPlotlyChart"]'


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, RunStore]]:
    """Serve one studio, with its prediction service, for every test here."""
    home = Home(tmp_path_factory.mktemp("studio") / "home").ensure()
    with running_studio(home) as url:
        yield url, RunStore(home)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    # Tall enough that a screenshot shows the matrix, the table and the gallery.
    page = browser.new_page(viewport={"width": 1400, "height": 3000})
    yield page
    page.close()


def train(store: RunStore, dataset_id: str, family: str, model: dict, training: dict) -> int:
    run_id = jobs.submit_run(
        store, dataset_id, family, preset="fast", model=model, training=training
    )
    assert store.start_run(run_id, worker_pid=0)
    run = execute_run(store, store.get_run(run_id))
    assert run.status == COMPLETED, run.traceback
    return run_id


def chart_titled(page: Page, title: str):
    return page.locator(PLOT).filter(has=page.locator(".gtitle", has_text=title))


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_digits_evaluation(studio, page, language):
    url, store = studio
    t = i18n.Translator(language)
    dataset = load_image_sample("digits", store)
    # The first language trains the model, and the second evaluates it again.
    trained = [run.id for run in store.list_runs() if run.dataset_id == dataset.id]
    run_id = trained[0] if trained else train(store, dataset.id, "cnn", {}, {"epochs": 2})

    page.goto(f"{url}/evaluate?lang={language}&model={run_id}")
    chart_titled(page, t("ui.evaluate.chart.confusion")).wait_for(timeout=240_000)
    page.get_by_text(t("ui.evaluate.grad_cam_caption")).first.wait_for(timeout=120_000)
    idle(page)

    assert page.get_by_role("heading", name=t("ui.evaluate.title")).count() == 1
    assert page.get_by_role("heading", name=t("ui.evaluate.per_class")).count() == 1
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    assert page.get_by_role("heading", name=t("ui.evaluate.gallery_mistakes")).count() == 1
    matrix = chart_titled(page, t("ui.evaluate.chart.confusion"))
    assert matrix.locator(".heatmaplayer").count() == 1
    assert page.get_by_text(t("ui.evaluate.mark")).count() >= 1
    shot(page, f"evaluate-{language}")

    # A click on a cell of the matrix shows that cell's examples.
    # Plotly's drag layer lies over the points and receives the click, as for a user.
    box = matrix.locator(".scatterlayer .point").first.bounding_box()
    assert box is not None
    centre = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.move(*centre)
    page.mouse.click(*centre)
    cell = t("ui.evaluate.gallery_cell", true_class="0", predicted_class="0")
    page.get_by_role("heading", name=cell).wait_for(timeout=60_000)
    idle(page)


def test_gunpoint_test_set_evaluation(studio, page):
    url, store = studio
    t = i18n.Translator("en")
    dataset = load_sequence_sample("gunpoint", store)
    run_id = train(
        store,
        dataset.id,
        "attention",
        {"embed_dim": 16, "ff_dim": 32},
        {"epochs": 8, "batch_size": 16, "patience": 0},
    )

    page.goto(f"{url}/evaluate?lang=en&model={run_id}")
    idle(page, timeout=240_000)
    page.get_by_text(t("ui.evaluate.source_test")).click()
    idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        str(SEQUENCES / "GunPoint_TEST.csv")
    )
    page.get_by_role("button", name=t("ui.evaluate.test_button")).click()
    chart_titled(page, t("ui.evaluate.chart.confusion")).wait_for(timeout=240_000)
    legend = page.locator(f"{PLOT} .legendtext", has_text=t("ui.evaluate.chart.importance"))
    legend.first.wait_for(timeout=120_000)
    idle(page)

    assert page.get_by_text("150", exact=True).count() >= 1
    attention = page.locator(f"{PLOT} .legendtext", has_text=t("ui.evaluate.chart.attention"))
    assert attention.count() >= 1
    assert page.get_by_role("heading", name=t("ui.evaluate.gallery_mistakes")).count() == 1
    shot(page, "evaluate-sequence-en")

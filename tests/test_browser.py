"""The sample path in a real headless Chromium against a running studio.

Sample digits, train two epochs with a live chart, refresh during training, predict a
digit image. Set BIGMODEL_SCREENSHOTS to a folder to keep screenshots of each step.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bigmodel import i18n, inference_client, services, views
from bigmodel.store import COMPLETED, RunStore
from tests.studio_server import chart_points, chromium, idle, running_studio, shot, wait_for

pytestmark = pytest.mark.browser
DIGIT = Path(__file__).resolve().parent.parent / "assets" / "digits" / "3" / "0003.png"


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def test_sample_path_train_and_predict(browser, home):
    t = i18n.Translator("en")
    store = RunStore(home)
    with running_studio(home) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        page.goto(f"{url}/?lang=en")
        idle(page)
        page.get_by_role("button", name=t("ui.data.sample_button")).click()
        page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=60_000)
        idle(page)
        shot(page, "data")
        dataset = store.list_datasets("image")[0]
        assert dataset.summary["num_images"] == 1797

        page.goto(f"{url}/train?lang=en&dataset={dataset.id}")
        idle(page)
        page.get_by_role("spinbutton", name=t("settings.epochs.label")).fill("2")
        page.get_by_role("button", name=t("ui.train.start")).click()
        idle(page)

        run = wait_for(lambda: (store.list_runs() or [None])[0], timeout=30)
        wait_for(lambda: store.get_metrics(run.id), timeout=120)
        page.reload()
        idle(page)
        assert page.get_by_text(re.compile(rf"#{run.id}\b")).count() > 0
        wait_for(lambda: chart_points(page) > 0, timeout=120)
        shot(page, "train-running")

        finished = wait_for(
            lambda: store.get_run(run.id) if not store.get_run(run.id).is_active else None,
            timeout=300,
        )
        assert finished.status == COMPLETED, finished.error_key
        assert finished.results["epochs_trained"] == 2
        page.get_by_text(re.compile("Training finished")).wait_for(timeout=30_000)
        assert chart_points(page) >= 2
        shot(page, "train-finished")

        page.goto(f"{url}/predict?lang=en")
        idle(page)
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(DIGIT))
        expected = inference_client.predict_images(home, run.id, [(DIGIT.name, DIGIT.read_bytes())])
        top_label, top_probability = expected[0].top[0]
        result = page.get_by_text(re.compile(rf"^{re.escape(top_label)} · "))
        result.first.wait_for(timeout=120_000)
        idle(page)
        shot(page, "predict")
        assert services.is_running(home, services.INFERENCE)
        assert result.first.inner_text() == f"{top_label} · {views.format_percent(top_probability)}"


def test_page_url_first_visit_runs_app(browser, home):
    t = i18n.Translator("en")
    with running_studio(home) as url:
        page = browser.new_page()
        page.goto(f"{url}/train?lang=en")
        idle(page)

        sidebar = page.locator('[data-testid="stSidebar"]')
        assert sidebar.get_by_text(t("ui.app.language")).count() == 1
        assert sidebar.get_by_text(t("ui.nav.predict")).count() == 1
        assert page.get_by_role("heading", name=t("ui.train.title")).count() == 1
        wait_for(lambda: services.is_running(home, services.WORKER), timeout=30)

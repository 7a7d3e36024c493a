"""Reports and the demo page of real trained models, in a headless Chromium.

A digits CNN and a GunPoint 1-D CNN train for two epochs in this process. The report
command writes their reports in both languages, and Chromium opens each file with
every request that is not `file:` or `data:` aborted, so a chart that needs the
network stays empty. The demo page then runs against the real studio and inference
service. Set BIGMODEL_SCREENSHOTS to a folder to keep screenshots.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Route

from bigmodel import cli, evaluation, i18n, inference_client, jobs, showcase, views
from bigmodel.config import Home
from bigmodel.samples import load_image_sample, load_sequence_sample
from bigmodel.store import COMPLETED, RunStore
from bigmodel.training import execute_run
from tests.studio_server import chromium, idle, running_studio, shot

pytestmark = pytest.mark.browser
DIGIT = Path(__file__).resolve().parent.parent / "assets" / "digits" / "3" / "0003.png"
TRAINING = {"epochs": 2, "patience": 0}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunStore, dict[str, int]]:
    """Train a digits and a GunPoint model in a fresh data folder; return the run ids."""
    store = RunStore(Home(tmp_path_factory.mktemp("report") / "home").ensure())
    digits = load_image_sample("digits", store)
    gunpoint = load_sequence_sample("gunpoint", store)
    runs = {}
    for name, dataset_id, family in (
        ("digits", digits.id, "cnn"),
        ("gunpoint", gunpoint.id, "cnn1d"),
    ):
        run_id = jobs.submit_run(store, dataset_id, family, preset="fast", training=TRAINING)
        assert store.start_run(run_id, worker_pid=0)
        run = execute_run(store, store.get_run(run_id))
        assert run.status == COMPLETED, run.traceback
        runs[name] = run_id
    return store, runs


def _only_local(blocked: list[str]):
    def handle(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    return handle


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("sample", ["digits", "gunpoint"])
def test_report_renders_offline(
    browser: Browser, trained, sample: str, language: str, tmp_path: Path, monkeypatch
) -> None:
    store, runs = trained
    run_id = runs[sample]
    monkeypatch.setenv("BIGMODEL_HOME", str(store.home.root))
    output = tmp_path / f"{sample}-{language}.html"

    assert cli.main(["report", str(run_id), "--output", str(output), "--lang", language]) == 0

    t = i18n.Translator(language)
    data = evaluation.load_evaluation(store, run_id)
    assert data is not None
    headline = showcase.headline(data, evaluation.summarize(data), t)
    blocked: list[str] = []
    errors: list[str] = []
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    context.route("**/*", _only_local(blocked))
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(output.as_uri())

    charts = page.locator('div[id^="chart-"]')
    page.wait_for_function(
        "() => [...document.querySelectorAll('div[id^=chart-]')]"
        ".every(div => div.querySelector('svg.main-svg'))",
        timeout=60_000,
    )
    assert charts.count() >= 3
    assert page.locator("svg.main-svg").count() >= charts.count()
    assert page.locator(".scatterlayer .trace, .heatmaplayer image, .barlayer .point").count() > 0
    assert page.get_by_text(headline).count() == 1
    assert page.locator("html").get_attribute("lang") == language
    assert blocked == []
    assert errors == []
    shot(page, f"report-{sample}-{language}")
    context.close()


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_demo_page_with_real_model(browser: Browser, trained, language: str) -> None:
    store, runs = trained
    run_id = runs["digits"]
    t = i18n.Translator(language)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    with running_studio(store.home) as url:
        page.goto(f"{url}/demo?lang={language}&model={run_id}")
        idle(page, timeout=180_000)
        page.get_by_text(t("demo.best")).wait_for(timeout=180_000)
        data = evaluation.load_evaluation(store, run_id)
        assert data is not None
        headline = showcase.headline(data, evaluation.summarize(data), t)
        assert page.get_by_role("heading", name=headline).count() == 1
        heatmap = page.locator('[data-testid="stPlotlyChart"] .heatmaplayer')
        heatmap.first.wait_for(state="attached", timeout=30_000)
        assert heatmap.count() == 1

        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(DIGIT))
        [expected] = inference_client.predict_images(
            store.home, run_id, [(DIGIT.name, DIGIT.read_bytes())]
        )
        label, probability = expected.top[0]
        answer = t("demo.try_answer", label=label, confidence=views.format_percent(probability))
        page.get_by_role("heading", name=answer).wait_for(timeout=120_000)
        idle(page)
        shot(page, f"demo-{language}")

        page.goto(f"{url}/demo?lang={language}&model={run_id}&present=1")
        idle(page, timeout=120_000)
        page.get_by_text(t("demo.best")).wait_for(timeout=60_000)
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        assert page.get_by_role("button", name=t("demo.leave_present")).count() == 1
        shot(page, f"demo-present-{language}")

        page.goto(f"{url}/glossary?lang={language}")
        idle(page)
        assert page.get_by_role("heading", name=t("glossary.page.title")).count() == 1
        shot(page, f"glossary-{language}")
    page.close()

"""Two users train at once in a real headless Chromium, and a third watches the run list.

The worker has two slots (`BIGMODEL_WORKERS=2`), so both runs train at the same time.
Each user's page must show only that user's run: its heading, and a chart whose
points grow and whose values are that run's metrics, which differ from the other
run's because the batch sizes differ. A third browser context sees both runs with
their status on the models page.
"""

from __future__ import annotations

import math

import pytest
from playwright.sync_api import Browser, Page

from bigmodel import i18n, views
from bigmodel.image_datasets import ingest_folder
from bigmodel.store import COMPLETED, RUNNING, Run, RunStore
from tests.image_factory import make_color_folders
from tests.studio_server import chart_points, chromium, idle, running_studio, wait_for

pytestmark = pytest.mark.browser
T = i18n.Translator("en")
USERS = {"alpha": 4, "beta": 8}
"""Run name of each user, and the batch size it trains with."""
EPOCHS = 4

CHART_DATA = """() => Array.from(
    document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot'),
    (plot) => plot.data.map((trace) => ({name: trace.name, x: trace.x, y: trace.y})),
)"""


@pytest.fixture
def browser():
    with chromium() as browser:
        yield browser


def fill_run_form(page: Page, url: str, dataset_id: str, name: str, batch_size: int) -> None:
    page.goto(f"{url}/train?lang=en&dataset={dataset_id}")
    idle(page)
    page.get_by_role("spinbutton", name=T("settings.input_size.label")).fill("16")
    page.get_by_role("spinbutton", name=T("settings.batch_size.label")).fill(str(batch_size))
    page.get_by_role("spinbutton", name=T("settings.epochs.label")).fill(str(EPOCHS))
    page.get_by_label(T("ui.train.run_name")).fill(name)


def training_losses(page: Page) -> list[float]:
    """Return the training loss of each epoch as the page's chart draws it (its first trace).

    Returns an empty list while the page does not show exactly one chart.
    """
    plots = page.evaluate(CHART_DATA)
    if len(plots) != 1 or plots[0][0]["name"] != T("ui.chart.training"):
        return []
    return [float(value) for value in plots[0][0]["y"]]


def same_values(drawn: list[float], stored: list[float]) -> bool:
    return len(drawn) == len(stored) and all(
        math.isclose(a, b, rel_tol=1e-6) for a, b in zip(drawn, stored, strict=True)
    )


def run_heading(page: Page, run_id: int, name: str) -> int:
    heading = T("ui.train.run_heading", id=run_id, name=name)
    return page.get_by_role("heading", name=heading).count()


def runs_by_name(store: RunStore) -> dict[str, Run]:
    """Return the users' runs by name once both are in the store, else an empty dict."""
    runs = {run.name: run for run in store.list_runs()}
    return runs if runs.keys() >= USERS.keys() else {}


def listed_status(page: Page, run_id: int, name: str) -> str:
    """Return the status that the models page lists for a run, or '' if it lists none."""
    for status in (RUNNING, COMPLETED):
        label = T("ui.models.details", id=run_id, name=name, status=views.status_label(status, T))
        if page.get_by_text(label, exact=True).count() == 1:
            return status
    return ""


def finished_run(store: RunStore, run_id: int) -> Run | None:
    run = store.get_run(run_id)
    return None if run.is_active else run


def test_two_users_see_only_their_own_runs(
    browser: Browser, home, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BIGMODEL_WORKERS", "2")
    store = RunStore(home)
    folder = make_color_folders(tmp_path / "colors", per_class=60)
    dataset = ingest_folder(folder, "colors", store)

    with running_studio(home) as url:
        pages = {name: browser.new_context().new_page() for name in USERS}
        for name, page in pages.items():
            fill_run_form(page, url, dataset.id, name, USERS[name])
        for page in pages.values():
            page.get_by_role("button", name=T("ui.train.start")).click()
        runs = wait_for(lambda: runs_by_name(store), timeout=60)
        ids = {name: runs[name].id for name in USERS}
        assert runs["alpha"].settings["training"]["batch_size"] == USERS["alpha"]
        assert runs["beta"].settings["training"]["batch_size"] == USERS["beta"]

        # Each user's page shows its own run, and not the other's.
        points_at_start = {}
        for name, page in pages.items():
            other = next(other for other in USERS if other != name)
            wait_for(lambda page=page, name=name: run_heading(page, ids[name], name), 60)
            assert run_heading(page, ids[other], other) == 0
            points_at_start[name] = chart_points(page)

        # Both train at once, and a third user sees both in the run list.
        wait_for(lambda: all(store.get_run(i).status == RUNNING for i in ids.values()), 120)
        watcher = browser.new_context().new_page()
        watcher.goto(f"{url}/models?lang=en")
        idle(watcher)
        for name, run_id in ids.items():
            assert listed_status(watcher, run_id, name) in (RUNNING, COMPLETED), name

        # Each chart grows without a reload.
        for name, page in pages.items():
            start = points_at_start[name]
            wait_for(lambda page=page, start=start: chart_points(page) > start, timeout=120)

        finished = {
            name: wait_for(lambda i=i: finished_run(store, i), 300) for name, i in ids.items()
        }
        for name, run in finished.items():
            assert run.status == COMPLETED, (name, run.error_key)
        alpha, beta = finished["alpha"], finished["beta"]
        assert alpha.started_at < beta.finished_at
        assert beta.started_at < alpha.finished_at

        # The finished charts show each run's own losses, which differ between the runs.
        losses = {
            name: [row.values["loss"] for row in store.get_metrics(run_id, kind="epoch")]
            for name, run_id in ids.items()
        }
        assert len(losses["alpha"]) == EPOCHS
        assert not same_values(losses["alpha"], losses["beta"])
        for name, page in pages.items():
            wait_for(
                lambda page=page, name=name: same_values(training_losses(page), losses[name]), 60
            )
            other = next(other for other in USERS if other != name)
            assert not same_values(training_losses(page), losses[other])
            assert run_heading(page, ids[name], name) == 1

        watcher.reload()
        idle(watcher)
        for name, run_id in ids.items():
            assert listed_status(watcher, run_id, name) == COMPLETED, name

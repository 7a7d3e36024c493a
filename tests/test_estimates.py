"""Cost estimates against real training runs, the safer setting, and the train page's view.

The accuracy test trains two CNNs of substantially different size on the digits
sample, each in a fresh process like a worker child (`bench/estimate_accuracy.py`).
The memory estimate must be within a factor of two of the peak resident memory that
the run added to the process. The epoch-time estimate is compared by the benchmark
only, because a test never asserts a time.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bench.estimate_accuracy import SIZES, train_and_estimate
from bigmodel import estimates, i18n, inference_client, jobs, services
from bigmodel.architectures import get_family
from bigmodel.config import Home
from bigmodel.errors import BigModelError
from bigmodel.estimate_views import CostEstimate
from bigmodel.image_datasets import ingest_folder
from bigmodel.samples import load_image_sample, load_sequence_sample
from bigmodel.sequence_pipeline import prepare_sequences
from bigmodel.settings import from_dict
from bigmodel.store import RunStore
from tests.image_factory import make_color_folders
from tests.processes import ROOT, background

FACTOR = 2.0


def within_factor(estimated: float, measured: float) -> bool:
    return measured / FACTOR <= estimated <= measured * FACTOR


@pytest.fixture
def digits_id(store: RunStore) -> str:
    return load_image_sample("digits", store).id


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_memory_estimates_match_two_real_runs(store: RunStore, digits_id: str) -> None:
    figures = {}
    for name, (model, training) in SIZES.items():
        measured = train_and_estimate(store.home, digits_id, model, training)
        assert measured["status"] == "completed"
        figures[name] = (CostEstimate.from_dict(measured["estimate"]), measured["added_bytes"])

    report = {
        name: {"estimated_MiB": estimate.run_bytes // 2**20, "measured_MiB": added // 2**20}
        for name, (estimate, added) in figures.items()
    }
    small, large = figures["small"][0], figures["large"][0]
    assert large.parameters > 100 * small.parameters
    assert large.run_bytes > 3 * small.run_bytes
    for name, (estimate, added) in figures.items():
        assert within_factor(estimate.run_bytes, added), (name, report[name])


def estimate_large(store: RunStore, dataset_id: str, **training: int) -> CostEstimate:
    """Estimate the large CNN, with `training` changing its training settings."""
    model, defaults = SIZES["large"]
    return estimates.estimate_cost(
        store, dataset_id, "cnn", preset="balanced", model=model, training={**defaults, **training}
    )


def test_safer_setting_fits_the_memory(
    store: RunStore, digits_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = estimate_large(store, digits_id)
    assert full.safer is None
    limit = full.peak_bytes - full.memory["activations"] // 2
    monkeypatch.setattr(estimates, "worker_memory", lambda home: (limit, 3))

    tight = estimate_large(store, digits_id)
    assert not tight.fits
    assert tight.slots == 3
    assert tight.safer == {"training": {"batch_size": 128}}
    assert tight.safer_peak_bytes is not None
    assert tight.safer_peak_bytes <= limit
    safer = estimate_large(store, digits_id, **tight.safer["training"])
    assert safer.fits
    assert safer.parameters == full.parameters


def test_safer_setting_shrinks_input_size(
    store: RunStore, digits_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = estimate_large(store, digits_id)
    without_batch = full.peak_bytes - full.memory["activations"]
    limit = without_batch - full.memory["weights"] // 4
    monkeypatch.setattr(estimates, "worker_memory", lambda home: (limit, 1))

    tight = estimate_large(store, digits_id)
    assert tight.safer is not None
    assert tight.safer["model"] == {"input_size": 16}
    assert tight.safer_peak_bytes is not None
    assert tight.safer_peak_bytes <= limit


def test_estimate_without_room_offers_nothing(
    store: RunStore, digits_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(estimates, "worker_memory", lambda home: (1024**2, 1))

    estimate = estimates.estimate_cost(
        store, digits_id, "cnn", preset="fast", model={"input_size": 16}, training={}
    )

    assert not estimate.fits
    assert estimate.safer is None


def test_service_returns_estimate(store: RunStore, digits_id: str) -> None:
    model, training = SIZES["small"]
    with background(store.home, services.INFERENCE):
        estimate = inference_client.estimate_cost(
            store.home, digits_id, "cnn", "balanced", model, training
        )

    assert estimate.parameters == 5626
    assert estimate.steps_per_epoch == 45
    assert estimate.validation_steps == 12
    assert estimate.epoch_seconds > 0
    assert estimate.memory["optimizer"] == 2 * estimate.memory["gradients"]


def test_service_rejects_invalid_setting(store: RunStore, digits_id: str) -> None:
    with background(store.home, services.INFERENCE), pytest.raises(BigModelError) as raised:
        inference_client.estimate_cost(
            store.home, digits_id, "cnn", "balanced", {}, {"batch_size": 0}
        )

    assert raised.value.key == "errors.setting_range"


# The train page, with the service replaced by a function that returns an estimate.

TOO_LARGE = CostEstimate(
    parameters=4_200_394,
    memory={
        "runtime": 740 * 2**20,
        "weights": 32 * 2**20,
        "gradients": 16 * 2**20,
        "optimizer": 32 * 2**20,
        "activations": 512 * 2**20,
        "input_pipeline": 33 * 2**20,
    },
    process_baseline_bytes=640 * 2**20,
    available_bytes=1024 * 2**20,
    slots=2,
    epoch_seconds=7.5,
    first_epoch_extra_seconds=3.0,
    steps_per_epoch=6,
    validation_steps=2,
    timed_batches=4,
    safer={"training": {"batch_size": 8}},
    safer_peak_bytes=900 * 2**20,
)


@pytest.fixture
def page_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "page-home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    store = RunStore(Home.from_env().ensure())
    ingest_folder(make_color_folders(tmp_path / "colors"), "colors", store)
    return store


def test_page_estimates_and_applies_safer_setting(
    page_home: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def fake_estimate(home, dataset_id, family, preset, model, training):
        calls.append(dict(training))
        if training["batch_size"] > 8:
            return TOO_LARGE
        return dataclasses.replace(TOO_LARGE, safer=None, available_bytes=2**40)

    monkeypatch.setattr(inference_client, "estimate_cost", fake_estimate)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=10)
    app.query_params["lang"] = "en"
    app.run()
    app.switch_page("app_pages/train.py").run()
    assert calls == []

    estimate_button = next(
        button
        for button in app.get("form_submit_button")
        if button.label == i18n.translate("en", "estimates.button")
    )
    estimate_button.click().run()
    assert not app.exception
    assert [call["batch_size"] for call in calls] == [32]
    warnings = [warning.value for warning in app.warning]
    assert any("exceeds the memory of one worker (1.0 GiB" in text for text in warnings)
    metrics = {metric.label: metric.value for metric in app.metric}
    assert metrics[i18n.translate("en", "estimates.parameters")] == "4,200,394"
    assert metrics[i18n.translate("en", "estimates.peak_memory")] == "1.3 GiB"

    app.button(key="train_estimate_safer").click().run()
    assert not app.exception
    assert app.number_input(key="train_training_batch_size").value == 8
    assert [call["batch_size"] for call in calls] == [32, 8]
    assert [success.value for success in app.success] == [i18n.translate("en", "estimates.fits")]

    app.run()
    assert len(calls) == 2


@pytest.mark.browser
def test_browser_shows_estimate_and_warning(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.studio_server import chromium, idle, running_studio

    monkeypatch.setenv(estimates.MEMORY_VARIABLE, "64")  # less than TensorFlow's runtime
    store = RunStore(home)
    dataset = ingest_folder(make_color_folders(tmp_path / "colors"), "colors", store)
    expected = estimates.estimate_cost(store, dataset.id, "cnn", preset="balanced")

    with running_studio(home) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(f"{url}/train?lang=en&dataset={dataset.id}")
        idle(page)
        page.get_by_role("button", name=i18n.translate("en", "estimates.button")).click()
        page.get_by_text(i18n.translate("en", "estimates.heading")).wait_for(timeout=120_000)
        idle(page)

        metrics = page.get_by_test_id("stMetricValue").all_inner_texts()
        warnings = page.get_by_test_id("stAlertContentWarning").all_inner_texts()
        captions = page.get_by_test_id("stCaptionContainer").all_inner_texts()

    assert f"{expected.parameters:,}" in metrics
    assert any("exceeds the memory of one worker" in text for text in warnings)
    assert i18n.translate("en", "estimates.no_safer") in captions


@pytest.mark.parametrize("family_name", ["rnn", "attention", "cnn1d"])
def test_sequence_family_estimate(store: RunStore, family_name: str) -> None:
    dataset = load_sequence_sample("gunpoint", store)
    prepared = prepare_sequences(dataset, validation_split=0.2, seed=42)
    family = get_family(family_name)
    settings = from_dict(family.settings_class, jobs.preset_settings(family_name)["model"])
    model = family.build(settings, prepared.input_spec, len(dataset.class_names))

    estimate = estimates.estimate_cost(store, dataset.id, family_name, preset="balanced")

    batch_size = jobs.preset_settings(family_name)["training"]["batch_size"]
    assert estimate.parameters == model.count_params()
    assert estimate.steps_per_epoch == -(-len(prepared.train_x) // batch_size)
    assert estimate.memory["activations"] > 0
    assert estimate.memory["input_pipeline"] > 0
    assert estimate.epoch_seconds > 0

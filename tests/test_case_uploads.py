"""Every hostile image and archive case, fed through the studio's upload widgets.

The core tests check each outcome on the functions. These check that the pages show
the same outcome to the user: accepted files become classes, skipped files are
listed with their reason, rejected uploads show a message and store nothing.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bigmodel import i18n, jobs, services
from bigmodel.config import Home
from bigmodel.image_datasets import ingest_zip
from bigmodel.store import COMPLETED, RunStore
from bigmodel.training import execute_run
from tests.image_factory import png_bytes
from tests.processes import background

ROOT = Path(__file__).resolve().parent.parent
CASES = Path(__file__).resolve().parent / "cases"
IMAGE_CASES = sorted(
    path.name
    for path in CASES.iterdir()
    if path.suffix.lower() in {".png", ".jpg", ".gif", ".webp"}
)
UNREADABLE = {
    "B30_truncated.jpg": "errors.image_damaged",
    "B30_zero_bytes.jpg": "errors.image_empty",
    "B35_huge_16000x12000.png": "errors.image_too_many_pixels",
}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    return RunStore(Home.from_env().ensure())


def start_app(page: str | None = None) -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    app.query_params["lang"] = "en"
    app.run()
    if page is not None:
        app.switch_page(page).run()
    return app


def upload_zip(app: AppTest, name: str) -> AppTest:
    app.file_uploader(key="data_zip").set_value(
        (name, (CASES / name).read_bytes(), "application/zip")
    ).run()
    return app.button(key="data_zip_add").click().run()


def shown_tables(app: AppTest) -> list[pd.DataFrame]:
    return [table.value for table in app.table] + [frame.value for frame in app.dataframe]


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("B36_macos_zip.zip", ["cat", "dog"]),
        ("B37_gbk_names.zip", ["不合格", "合格"]),
        ("B39_wrapped_toplevel.zip", ["cat", "dog"]),
        ("B42_zip_slip.zip", ["cat", "dog"]),
        ("B56_redblue.zip", ["blue", "red"]),
    ],
)
def test_archive_case_is_accepted(store: RunStore, name: str, classes: list[str]) -> None:
    app = upload_zip(start_app(), name)

    assert not app.exception
    assert not app.error
    [record] = store.list_datasets()
    assert record.summary["classes"] == classes
    assert int(app.metric[1].value) == len(classes)


def test_escaping_members_are_listed_with_reasons(store: RunStore, tmp_path: Path) -> None:
    app = upload_zip(start_app(), "B42_zip_slip.zip")

    [record] = store.list_datasets()
    assert record.summary["num_images"] == 4
    skipped = pd.concat(shown_tables(app))
    files = set(skipped.iloc[:, 0])
    assert {"../../B42_outside_dotdot.txt", "/tmp/B42_absolute.txt", "cat/link_to_etc"} <= files
    assert all(reason.strip() for reason in skipped.iloc[:, 1])
    assert not (tmp_path / "B42_outside_dotdot.txt").exists()
    assert not Path("/tmp/B42_absolute.txt").exists()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("B21_zip_expands_300MB.zip", "BIGMODEL_MAX_MEMBER_BYTES"),
        ("B40_single_class.zip", "At least two classes are needed"),
    ],
)
def test_archive_case_is_rejected(store: RunStore, name: str, expected: str) -> None:
    app = upload_zip(start_app(), name)

    assert not app.exception
    assert len(app.error) == 1
    assert expected in app.error[0].value
    assert store.list_datasets() == []
    assert not any(store.home.datasets.iterdir())


def test_image_cases_become_one_dataset(store: RunStore) -> None:
    app = start_app()
    batches = [
        ("cases", [(name, (CASES / name).read_bytes(), "image/png") for name in IMAGE_CASES]),
        ("plain", [(f"plain{i}.png", png_bytes((20 * i, 90, 90)), "image/png") for i in range(3)]),
    ]
    for class_name, files in batches:
        uploader = next(u for u in app.file_uploader if u.key.startswith("data_files_"))
        uploader.set_value(files).run()
        app.text_input(key="data_class").set_value(class_name).run()
        app.button(key="data_add_batch").click().run()
    app.button(key="data_create").click().run()

    assert not app.exception
    assert not app.error
    [record] = store.list_datasets()
    assert record.summary["counts"] == {"cases": len(IMAGE_CASES) - len(UNREADABLE), "plain": 3}
    notices = pd.concat(shown_tables(app))
    by_file = dict(zip(notices.iloc[:, 0], notices.iloc[:, 1], strict=True))
    for name, key in UNREADABLE.items():
        assert by_file[name] == i18n.translate("en", key, **_params_of(store, record.id, name))
    assert "B22_rgba_transparent.png" in by_file


def _params_of(store: RunStore, dataset_id: str, source: str) -> dict:
    from bigmodel.image_datasets import load_image_dataset

    dataset = load_image_dataset(dataset_id, store)
    notice = next(n for n in dataset.skipped if n.source == source)
    return {**notice.params, "source": notice.source}


@pytest.fixture
def redblue_run(store: RunStore):
    dataset = ingest_zip(CASES / "B56_redblue.zip", "redblue", store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn",
        preset="fast",
        model={"input_size": 16, "filters": 8, "dense_units": 16},
        training={"epochs": 4, "batch_size": 8},
    )
    store.start_run(run_id, worker_pid=0)
    run = execute_run(store, store.get_run(run_id))
    assert run.status == COMPLETED, run.traceback
    return run


def test_image_cases_on_predict_page(store: RunStore, redblue_run) -> None:
    files = [(name, (CASES / name).read_bytes(), "image/png") for name in IMAGE_CASES]

    with background(store.home, services.INFERENCE):
        app = start_app("app_pages/predict.py")
        app.file_uploader(key="predict_files").set_value(files).run(timeout=120)

    assert not app.exception
    errors = [element.value for element in app.error]
    assert len(errors) == len(UNREADABLE)
    for name in UNREADABLE:
        assert any(name in message for message in errors)
    assert any("B35" in message and "50,000,000" in message for message in errors)
    assert "40 × 80" in " ".join(caption.value for caption in app.caption)
    bars = [bar.proto.text for bar in app.get("progress")]
    assert len(bars) == 2 * (len(IMAGE_CASES) - len(UNREADABLE))
    warnings = " ".join(element.value for element in app.warning)
    assert "B22_rgba_transparent.png" in warnings
    probe = IMAGE_CASES.index("B56_probe_red.png") - sum(
        1 for name in UNREADABLE if IMAGE_CASES.index(name) < IMAGE_CASES.index("B56_probe_red.png")
    )
    assert bars[2 * probe].startswith("red · ")

"""The HTML report from a cached evaluation, and its download on the train page.

The browser test (`test_browser_report.py`) opens real reports of trained models.
"""

from __future__ import annotations

import re

import pytest
from test_demo import image_evaluation, save_as_service, store  # noqa: F401
from test_pages import populate_store, start_app

from bigmodel import i18n, report
from bigmodel.store import RunStore


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_report_is_one_offline_page(store: RunStore, language: str) -> None:  # noqa: F811
    ids = populate_store(store)
    data = image_evaluation(store, ids)
    t = i18n.Translator(language)

    document = report.build_report(store, int(ids["completed"]), language, data)

    assert document.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}">' in document
    head, body = document.split("</head>")
    assert "<script src" not in head
    assert body.count('<div id="chart-') == 3  # class counts, training curves, confusion matrix
    assert re.search(r"""(src|href)=["']?https?:""", body) is None
    assert body.count('src="data:image/png;base64,') == 8
    assert t("report.title", id=ids["completed"], name="colours first try") in document
    assert t("report.section.limits") in document
    assert t("glossary.setting.epochs") in document


def test_report_escapes_names(store: RunStore) -> None:  # noqa: F811
    ids = populate_store(store)
    store.update_run(int(ids["completed"]), name="<b>bold</b> & co")
    data = image_evaluation(store, ids)

    document = report.build_report(store, int(ids["completed"]), "en", data)

    assert "<b>bold</b>" not in document
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in document


def test_train_page_offers_report(store: RunStore) -> None:  # noqa: F811
    ids = populate_store(store)
    save_as_service(store, image_evaluation(store, ids))

    app = start_app("zh-CN")
    app.query_params["run"] = str(ids["completed"])
    app.switch_page("app_pages/train.py").run()
    download = i18n.translate("zh-CN", "report.download")
    assert download not in [button.proto.label for button in app.get("download_button")]
    app.button(key="report_prepare").click().run()

    assert not app.exception
    assert download in [button.proto.label for button in app.get("download_button")]

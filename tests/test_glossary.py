"""The glossary: an explanation of every setting and metric in both languages, and its page."""

import pytest
from streamlit.testing.v1 import AppTest
from test_pages import APP

from bigmodel import glossary, i18n, sequence_views
from bigmodel.architectures import families
from bigmodel.settings import TrainingSettings, specs

RESULT_METRICS = ("val_loss", "val_accuracy", "val_mae", "val_rmse")
"""The validation results that training stores in a run and the train page shows."""


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_setting_has_explanation(language: str) -> None:
    catalog = i18n.catalog(language)
    settings_classes = [family.settings_class for family in families()] + [TrainingSettings]

    missing = [
        spec.name
        for settings_class in settings_classes
        for spec in specs(settings_class)
        if not catalog.get(f"glossary.setting.{spec.name}", "").strip()
    ]

    assert missing == []


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_every_shown_metric_has_explanation(language: str) -> None:
    t = i18n.Translator(language)
    shown_metrics = {
        *sequence_views.CLASSIFICATION_METRICS,
        *sequence_views.VALUE_METRICS,
        *RESULT_METRICS,
        *glossary.METRIC_TERMS,
    }

    missing = [metric for metric in sorted(shown_metrics) if not glossary.metric_help(metric, t)]

    assert missing == []


def test_entries_cover_every_group_and_setting() -> None:
    found = glossary.entries(i18n.Translator("en"))
    groups = {entry.group for entry in found}
    terms = {entry.term for entry in found}

    assert groups == set(glossary.GROUPS)
    assert set(glossary.model_setting_names()) <= terms
    assert set(glossary.training_setting_names()) <= terms
    assert "dropout" in glossary.model_setting_names()
    assert glossary.model_setting_names().count("dropout") == 1


def test_metric_help_strips_validation_prefix() -> None:
    t = i18n.Translator("zh-CN")

    assert glossary.metric_help("val_accuracy", t) == glossary.metric_help("accuracy", t)
    assert "比例" in glossary.metric_help("accuracy", t)
    assert glossary.metric_help("no_such_metric", t) == ""


def test_search_matches_name_text_and_field() -> None:
    found = glossary.entries(i18n.Translator("en"))

    by_field = glossary.search(found, " learning_RATE ")
    by_name = glossary.search(found, "mae")
    in_text = glossary.search(found, "by heart")

    assert [entry.term for entry in by_field] == ["learning_rate"]
    assert "mae" in [entry.term for entry in by_name]
    assert [entry.term for entry in in_text] == ["overfitting"]
    assert glossary.search(found, "") == found
    assert glossary.search(found, "no such word anywhere") == []


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_glossary_page_filters(language: str, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    app = AppTest.from_file(APP)
    app.query_params["lang"] = language
    app.run()
    app.switch_page("app_pages/glossary.py").run()
    every = len(glossary.entries(i18n.Translator(language)))

    assert not app.exception
    assert app.title[0].value == i18n.translate(language, "glossary.page.title")
    assert [header.value for header in app.subheader] == [
        i18n.translate(language, f"glossary.group.{group}") for group in glossary.GROUPS
    ]
    assert len(app.markdown) >= every

    query = "过拟合" if language == "zh-CN" else "overfitting"
    app.text_input(key="glossary_filter").set_value(query).run()
    overfitting = i18n.translate(language, "glossary.metric.overfitting.name")
    assert any(overfitting in block.value for block in app.markdown)
    assert app.query_params["q"] == query
    assert len(app.subheader) < len(glossary.GROUPS)

    app.text_input(key="glossary_filter").set_value("zzzz").run()
    assert [box.value for box in app.info] == [
        i18n.translate(language, "glossary.page.no_match", query="zzzz")
    ]

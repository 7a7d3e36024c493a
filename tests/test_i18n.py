import re
import string

from bigmodel import i18n


def test_catalogs_have_the_same_keys():
    english = set(i18n.catalog("en"))
    chinese = set(i18n.catalog("zh-CN"))

    assert english - chinese == set()
    assert chinese - english == set()


def test_no_catalog_entry_is_empty():
    for language in i18n.LANGUAGES:
        empty = [key for key, value in i18n.catalog(language).items() if not value.strip()]
        assert empty == [], language


def test_placeholders_match_between_languages():
    formatter = string.Formatter()
    english = i18n.catalog("en")
    chinese = i18n.catalog("zh-CN")
    for key, template in english.items():
        english_fields = {name for _, name, _, _ in formatter.parse(template) if name}
        chinese_fields = {name for _, name, _, _ in formatter.parse(chinese[key]) if name}
        assert english_fields == chinese_fields, key


# Names that stay in the field's English in a Chinese interface.
ENGLISH_NAMES = {"BigModel Studio", "Adam", "AdamW", "RMSprop", "SGD", "CNN", "LSTM", "GRU"}


def test_chinese_catalog_is_chinese():
    untranslated = []
    for key, value in i18n.catalog("zh-CN").items():
        text = re.sub(r"\{[^}]*\}", "", value).strip()
        has_letters = re.search(r"[A-Za-z]", text) is not None
        if re.search(r"[\u4e00-\u9fff]", text) or not has_letters or text in ENGLISH_NAMES:
            continue
        untranslated.append(key)

    assert untranslated == []


def test_normalize_language_maps_browser_tags():
    assert i18n.normalize_language("zh-CN") == "zh-CN"
    assert i18n.normalize_language("zh_TW.UTF-8") == "zh-CN"
    assert i18n.normalize_language("en-GB") == "en"
    assert i18n.normalize_language("fr") == "en"
    assert i18n.normalize_language(None) == "en"


def test_translate_fills_parameters():
    message = i18n.translate("zh-CN", "errors.too_few_classes", count=1)

    assert "1" in message
    assert "类别" in message


def test_translate_keeps_missing_parameter_visible():
    message = i18n.translate("en", "errors.too_few_classes")

    assert "{count}" in message


def test_translate_formats_numbers_and_tolerates_text():
    limit = i18n.translate(
        "en",
        "errors.image_too_many_pixels",
        source="a.png",
        pixels=192_000_000,
        max_pixels=50_000_000,
    )
    as_text = i18n.translate(
        "en",
        "errors.image_too_many_pixels",
        source="a.png",
        pixels="192000000",
        max_pixels="50000000",
    )

    assert "192,000,000" in limit
    assert "50,000,000" in limit
    assert "192000000" in as_text

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


def test_chinese_catalog_is_chinese():
    # Entries that stay in the field's English are allowed: they contain no letters
    # outside a short list of names.
    allowed = re.compile(r"^[\s\W\d]*$|CNN|LSTM|GRU|Adam|NaN|RGB|rgb|auto|grayscale")
    untranslated = [
        key
        for key, value in i18n.catalog("zh-CN").items()
        if not re.search(r"[\u4e00-\u9fff]", value) and not allowed.search(value)
    ]
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

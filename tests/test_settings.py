import dataclasses

import pytest

from bigmodel import jobs
from bigmodel.architectures import PRESETS, families, get_family
from bigmodel.architectures.cnn import CNNSettings
from bigmodel.errors import SettingsError
from bigmodel.settings import Kind, TrainingSettings, from_dict, specs


def test_specs_read_field_metadata():
    by_name = {spec.name: spec for spec in specs(CNNSettings)}

    assert by_name["kernel_size"].kind is Kind.CHOICE
    assert by_name["kernel_size"].choices == (3, 5, 7)
    assert by_name["dropout"].kind is Kind.FLOAT
    assert by_name["dropout"].maximum == 0.9
    assert by_name["batch_norm"].kind is Kind.BOOLEAN
    assert by_name["filters"].kind is Kind.INTEGER
    assert by_name["filters"].label_key == "settings.filters.label"


def test_from_dict_converts_form_strings():
    settings = from_dict(CNNSettings, {"filters": "64", "dropout": "0.5", "batch_norm": "false"})

    assert settings.filters == 64
    assert settings.dropout == 0.5
    assert settings.batch_norm is False
    assert settings.kernel_size == 3


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"filters": 2}, "errors.setting_range"),
        ({"filters": "many"}, "errors.setting_not_number"),
        ({"filters": 3.5}, "errors.setting_not_integer"),
        ({"kernel_size": 4}, "errors.setting_choice"),
        ({"filtres": 8}, "errors.setting_unknown"),
    ],
)
def test_from_dict_rejects_invalid_values(values, key):
    with pytest.raises(SettingsError) as raised:
        from_dict(CNNSettings, values)

    name, value = next(iter(values.items()))
    assert raised.value.key == key
    assert name in str(raised.value)
    if key != "errors.setting_unknown":
        assert str(value) in str(raised.value)


def test_settings_round_trip_through_dict():
    original = CNNSettings(filters=48, dropout=0.1, color_mode="grayscale")

    assert from_dict(CNNSettings, dataclasses.asdict(original)) == original


def test_every_preset_is_valid_for_every_family():
    for family in families():
        for preset in PRESETS:
            values = jobs.preset_settings(family.name, preset)
            assert from_dict(family.settings_class, values["model"])
            assert from_dict(TrainingSettings, values["training"])


def test_presets_differ_in_size():
    fast = jobs.preset_settings("cnn", "fast")["model"]
    accurate = jobs.preset_settings("cnn", "accurate")["model"]

    assert fast["input_size"] < accurate["input_size"]
    assert fast["filters"] < accurate["filters"] or fast["conv_blocks"] < accurate["conv_blocks"]


def test_unknown_family_is_rejected():
    with pytest.raises(SettingsError) as raised:
        get_family("resnet9000")

    assert raised.value.key == "errors.family_unknown"
    assert "cnn" in str(raised.value)


@pytest.mark.parametrize(("text", "expected"), [("yes", True), ("False", False), ("0", False)])
def test_boolean_setting_reads_common_words(text, expected):
    assert from_dict(CNNSettings, {"batch_norm": text}).batch_norm is expected


def test_boolean_setting_rejects_other_words():
    with pytest.raises(SettingsError) as raised:
        from_dict(CNNSettings, {"batch_norm": "maybe"})

    assert raised.value.key == "errors.setting_choice"
    assert "maybe" in str(raised.value)

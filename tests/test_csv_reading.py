"""Tests of bigmodel.csv_reading on the awkward CSV files in tests/cases and generated siblings."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bigmodel import csv_reading, i18n
from bigmodel.csv_reading import (
    BadCell,
    DroppedColumn,
    LabelMapping,
    TableReading,
    clean_table,
    decode_text,
    detect_task,
    read_table,
    sniff_separator,
)
from bigmodel.errors import BigModelError, DatasetError, InvalidUploadError, SettingsError

CASES = Path(__file__).parent / "cases"


def read_case(name: str) -> TableReading:
    return read_table((CASES / name).read_bytes(), name)


def read_text(text: str, encoding: str = "utf-8", name: str = "sample.csv") -> TableReading:
    return read_table(text.encode(encoding), name)


def raised_key(error: pytest.ExceptionInfo[BigModelError]) -> str:
    return error.value.key


# Shared cases


def test_uppercase_extension_reads():
    reading = read_case("B16_data.CSV")

    assert list(reading.frame.columns) == ["t", "value", "label"]
    assert reading.frame["value"].tolist() == [1.0, 2.0, 1.5, 2.5]
    assert reading.frame["label"].tolist() == ["a", "b", "a", "b"]


def test_gbk_headers_and_encoding():
    reading = read_case("B43_gbk.csv")

    assert reading.encoding == "gb18030"
    assert list(reading.frame.columns) == ["时间", "温度(℃)", "压力(kPa)", "标签", "备注"]
    assert reading.frame["标签"].tolist() == ["正常", "正常", "异常", "正常", "异常", "正常"]
    assert reading.frame["温度(℃)"].iloc[0] == 21.5


def test_utf8_bom_removed_from_first_header():
    reading = read_case("B45_utf8_bom.csv")

    assert reading.encoding == "utf-8-sig"
    assert reading.frame.columns[0] == "时间"
    assert not any("\ufeff" in name for name in reading.frame.columns)


def test_semicolon_decimal_comma_numbers():
    reading = read_case("B46_semicolon_decimal_comma.csv")

    assert reading.separator == ";"
    assert reading.decimal == ","
    assert reading.frame["temperatur"].tolist() == [21.5, 22.0, 35.8, 22.4]
    assert reading.frame["druck"].tolist() == [1013.2, 1012.8, 998.7, 1011.1]
    assert reading.column_kinds["temperatur"] == "numeric"


def test_dirty_numeric_odd_numbers_parse():
    reading = read_case("B48_dirty_numeric.csv")
    values = reading.frame["数值"]

    assert reading.column_kinds["数值"] == "numeric"
    assert values.dtype == np.float64
    assert values.iloc[1] == 13.0
    assert values.iloc[6] == pytest.approx(12.8)
    assert values.iloc[7] == pytest.approx(12.9)
    assert reading.percent_columns == ("数值",)


def test_dirty_numeric_lists_bad_cells_and_missing():
    reading = read_case("B48_dirty_numeric.csv")

    assert reading.bad_cells == (
        BadCell(row=4, column="数值", value="N/A", kind="missing"),
        BadCell(row=5, column="数值", value="-", kind="missing"),
        BadCell(row=6, column="数值", value="#DIV/0!", kind="invalid"),
        BadCell(row=7, column="数值", value="", kind="missing"),
        BadCell(row=10, column="数值", value="NULL", kind="missing"),
    )
    assert reading.missing_cells == {"时间": 0, "数值": 4, "标签": 0}
    assert np.flatnonzero(reading.frame["数值"].isna()).tolist() == [2, 3, 4, 5, 8]


def test_dirty_numeric_keeps_named_row_counter():
    reading = read_case("B48_dirty_numeric.csv")

    assert reading.dropped_columns == ()
    assert reading.frame["时间"].tolist() == [float(row) for row in range(1, 11)]


def test_dirty_numeric_drop_policy():
    frame, report = clean_table(read_case("B48_dirty_numeric.csv"), "drop")

    assert report.dropped_rows == (4, 5, 6, 7, 10)
    assert report.row_numbers == (2, 3, 8, 9, 11)
    assert frame["数值"].tolist() == pytest.approx([12.5, 13.0, 12.8, 12.9, 13.1])
    assert list(frame.index) == [0, 1, 2, 3, 4]


def test_dirty_numeric_fill_policies():
    reading = read_case("B48_dirty_numeric.csv")
    valid = [12.5, 13.0, 12.8, 12.9, 13.1]

    previous, report = clean_table(reading, "fill_previous")
    mean, _ = clean_table(reading, "fill_mean")
    zero, _ = clean_table(reading, "fill_zero")

    assert report.filled_cells == {"时间": 0, "数值": 5}
    assert report.dropped_rows == ()
    assert previous["数值"].iloc[2:6].tolist() == [13.0, 13.0, 13.0, 13.0]
    assert previous["数值"].iloc[8] == pytest.approx(12.9)
    assert mean["数值"].iloc[2] == pytest.approx(sum(valid) / len(valid))
    assert zero["数值"].iloc[8] == 0.0
    assert not zero["数值"].isna().any()
    assert reading.frame["数值"].isna().sum() == 5


def test_ragged_long_layout_shows_sequence_lengths():
    reading = read_case("B50_ragged_long.csv")
    lengths = reading.frame.groupby("seq_id", sort=False).size()

    assert lengths.to_dict() == {"S01": 3, "S02": 7, "S03": 5, "S04": 1}
    assert reading.column_kinds == {
        "seq_id": "text",
        "step": "numeric",
        "value": "numeric",
        "label": "text",
    }


def test_one_based_labels_round_trip():
    labels = read_case("B52_labels_1based.csv").frame["label"]
    mapping = LabelMapping.from_series(labels)
    restored = LabelMapping.from_dict(json.loads(json.dumps(mapping.to_dict())))

    assert mapping.classes == ("1", "2", "3")
    assert restored == mapping
    assert restored.encode(labels).tolist()[:4] == [0, 1, 2, 0]
    assert restored.decode(restored.encode(labels)) == [str(int(v)) for v in labels]
    assert detect_task(labels) == "classification"


def test_text_labels_round_trip():
    labels = read_case("B54_labels_strings.csv").frame["label"]
    mapping = LabelMapping.from_series(labels)
    restored = LabelMapping.from_dict(json.loads(json.dumps(mapping.to_dict(), ensure_ascii=False)))

    assert set(mapping.classes) == {"正常", "故障", "待检"}
    assert restored.classes == mapping.classes
    assert restored.decode(restored.encode(labels)) == labels.tolist()
    assert detect_task(labels) == "classification"


# Encodings


def test_utf8_chinese_never_read_as_gb18030():
    data = "时间,温度,标签\n2024/1/1 0:00,21.5,正常\n".encode()
    data.decode("gb18030")  # The same bytes are valid GB18030, so the order matters.

    reading = read_table(data, "utf8.csv")

    assert reading.encoding == "utf-8"
    assert list(reading.frame.columns) == ["时间", "温度", "标签"]
    assert reading.frame["标签"].iloc[0] == "正常"


def test_utf16_with_bom_tab_separated():
    reading = read_text("时间\t温度\n2024-01-01\t21.5\n2024-01-02\t22\n", "utf-16")

    assert reading.encoding == "utf-16"
    assert reading.separator == "\t"
    assert list(reading.frame.columns) == ["时间", "温度"]
    assert reading.frame["温度"].tolist() == [21.5, 22.0]


def test_big5_chosen_over_gb18030():
    data = "時間,溫度,標籤\n2024/1/1 0:00,21.5,正常\n".encode("big5")
    data.decode("gb18030")  # GB18030 accepts these bytes too, as mojibake.

    reading = read_table(data, "big5.csv")

    assert reading.encoding == "big5"
    assert list(reading.frame.columns) == ["時間", "溫度", "標籤"]


def test_short_big5_header_chosen_over_gb18030():
    _, encoding = decode_text("時間,溫度\n".encode("big5"), "short.csv")

    assert encoding == "big5"


def test_generated_gbk_file_is_gb18030():
    data = "日期,产量,班组\n2024-01-02,1200,甲班\n2024-01-03,1350,乙班\n".encode("gbk")

    reading = read_table(data, "gbk.csv")

    assert reading.encoding == "gb18030"
    assert list(reading.frame.columns) == ["日期", "产量", "班组"]
    assert reading.frame["班组"].tolist() == ["甲班", "乙班"]


def test_gbk_traditional_characters_stay_gb18030():
    text, encoding = decode_text("時間,溫度\n".encode("gbk"), "gbk_traditional.csv")

    assert encoding == "gb18030"
    assert text == "時間,溫度\n"


def test_undecodable_bytes_rejected():
    with pytest.raises(InvalidUploadError) as error:
        read_table(b"a,b\n\xff1,2\n", "broken.csv")

    assert raised_key(error) == "csv.encoding_unknown"
    assert error.value.params["file"] == "broken.csv"
    assert "gb18030" in error.value.params["tried"]
    assert "big5" in error.value.params["tried"]


# Separators and number formats


def test_tab_separated_file():
    reading = read_text("a\tb\tc\n1\t2\tx\n3\t4\ty\n")

    assert reading.separator == "\t"
    assert reading.frame["b"].tolist() == [2.0, 4.0]


def test_pipe_separated_file():
    assert sniff_separator("a|b|c\n1|2|3\n4|5|6\n") == "|"


def test_comma_beats_semicolons_in_text():
    assert sniff_separator("id,note\n1,a;b\n2,c\n3,d;e;f\n") == ","


def test_excel_separator_line():
    reading = read_text("sep=;\nx;y\n1,5;2\n")

    assert reading.separator == ";"
    assert list(reading.frame.columns) == ["x", "y"]
    assert reading.frame["x"].tolist() == [1.5]


def test_semicolon_thousands_dots():
    reading = read_text("menge;preis\n1.234,5;2,5\n12,25;1.000\n7;3\n")

    assert reading.decimal == ","
    assert reading.thousands == "."
    assert reading.frame["menge"].tolist() == [1234.5, 12.25, 7.0]
    assert reading.frame["preis"].tolist() == [2.5, 1000.0, 3.0]


def test_semicolon_ambiguous_comma_is_decimal():
    reading = read_text("a;b\n1,250;x\n2,500;y\n")

    assert reading.decimal == ","
    assert reading.frame["a"].tolist() == [1.25, 2.5]


def test_tab_ambiguous_comma_is_thousands():
    reading = read_text("a\tb\n1,250\tx\n2,500\ty\n")

    assert reading.decimal == "."
    assert reading.frame["a"].tolist() == [1250.0, 2500.0]


def test_quoted_comma_thousands():
    reading = read_text('item,amount\na,"1,234.5"\nb,"12,000"\nc,7.25\n')

    assert reading.decimal == "."
    assert reading.thousands == ","
    assert reading.frame["amount"].tolist() == [1234.5, 12000.0, 7.25]


def test_space_thousands():
    reading = read_text("item;amount\na;1 234\nb;12\u00a0500,5\nc;7\n")

    assert reading.thousands == " "
    assert reading.frame["amount"].tolist() == [1234.0, 12500.5, 7.0]


def test_leading_zero_decimals_are_not_thousands():
    reading = read_text("a;b\n0.841;1\n0.909;2\n")

    assert reading.decimal == "."
    assert reading.frame["a"].tolist() == [0.841, 0.909]


def test_full_width_and_unicode_minus():
    reading = read_text("v\n－３．５\n\u22122\n＋１\n")

    assert reading.frame["v"].tolist() == [-3.5, -2.0, 1.0]


# Missing markers, bad cells and column kinds


def test_missing_markers_listed_as_missing():
    markers = ["", "NA", "N/A", "NULL", "null", "-", "--", "#N/A", "NaN", "nan"]
    text = "v,w\n1,a\n" + "\n".join(f'"{marker}",b' for marker in markers) + "\n2,c\n"

    reading = read_text(text)

    assert [cell.value for cell in reading.bad_cells] == markers
    assert [cell.row for cell in reading.bad_cells] == list(range(3, 3 + len(markers)))
    assert {cell.kind for cell in reading.bad_cells} == {"missing"}
    assert {cell.column for cell in reading.bad_cells} == {"v"}
    assert reading.missing_cells == {"v": len(markers), "w": 0}
    assert reading.frame["v"].notna().sum() == 2


def test_excel_errors_and_text_are_bad_cells():
    reading = read_text("v,w\n1,a\n2,b\n#VALUE!,c\n4,d\n5,e\n6,f\n7,g\n8,h\nabc,i\n10,j\n")

    assert reading.column_kinds["v"] == "numeric"
    assert reading.bad_cells == (
        BadCell(row=4, column="v", value="#VALUE!"),
        BadCell(row=10, column="v", value="abc"),
    )
    assert math.isnan(reading.frame["v"].iloc[2])


def test_numbers_beyond_float32_are_bad_cells():
    reading = read_text("v,w\n1,a\n1e39,b\n-4e38,c\n3.4e38,d\n")

    assert reading.column_kinds["v"] == "numeric"
    assert reading.bad_cells == (
        BadCell(row=3, column="v", value="1e39", kind="out_of_range"),
        BadCell(row=4, column="v", value="-4e38", kind="out_of_range"),
    )
    assert math.isnan(reading.frame["v"].iloc[1])
    assert reading.frame["v"].iloc[3] == 3.4e38


def test_numeric_share_threshold():
    at_threshold = read_text("v\n1\n2\n3\n4\nx\n")
    below_threshold = read_text("v\n1\n2\n3\nx\n")

    assert at_threshold.column_kinds["v"] == "numeric"
    assert below_threshold.column_kinds["v"] == "text"
    assert below_threshold.bad_cells == ()
    assert below_threshold.frame["v"].tolist() == ["1", "2", "3", "x"]


def test_bad_cell_rows_match_excel():
    text = 'note,v\n"first\nsecond",1\n\nb,2\nc,3\nd,4\ne,#REF!\n'

    reading = read_text(text)

    assert reading.row_numbers == (2, 4, 5, 6, 7)
    assert reading.bad_cells == (BadCell(row=7, column="v", value="#REF!"),)
    assert reading.frame["note"].iloc[0] == "first\nsecond"


def test_text_column_keeps_markers():
    reading = read_text("label,v\nok,1\n,2\nNA,3\n")

    assert reading.column_kinds["label"] == "text"
    assert reading.missing_cells["label"] == 1
    assert reading.frame["label"].isna().tolist() == [False, True, False]
    assert reading.frame["label"].iloc[2] == "NA"


def test_text_cells_are_stripped():
    reading = read_text("label,v\n ok ,1\nok,2\n")

    assert reading.frame["label"].tolist() == ["ok", "ok"]


def test_year_first_dates_are_datetimes():
    reading = read_text("when,v\n2024/1/1 0:00,1\n2024-01-02T08:30:15.5,2\n2024.1.3,3\n")

    assert reading.column_kinds["when"] == "datetime"
    assert reading.frame["when"].tolist() == [
        pd.Timestamp("2024-01-01 00:00"),
        pd.Timestamp("2024-01-02 08:30:15.5"),
        pd.Timestamp("2024-01-03"),
    ]


def test_day_first_and_invalid_dates_stay_text():
    reading = read_text("a,b,v\n01.02.2024,2024-13-01,1\n03.02.2024,2024-01-01,2\n")

    assert reading.column_kinds["a"] == "text"
    assert reading.column_kinds["b"] == "text"


# Dropped columns and header names


def test_trailing_empty_columns_dropped():
    reading = read_text("a,b,,\n1,2,,\n3,4,,\n")

    assert list(reading.frame.columns) == ["a", "b"]
    assert reading.dropped_columns == (
        DroppedColumn("Unnamed: 2", "csv.dropped.empty_column"),
        DroppedColumn("Unnamed: 3", "csv.dropped.empty_column"),
    )


@pytest.mark.parametrize("start", [0, 1])
def test_saved_index_dropped(start):
    rows = "\n".join(f"{start + i},{i * 0.5},x{i}" for i in range(4))

    reading = read_text(f",a,b\n{rows}\n")

    assert list(reading.frame.columns) == ["a", "b"]
    assert reading.dropped_columns == (DroppedColumn("Unnamed: 0", "csv.dropped.saved_index"),)


def test_unnamed_first_column_kept_unless_range():
    reading = read_text(",a\n5,1\n7,2\n")

    assert list(reading.frame.columns) == ["Unnamed: 0", "a"]
    assert reading.dropped_columns == ()


def test_duplicate_headers_get_suffixes():
    reading = read_text("a,a,a\n1,2,3\n")

    assert list(reading.frame.columns) == ["a", "a.1", "a.2"]


def test_short_rows_padded_with_missing():
    reading = read_text("a,b,c\n1,2,3\n4\n")

    assert reading.frame["c"].isna().tolist() == [False, True]
    assert reading.missing_cells["c"] == 1


def test_trailing_blank_fields_ignored():
    reading = read_text("a,b\n1,2,,\n3,4\n")

    assert list(reading.frame.columns) == ["a", "b"]
    assert reading.frame["b"].tolist() == [2.0, 4.0]


# Rejected files


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"", "csv.empty_file"),
        (b" \r\n\r\n", "csv.empty_file"),
        (b"a,b,c\r\n", "csv.no_data_rows"),
        (b"a,b\nNA,\n,-\n", "csv.no_values"),
        (b"PK\x03\x04rest-of-an-xlsx", "csv.excel_workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest-of-an-xls", "csv.excel_workbook"),
        (b"a,b\n1,\x002\n", "csv.not_text"),
        (b"a,b\n1,2\n3,4,5\n", "csv.too_many_fields"),
        (b'a,b\n1,"2\n3,4\n', "csv.malformed_row"),
    ],
)
def test_unusable_file_rejected(data, key):
    with pytest.raises(InvalidUploadError) as error:
        read_table(data, "upload.csv")

    assert raised_key(error) == key
    assert error.value.params["file"] == "upload.csv"


def test_too_many_fields_names_tab_separator():
    with pytest.raises(InvalidUploadError) as error:
        read_table(b"a\tb\n1\t2\n3\t4\t5\n", "wide.tsv")

    assert error.value.params["separator"] == "Tab"


def test_too_many_fields_names_row_and_counts():
    with pytest.raises(InvalidUploadError) as error:
        read_table(b"a,b\n1,2\n\n3,4,5\n", "wide.csv")

    assert error.value.params["row"] == 4
    assert error.value.params["found"] == 3
    assert error.value.params["expected"] == 2


# Cleaning


def test_clean_rejects_unknown_policy():
    with pytest.raises(SettingsError) as error:
        clean_table(read_text("v\n1\n"), "fill_median")  # type: ignore[arg-type]

    assert raised_key(error) == "csv.clean.policy_invalid"
    assert error.value.params["policy"] == "fill_median"


def test_clean_drop_every_row_rejected():
    reading = read_text("a,b\n1,\n,2\n")

    with pytest.raises(DatasetError) as error:
        clean_table(reading, "drop")

    assert raised_key(error) == "csv.clean.no_rows_left"
    assert error.value.params["rows"] == 2


def test_clean_leaves_text_columns():
    reading = read_text("label,v,w\nok,1,a\n,,b\nbad,3,c\n")

    frame, report = clean_table(reading, "fill_zero")

    assert frame["v"].tolist() == [1.0, 0.0, 3.0]
    assert frame["label"].isna().tolist() == [False, True, False]
    assert report.filled_cells == {"v": 1}


def test_fill_previous_fills_leading_gap_from_next():
    frame, _ = clean_table(read_text("v,w\n,1\n2,2\n,3\n"), "fill_previous")

    assert frame["v"].tolist() == [2.0, 2.0, 2.0]


# Labels and tasks


def test_labels_with_gaps():
    mapping = LabelMapping.from_series(pd.Series([9.0, 1.0, 5.0, 1.0], name="label"))

    assert mapping.classes == ("1", "5", "9")
    assert mapping.encode([1, 5.0, "9"]).tolist() == [0, 1, 2]
    assert mapping.encode([1]).dtype == np.int64
    assert mapping.decode([2, 0]) == ["9", "1"]


def test_labels_natural_sort():
    names = ["b", "10", "a10", "2", "a9", "9", "2.5"]

    mapping = LabelMapping.from_series(pd.Series(names, name="label"))

    assert mapping.classes == ("2", "2.5", "9", "10", "a9", "a10", "b")


def test_labels_unknown_value_rejected():
    mapping = LabelMapping(["ok", "alarm"])

    with pytest.raises(DatasetError) as error:
        mapping.encode(["ok", "fault"])

    assert raised_key(error) == "csv.labels.unknown"
    assert error.value.params["value"] == "fault"


def test_labels_missing_rejected():
    with pytest.raises(DatasetError) as error:
        LabelMapping.from_series(pd.Series(["a", None, "b", " "], name="label", dtype="str"))

    assert raised_key(error) == "csv.labels.missing"
    assert error.value.params["count"] == 2


def test_labels_single_class_rejected():
    with pytest.raises(DatasetError) as error:
        LabelMapping.from_series(pd.Series(["ok", "ok"], name="label"))

    assert raised_key(error) == "csv.labels.too_few_classes"


@pytest.mark.parametrize(
    "data",
    [{}, {"classes": "ab"}, {"classes": ["a"]}, {"classes": ["a", "a"]}, {"classes": [1, 2]}],
)
def test_label_mapping_invalid_dict_rejected(data):
    with pytest.raises(DatasetError) as error:
        LabelMapping.from_dict(data)

    assert raised_key(error) == "csv.labels.mapping_invalid"


def test_label_decode_out_of_range():
    mapping = LabelMapping(["a", "b"])

    with pytest.raises(IndexError):
        mapping.decode([2])
    with pytest.raises(IndexError):
        mapping.decode([-1])


def test_detect_task_regression_for_measurements():
    reading = read_case("B50_ragged_long.csv")

    assert detect_task(reading.frame["value"]) == "regression"


def test_detect_task_many_integers_is_regression():
    counts = pd.Series(np.arange(100, dtype="float64") % 40, name="count")

    assert detect_task(counts) == "regression"


def test_detect_task_few_integers_is_classification():
    classes = pd.Series([0.0, 1.0, 2.0] * 10, name="class")

    assert detect_task(classes) == "classification"


def test_detect_task_numeric_text_uses_numeric_rule():
    assert detect_task(pd.Series(["1.5", "2.25", "3.75", "0.5"], dtype="str")) == "regression"


def test_detect_task_empty_column_rejected():
    with pytest.raises(DatasetError) as error:
        detect_task(pd.Series([None, ""], name="label", dtype="str"))

    assert raised_key(error) == "csv.labels.empty"


# Message catalogs


def catalog_keys(language: str) -> set[str]:
    return {key for key in i18n.catalog(language) if key.startswith("csv.")}


def test_every_raised_key_is_in_both_catalogs():
    source = Path(csv_reading.__file__).read_text(encoding="utf-8")
    used = set(re.findall(r'"(csv\.[a-z_.]+)"', source))

    assert used
    assert used <= catalog_keys("en")
    assert used <= catalog_keys("zh-CN")


def test_error_messages_name_the_file_in_both_languages():
    with pytest.raises(InvalidUploadError) as error:
        read_table(b"a,b\n1,2\n3,4,5\n", "wide.csv")

    for language in i18n.LANGUAGES:
        message = error.value.message(language)
        assert "wide.csv" in message
        assert "3" in message
        assert "{" not in message

"""Sequence datasets from CSV files: layouts, cleaning, lengths, labels and errors.

These tests never import TensorFlow; the web server reads these modules too.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bigmodel import i18n, sequence_datasets
from bigmodel.csv_reading import LabelMapping, read_table
from bigmodel.errors import DatasetError, SettingsError
from bigmodel.sequence_datasets import (
    SequenceSpec,
    ingest_sequences,
    inspect_csv,
    load_sequence_dataset,
    propose_spec,
    read_for_prediction,
)

CASES = Path(__file__).parent / "cases"
SAMPLES = Path(__file__).parent.parent / "assets" / "sequences"


def case(name: str) -> bytes:
    return (CASES / name).read_bytes()


def gunpoint_rows(count: int) -> bytes:
    lines = (SAMPLES / "GunPoint_TRAIN.csv").read_bytes().splitlines(keepends=True)
    return b"".join(lines[: count + 1])


def ingest(store, data: bytes, spec: SequenceSpec | None = None, source: str = "data.csv"):
    return ingest_sequences(data, source, spec, "test", store)


# Shared CSV cases


def test_uppercase_csv_extension_ingests(store):
    dataset = ingest(store, case("B16_data.CSV"), source="B16_data.CSV")

    assert dataset.summary["source"] == "B16_data.CSV"
    assert dataset.class_names == ("a", "b")
    assert dataset.summary["layout"] == "series"


def test_gbk_headers_and_encoding_shown():
    inspection = inspect_csv(case("B43_gbk.csv"), "B43_gbk.csv")

    assert inspection.encoding == "gb18030"
    assert [column.name for column in inspection.columns][:3] == ["时间", "温度(℃)", "压力(kPa)"]
    assert inspection.problem is None
    assert inspection.summary["encoding"] == "gb18030"
    assert set(inspection.summary["classes"]) == {"正常", "异常"}


def test_gbk_file_ingests_with_chinese_classes(store):
    dataset = ingest(store, case("B43_gbk.csv"))

    assert dataset.feature_names == ("温度(℃)", "压力(kPa)")
    assert set(dataset.class_names) == {"正常", "异常"}
    assert "备注" in dataset.summary["ignored_columns"]


def test_utf8_bom_first_column_named_without_mark():
    inspection = inspect_csv(case("B45_utf8_bom.csv"), "B45_utf8_bom.csv")

    assert inspection.encoding == "utf-8-sig"
    assert inspection.columns[0].name == "时间"
    assert inspection.spec.order_column == "时间"


def test_decimal_comma_features_are_numbers(store):
    dataset = ingest(store, case("B46_semicolon_decimal_comma.csv"))
    with np.load(dataset.path / sequence_datasets.ARRAYS_NAME) as arrays:
        values = arrays["values"]

    assert dataset.feature_names == ("temperatur", "druck")
    assert values[:, 0].tolist() == pytest.approx([21.5, 22.0, 35.8, 22.4])
    assert values[:, 1].tolist() == pytest.approx([1013.2, 1012.8, 998.7, 1011.1])


def test_dirty_numeric_cells_listed_by_row_and_value():
    inspection = inspect_csv(case("B48_dirty_numeric.csv"), "B48_dirty_numeric.csv")

    listed = inspection.cells_by_column()["数值"]
    assert [(cell.row, cell.value, cell.kind) for cell in listed] == [
        (4, "N/A", "missing"),
        (5, "-", "missing"),
        (6, "#DIV/0!", "invalid"),
        (7, "", "missing"),
        (10, "NULL", "missing"),
    ]
    column = next(column for column in inspection.columns if column.name == "数值")
    assert (column.missing, column.invalid) == (4, 1)
    assert inspection.summary["invalid_cells"] == {"数值": 1}


def test_full_width_and_padded_numbers(store):
    dataset = ingest(store, case("B48_dirty_numeric.csv"), _spec_of("B48_dirty_numeric.csv"))
    with np.load(dataset.path / sequence_datasets.ARRAYS_NAME) as arrays:
        values = arrays["values"][:, 0]

    assert values[1] == pytest.approx(13.0)
    assert values[6] == pytest.approx(12.8)
    assert values[7] == pytest.approx(12.9)


def test_fill_previous_stays_within_series(store):
    dataset = ingest(store, case("B48_dirty_numeric.csv"), _spec_of("B48_dirty_numeric.csv"))
    with np.load(dataset.path / sequence_datasets.ARRAYS_NAME) as arrays:
        values = arrays["values"][:, 0]

    assert values[2:6].tolist() == pytest.approx([13.0, 13.0, 13.0, 13.0])
    assert dataset.summary["cleaning"]["filled_cells"] == {"数值": 5}
    assert [notice.key for notice in dataset.notices] == ["sequences.notice.cells_filled"]


def test_dirty_numeric_drop_reports_rows(store):
    spec = SequenceSpec("series", None, None, "时间", window=2, cleaning="drop")

    dataset = ingest(store, case("B48_dirty_numeric.csv"), spec)

    notice = next(n for n in dataset.notices if n.key == "sequences.notice.rows_dropped")
    assert notice.params == {"count": 5, "rows": "4, 5, 6, 7, 10"}
    assert dataset.summary["length_counts"] == {"5": 1}
    assert dataset.summary["cleaning"]["dropped_rows"] == 5


def test_drop_leaving_one_class_rejected():
    spec = dataclasses.replace(_spec_of("B48_dirty_numeric.csv"), cleaning="drop", window=2)

    inspection = inspect_csv(case("B48_dirty_numeric.csv"), "B48.csv", spec)

    assert inspection.problem.key == "csv.labels.too_few_classes"
    assert inspection.problem.params["classes"] == "正常"


def test_ragged_long_padded_with_lengths_shown(store):
    dataset = ingest(store, case("B50_ragged_long.csv"))
    examples = dataset.examples()

    assert dataset.spec.layout == "long"
    assert dataset.summary["length_counts"] == {"1": 1, "3": 1, "5": 1, "7": 1}
    assert dataset.summary["length_rule"] == "pad"
    assert dataset.summary["padded_sequences"] == 3
    assert dataset.length == 7
    assert examples.names == ("S01", "S02", "S03", "S04")
    assert np.isnan(examples.x[:, :, 0]).sum(axis=1).tolist() == [4, 0, 2, 6]


def test_ragged_long_truncated_to_stated_length(store):
    spec = dataclasses.replace(
        _spec_of("B50_ragged_long.csv"), length_rule="truncate", max_length=3
    )

    dataset = ingest(store, case("B50_ragged_long.csv"), spec)

    assert dataset.length == 3
    assert dataset.examples().names == ("S01", "S02", "S03")
    assert dataset.summary["cut_sequences"] == 2
    assert dataset.summary["dropped_short_sequences"] == 1
    assert not np.isnan(dataset.examples().x).any()
    assert {n.key for n in dataset.notices} == {
        "sequences.notice.cut",
        "sequences.notice.short_dropped",
    }


def test_one_based_labels_map_and_return(store):
    dataset = ingest(store, case("B52_labels_1based.csv"))
    mapping = LabelMapping(dataset.class_names)
    examples = dataset.examples()

    assert dataset.class_names == ("1", "2", "3")
    assert dataset.task == "classification"
    assert set(mapping.decode(examples.y)) == {"1", "2", "3"}


def test_text_labels_are_classes(store):
    dataset = ingest(store, case("B54_labels_strings.csv"))

    assert set(dataset.class_names) == {"正常", "故障", "待检"}
    assert sum(dataset.summary["counts"].values()) == dataset.summary["num_examples"]


def test_labels_with_gaps_keep_their_names(store):
    text = "id,t,v,label\n" + "".join(
        f"s{i},{t},{(i * t) % 7},{[1, 5, 9][i % 3]}\n" for i in range(6) for t in range(4)
    )

    dataset = ingest(store, text.encode())

    assert dataset.class_names == ("1", "5", "9")


def _spec_of(name: str) -> SequenceSpec:
    return propose_spec(read_table(case(name), name))


# Proposed layouts


def test_gunpoint_proposed_as_wide():
    spec = propose_spec(read_table(gunpoint_rows(10), "GunPoint_TRAIN.csv"))

    assert spec.layout == "wide"
    assert spec.label_column == "label"
    assert len(spec.feature_columns) == 150
    assert spec.feature_columns[:2] == ("t0", "t1")


def test_basic_motions_proposed_as_long():
    data = b"".join((SAMPLES / "BasicMotions_TRAIN_long.csv").read_bytes().splitlines(True)[:401])

    spec = propose_spec(read_table(data, "BasicMotions_TRAIN_long.csv"))

    assert (spec.layout, spec.id_column, spec.order_column) == ("long", "series_id", "time")
    assert spec.feature_columns == tuple(f"dim_{i}" for i in range(6))


def test_airline_proposed_as_forecast(store):
    dataset = ingest(store, (SAMPLES / "airline.csv").read_bytes())

    assert dataset.task == "forecast"
    assert dataset.spec.order_column == "month"
    assert dataset.target_names == ("passengers",)
    assert dataset.summary["num_examples"] == 144 - 24


def test_text_block_id_proposes_long():
    text = "machine,v,label\n" + "".join(
        f"m{i},{i + t},{'ab'[i % 2]}\n" for i in range(4) for t in range(3)
    )

    spec = propose_spec(read_table(text.encode(), "blocks.csv"))

    assert (spec.layout, spec.id_column) == ("long", "machine")


def test_wide_trailing_blanks_end_shorter_sequences(store):
    header = ",".join(f"t{i}" for i in range(8)) + ",label\n"
    rows = "1,2,3,4,5,6,7,8,a\n1,2,3,,,,,,b\n2,3,4,5,6,,,,a\n3,1,2,,5,6,7,8,b\n"

    dataset = ingest(store, (header + rows).encode())

    assert dataset.summary["length_counts"] == {"3": 1, "5": 1, "8": 2}
    assert dataset.summary["cleaning"]["filled_cells"] == {"t": 1}


def test_wide_prefixes_are_features(store):
    header = ",".join([f"a{i}" for i in range(8)] + [f"b{i}" for i in range(8)]) + ",label\n"
    rows = "".join(",".join(str(v) for v in range(16)) + f",{c}\n" for c in "xyxy")

    dataset = ingest(store, (header + rows).encode())

    assert dataset.feature_names == ("a", "b")
    assert dataset.examples().x.shape == (4, 8, 2)
    assert dataset.examples().x[0, :, 1].tolist() == list(range(8, 16))


# Labels and rows


def test_missing_labels_dropped_and_reported(store):
    text = "seq,t,v,label\n" + "".join(
        f"s{i},{t},{t},{'' if (i, t) == (1, 2) else 'ab'[i % 2]}\n"
        for i in range(4)
        for t in range(3)
    )

    dataset = ingest(store, text.encode())

    notice = next(n for n in dataset.notices if n.key == "sequences.notice.label_missing")
    assert notice.params == {"count": 1, "rows": "7"}
    assert dataset.summary["unlabelled_rows"] == 1
    assert dataset.summary["length_counts"] == {"2": 1, "3": 3}


def test_label_changing_within_sequence_rejected(store):
    text = "seq,t,v,label\ns1,0,1,a\ns1,1,2,b\ns2,0,1,a\ns2,1,2,a\n"
    spec = SequenceSpec("long", "label", "seq", "t")

    with pytest.raises(DatasetError) as raised:
        ingest(store, text.encode(), spec)

    assert raised.value.key == "sequences.label_not_constant"
    assert raised.value.params["sequence"] == "s1"
    assert (raised.value.params["first_row"], raised.value.params["second_row"]) == (2, 3)


def test_single_class_rejected(store):
    text = "seq,t,v,label\ns1,0,1,a\ns1,1,2,a\ns2,0,1,a\n"

    with pytest.raises(DatasetError) as raised:
        ingest(store, text.encode(), SequenceSpec("long", "label", "seq", "t"))

    assert raised.value.key == "csv.labels.too_few_classes"


def test_regression_proposed_for_measured_label(store):
    text = "seq,t,v,yield\n" + "".join(
        f"s{i},{t},{t * i},{100 + i * 1.37}\n" for i in range(12) for t in range(3)
    )

    dataset = ingest(store, text.encode(), SequenceSpec("long", "yield", "seq", "t"))

    assert dataset.task == "regression"
    assert dataset.target_names == ("yield",)
    assert dataset.examples().y.shape == (12, 1)


def test_regression_with_text_label_rejected(store):
    text = "seq,t,v,label\ns1,0,1,a\ns2,0,1,b\n"
    spec = SequenceSpec("long", "label", "seq", "t", task="regression")

    with pytest.raises(DatasetError) as raised:
        ingest(store, text.encode(), spec)

    assert raised.value.key == "sequences.label_not_numeric"
    assert raised.value.params["value"] == "a"


# Series and windows


def test_forecast_windows_cut_right(store):
    text = "t,v\n" + "".join(f"{t},{t + 1}\n" for t in range(10))
    spec = SequenceSpec("series", None, None, "t", window=3, horizon=2)

    examples = ingest(store, text.encode(), spec).examples()

    assert examples.x.shape == (6, 3, 1)
    assert examples.x[0, :, 0].tolist() == [1, 2, 3]
    assert examples.y[0].tolist() == [4, 5]
    assert examples.x[-1, :, 0].tolist() == [6, 7, 8]
    assert examples.y[-1].tolist() == [9, 10]
    assert examples.chronological


def test_windows_never_cross_series(store):
    text = "unit,t,v\n" + "".join(
        f"{unit},{t},{offset + t}\n" for unit, offset in (("a", 0), ("b", 100)) for t in range(5)
    )
    spec = SequenceSpec("series", None, "unit", "t", window=2, horizon=1)

    examples = ingest(store, text.encode(), spec).examples()

    assert len(examples.names) == 2 * (5 - 2)
    assert examples.groups.tolist() == [0, 0, 0, 1, 1, 1]
    for inputs, target in zip(examples.x[:, :, 0], examples.y[:, 0], strict=True):
        assert target - inputs[-1] == 1


def test_rows_sorted_by_order_column(store):
    text = "t,v\n3,30\n1,10\n2,20\n0,0\n4,40\n5,50\n"

    examples = ingest(
        store, text.encode(), SequenceSpec("series", None, None, "t", window=2)
    ).examples()

    assert examples.x[0, :, 0].tolist() == [0, 10]


def test_text_order_sorted_naturally(store):
    text = "seq,when,v,label\na,step 10,2,x\na,,3,x\na,step 2,1,x\nb,step 1,4,y\nb,step 3,5,y\n"
    spec = SequenceSpec("long", "label", "seq", "when", ("v",))

    examples = ingest(store, text.encode(), spec).examples()

    assert examples.x[0, :, 0].tolist() == [1, 2, 3]
    assert examples.x[1, :2, 0].tolist() == [4, 5]


def test_window_longer_than_series_rejected(store):
    spec = SequenceSpec("series", None, None, "t", window=20, horizon=1)

    with pytest.raises(DatasetError) as raised:
        ingest(store, b"t,v\n0,1\n1,2\n2,3\n", spec)

    assert raised.value.key == "sequences.window_too_long"
    assert raised.value.params["window"] == 20
    assert raised.value.params["length"] == 3


def test_no_numeric_feature_rejected(store):
    text = "t,note,label\n2024-01-01,x,a\n2024-01-02,y,b\n"

    with pytest.raises(DatasetError) as raised:
        ingest(store, text.encode(), SequenceSpec("series", "label", None, "t", window=1))

    assert raised.value.key == "sequences.no_numeric_feature"


def test_unknown_column_rejected_with_choices(store):
    spec = SequenceSpec("long", "label", "missing_id", "step")

    with pytest.raises(DatasetError) as raised:
        ingest(store, case("B50_ragged_long.csv"), spec)

    assert raised.value.key == "sequences.column_unknown"
    assert "seq_id" in raised.value.params["columns"]


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"layout": "grid"}, "errors.setting_choice"),
        ({"window": 0}, "errors.setting_range"),
        ({"cleaning": "fill_median"}, "errors.setting_choice"),
    ],
)
def test_invalid_spec_values_rejected(store, changes, key):
    spec = dataclasses.replace(SequenceSpec("series", None, None, "t", window=2), **changes)

    with pytest.raises(SettingsError) as raised:
        ingest(store, b"t,v\n0,1\n1,2\n2,3\n3,4\n", spec)

    assert raised.value.key == key


def test_inspection_reports_problem_instead_of_raising():
    spec = SequenceSpec("long", "label", "seq_id", "step", task="regression")

    inspection = inspect_csv(case("B50_ragged_long.csv"), "B50.csv", spec)

    assert inspection.summary is None
    assert inspection.problem.key == "sequences.label_not_numeric"
    assert inspection.lengths == ()


# Storage


def test_same_file_and_spec_stored_once(store):
    first = ingest(store, case("B50_ragged_long.csv"))
    second = ingest(store, case("B50_ragged_long.csv"))
    cut = ingest(
        store,
        case("B50_ragged_long.csv"),
        dataclasses.replace(first.spec, length_rule="truncate", max_length=3),
    )

    assert first.id == second.id
    assert cut.id != first.id
    assert len(store.list_datasets(kind="sequence")) == 2


def test_stored_dataset_loads_with_its_summary(store):
    dataset = ingest(store, case("B50_ragged_long.csv"))

    loaded = load_sequence_dataset(dataset.id, store)
    record = store.get_dataset(dataset.id)
    manifest = json.loads((dataset.path / sequence_datasets.MANIFEST_NAME).read_text("utf-8"))

    assert loaded.spec == dataset.spec
    assert record.kind == "sequence"
    assert record.summary == dataset.summary
    assert manifest["class_names"] == ["A", "B"]
    assert manifest["spec"]["id_column"] == "seq_id"


def test_prediction_reads_file_without_labels(store):
    dataset = ingest(store, case("B50_ragged_long.csv"))
    unlabelled = b"seq_id,step,value\nX,1,0.5\nX,0,0.25\nY,0,1.0\n"

    inputs = read_for_prediction(unlabelled, "new.csv", dataset.spec, dataset.task, dataset.length)

    assert inputs.names == ("X", "Y")
    assert inputs.lengths == (2, 1)
    assert inputs.x.shape == (2, 7, 1)
    assert inputs.x[0, :2, 0].tolist() == [0.25, 0.5]
    assert inputs.actual is None


def test_prediction_names_missing_column(store):
    dataset = ingest(store, case("B50_ragged_long.csv"))

    with pytest.raises(DatasetError) as raised:
        read_for_prediction(b"seq_id,value\nX,1\n", "new.csv", dataset.spec, dataset.task, 7)

    assert raised.value.key == "sequences.prediction_column_missing"
    assert raised.value.params["column"] == "step"


def test_forecast_inputs_continue_the_months(store):
    data = (SAMPLES / "airline.csv").read_bytes()
    dataset = ingest(store, data)

    inputs = read_for_prediction(data, "airline.csv", dataset.spec, "forecast", dataset.length)

    assert inputs.x.shape == (1, 24, 1)
    assert inputs.x[0, -1, 0] == 432.0
    assert inputs.future == (("1961-01-01",),)


# Catalog and imports


def test_every_sequence_key_in_catalogs():
    sources = [
        Path(sequence_datasets.__file__),
        *Path(sequence_datasets.__file__).parent.glob("sequence_*.py"),
        *(Path(sequence_datasets.__file__).parent / "architectures").glob("*.py"),
        Path(sequence_datasets.__file__).parent / "inference.py",
        Path(sequence_datasets.__file__).parent / "cli.py",
    ]
    used = set()
    for source in sources:
        used |= set(re.findall(r'"((?:sequences|cli\.sequence)\.[a-z0-9_.]+)"', source.read_text()))

    assert len(used) > 20
    assert used <= set(i18n.catalog("en"))
    assert used <= set(i18n.catalog("zh-CN"))


def test_modules_free_of_tensorflow():
    code = (
        "import sys\n"
        "import bigmodel.sequence_datasets, bigmodel.architectures as a\n"
        "a.families()\n"
        "print([m for m in ('tensorflow', 'keras') if m in sys.modules])\n"
    )
    root = Path(__file__).resolve().parent.parent

    output = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    ).stdout

    assert output.strip() == "[]"

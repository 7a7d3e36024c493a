"""Canonical image datasets from zips, folders and typed files, through the whole ingest."""

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bigmodel import i18n
from bigmodel.config import Limits
from bigmodel.errors import DatasetError, LimitExceededError, RunNotFoundError
from bigmodel.image_datasets import (
    ingest_files,
    ingest_folder,
    ingest_zip,
    load_image_dataset,
    natural_key,
)
from bigmodel.imaging import decode_image

ROOT = Path(__file__).parent.parent
CASES = Path(__file__).parent / "cases"


def _png(color, size=(10, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _cp936_zip(files: dict[str, bytes]) -> bytes:
    """Build a zip whose names are stored in CP936 without the UTF-8 flag."""
    raw_names = {name: name.encode("cp936") for name in files}
    placeholders = {name: f"{i:0{len(raw)}d}" for i, (name, raw) in enumerate(raw_names.items())}
    data = _zip({placeholders[name]: content for name, content in files.items()})
    for name, placeholder in placeholders.items():
        data = data.replace(placeholder.encode(), raw_names[name])
    return data


def _two_classes(count: int = 2) -> dict[str, bytes]:
    files = {f"red/{index}.png": _png((200, 10 + index, 10)) for index in range(count)}
    files.update({f"blue/{index}.png": _png((10, 10 + index, 200)) for index in range(count)})
    return files


def _files_under(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*")}


# Hostile cases.


def test_macos_zip_has_exactly_cat_and_dog(store):
    dataset = ingest_zip(CASES / "B36_macos_zip.zip", "pets", store)

    assert dataset.classes == ("cat", "dog")
    assert dataset.counts() == {"cat": 2, "dog": 2}
    assert dataset.skipped == ()
    assert "__MACOSX/cat/._001.png" in dataset.ignored


def test_gbk_case_classes_decode(store):
    dataset = ingest_zip(CASES / "B37_gbk_names.zip", "quality", store)

    assert set(dataset.classes) == {"合格", "不合格"}
    assert dataset.counts() == {"不合格": 2, "合格": 2}


def test_other_cp936_classes_decode(store):
    data = _cp936_zip({"良品/样本一.png": _png((0, 200, 0)), "次品/样本二.png": _png((200, 0, 0))})

    dataset = ingest_zip(data, "parts", store)

    assert set(dataset.classes) == {"良品", "次品"}
    assert {item.source for item in dataset.items} == {"良品/样本一.png", "次品/样本二.png"}


def test_utf8_flagged_classes_decode(store):
    data = _zip({"正常/一.png": _png((0, 200, 0)), "故障/二.png": _png((200, 0, 0))})

    dataset = ingest_zip(data, "machines", store)

    assert set(dataset.classes) == {"正常", "故障"}


def test_wrapped_zip_has_cat_and_dog(store):
    dataset = ingest_zip(CASES / "B39_wrapped_toplevel.zip", "pets", store)

    assert dataset.classes == ("cat", "dog")
    assert dataset.counts() == {"cat": 3, "dog": 3}
    assert dataset.items[0].source == "my_dataset/cat/001.png"


def test_single_class_is_rejected_with_count(store):
    with pytest.raises(DatasetError) as caught:
        ingest_zip(CASES / "B40_single_class.zip", "one", store)

    error = caught.value
    assert error.key == "errors.upload_too_few_classes"
    assert error.params["count"] == 1
    assert error.params["classes"] == "ok"
    assert "two" in error.message("en")
    assert "两个类别" in error.message("zh-CN")
    assert _files_under(store.home.datasets) == set()
    assert store.list_datasets() == []


def test_upload_without_images_is_rejected(store):
    with pytest.raises(DatasetError) as caught:
        ingest_zip(_zip({"cat/notes.txt": b"n", "dog/empty.png": b""}), "none", store)

    assert caught.value.key == "errors.no_images"
    assert caught.value.params["skipped"] == 2


def test_zip_slip_writes_nothing_outside(tmp_path, store):
    before = _files_under(tmp_path)

    dataset = ingest_zip(CASES / "B42_zip_slip.zip", "slip", store)

    assert dataset.counts() == {"cat": 2, "dog": 2}
    assert {notice.source: notice.key for notice in dataset.skipped} == {
        "../../B42_outside_dotdot.txt": "ingest.skipped.parent_path",
        "/tmp/B42_absolute.txt": "ingest.skipped.absolute_path",
        "cat/../../B42_nested_dotdot.txt": "ingest.skipped.parent_path",
        "C:\\B42_drive_letter.txt": "ingest.skipped.drive_path",
        "cat/link_to_etc": "ingest.skipped.symlink",
    }
    new_files = _files_under(tmp_path) - before
    assert all(path.startswith("home/") for path in new_files)
    assert not any("B42" in path for path in _files_under(tmp_path))
    assert not Path("/tmp/B42_absolute.txt").exists()
    assert not (ROOT.parent / "B42_outside_dotdot.txt").exists()


def test_folder_with_junk_has_three_images(store):
    dataset = ingest_folder(CASES / "B31_folder_with_junk", "pets", store)

    assert dataset.classes == ("cat", "dog")
    assert len(dataset.items) == 3
    assert sorted(dataset.ignored) == [
        ".DS_Store",
        "cat/.DS_Store",
        "cat/._001.png",
        "cat/Thumbs.db",
        "cat/desktop.ini",
    ]
    assert [(notice.source, notice.key) for notice in dataset.skipped] == [
        ("cat/readme.txt", "ingest.skipped.not_an_image")
    ]


def test_zip_bomb_is_rejected_and_leaves_nothing(store):
    with pytest.raises(LimitExceededError) as caught:
        ingest_zip(CASES / "B21_zip_expands_300MB.zip", "bomb", store)

    assert caught.value.key == "errors.member_too_large"
    assert caught.value.params["limit"] == "64.0 MiB"
    assert _files_under(store.home.datasets) == set()


def test_redblue_case_ingests(store):
    dataset = ingest_zip((CASES / "B56_redblue.zip").read_bytes(), "redblue", store)

    assert dataset.classes == ("blue", "red")
    assert dataset.counts() == {"blue": 8, "red": 8}
    assert dataset.skipped == ()


def test_bad_images_are_skipped_beside_good_ones(store):
    files = _two_classes()
    for name in ["B30_truncated.jpg", "B30_zero_bytes.jpg", "B35_huge_16000x12000.png"]:
        files[f"red/{name}"] = (CASES / name).read_bytes()
    files["blue/B22_rgba_transparent.png"] = (CASES / "B22_rgba_transparent.png").read_bytes()

    dataset = ingest_zip(_zip(files), "mixed", store)

    assert dataset.counts() == {"blue": 3, "red": 2}
    assert {notice.source: notice.key for notice in dataset.skipped} == {
        "red/B30_truncated.jpg": "errors.image_damaged",
        "red/B30_zero_bytes.jpg": "errors.image_empty",
        "red/B35_huge_16000x12000.png": "errors.image_too_many_pixels",
    }
    assert [notice.key for notice in dataset.warnings] == ["ingest.warning.fully_transparent"]
    assert all("source" not in notice.params for notice in dataset.skipped)
    assert "B35_huge_16000x12000.png" in dataset.skipped[2].message("en")


def test_case_images_are_stored_as_decoded(store):
    names = [
        "B25_palette_trns_bytes.png",
        "B26_gray16_gradient.png",
        "B29_exif_orientation6.jpg",
        "B32_bmp_named.jpg",
        "B34_animated.gif",
        "B34_image.webp",
        "B16_UPPERCASE.JPG",
    ]
    files = {f"odd/{name}": (CASES / name).read_bytes() for name in names}
    files["plain/a.png"] = _png((1, 2, 3))

    dataset = ingest_zip(_zip(files), "odd", store)

    case_items = [item for item in dataset.items if item.source.startswith("odd/")]
    assert dataset.skipped == ()
    assert len(case_items) == len(names)
    for item in case_items:
        stored = Image.open(dataset.path / item.file)
        expected = decode_image((CASES / Path(item.source).name).read_bytes(), item.source)
        assert stored.format == "PNG"
        assert stored.mode == "RGB"
        assert stored.size == (item.width, item.height)
        assert np.array_equal(np.asarray(stored), expected.pixels), item.source


def test_exif_rotation_is_stored_upright(store):
    files = _two_classes()
    files["red/B29.jpg"] = (CASES / "B29_exif_orientation6.jpg").read_bytes()

    dataset = ingest_zip(_zip(files), "upright", store)

    item = next(item for item in dataset.items if item.source == "red/B29.jpg")
    pixels = np.asarray(Image.open(dataset.path / item.file))
    assert (item.width, item.height) == (40, 80)
    assert pixels[5, 20, 0] > 180
    assert pixels[75, 20, 0] < 80


# Identity and storage.


def test_reingest_reuses_id_folder_and_record(store):
    first = ingest_zip(CASES / "B56_redblue.zip", "first", store)
    second = ingest_zip(CASES / "B56_redblue.zip", "second", store)

    assert second.id == first.id
    assert second.name == "first"
    assert [record.id for record in store.list_datasets()] == [first.id]
    assert [path.name for path in store.home.datasets.iterdir()] == [first.id]


def test_same_content_in_wrapper_has_same_id(store):
    plain = ingest_zip(_zip(_two_classes()), "plain", store)
    wrapped_files = {f"export/{name}": data for name, data in _two_classes().items()}
    wrapped = ingest_zip(_zip(wrapped_files), "wrapped", store)

    assert wrapped.id == plain.id


def test_different_labels_give_different_id(store):
    files = _two_classes()
    swapped = {
        name.replace("red/", "x/").replace("blue/", "red/"): data for name, data in files.items()
    }

    assert ingest_zip(_zip(files), "a", store).id != ingest_zip(_zip(swapped), "b", store).id


def test_manifest_and_record_describe_dataset(store):
    dataset = ingest_zip(_zip(_two_classes(3)), "colours", store)

    manifest = json.loads((dataset.path / "manifest.json").read_text(encoding="utf-8"))
    record = store.get_dataset(dataset.id)
    assert len(dataset.id) == 16
    assert dataset.path == store.home.datasets / dataset.id
    assert manifest["id"] == dataset.id
    assert manifest["classes"] == ["blue", "red"]
    assert len(manifest["items"]) == 6
    assert manifest["items"][0]["file"] == "images/0/000001.png"
    assert manifest["summary"] == dataset.summary()
    assert record.kind == "image"
    assert record.name == "colours"
    assert record.path == str(dataset.path)
    assert record.summary == dataset.summary()
    assert _files_under(dataset.path) == {
        "manifest.json",
        "images",
        "images/0",
        "images/1",
        *(item.file for item in dataset.items),
    }


def test_items_point_at_rgb_pngs_of_their_class(store):
    dataset = ingest_zip(_zip(_two_classes(3)), "colours", store)

    for item, path, label in zip(dataset.items, dataset.files(), dataset.labels(), strict=True):
        stored = Image.open(path)
        red, _, blue = stored.getpixel((0, 0))
        assert stored.mode == "RGB"
        assert item.file.startswith(f"images/{label}/")
        assert dataset.classes[label] == ("red" if red > blue else "blue")


def test_summary_reports_sizes_modes_formats(store):
    bmp = io.BytesIO()
    Image.new("L", (50, 5)).save(bmp, format="BMP")
    files = {
        "a/1.png": _png((1, 1, 1), (10, 20)),
        "a/2.png": _png((2, 2, 2), (30, 40)),
        "b/3.bmp": bmp.getvalue(),
    }

    summary = ingest_zip(_zip(files), "sizes", store).summary()

    assert summary["num_images"] == 3
    assert summary["counts"] == {"a": 2, "b": 1}
    assert summary["sizes"] == {"min": [10, 5], "max": [50, 40], "median": [30, 20]}
    assert summary["modes"] == {"RGB": 2, "L": 1}
    assert summary["formats"] == {"PNG": 2, "BMP": 1}
    assert json.loads(json.dumps(summary)) == summary


def test_load_returns_stored_dataset(store):
    dataset = ingest_zip(_zip(_two_classes()), "colours", store)

    assert load_image_dataset(dataset.id, store) == dataset


def test_load_unknown_id_is_rejected(store):
    with pytest.raises(RunNotFoundError) as caught:
        load_image_dataset("0123456789abcdef", store)

    assert caught.value.key == "errors.dataset_not_found"
    assert "0123456789abcdef" in caught.value.message("zh-CN")


def test_load_with_missing_files_is_rejected(store):
    dataset = ingest_zip(_zip(_two_classes()), "colours", store)
    (dataset.path / "manifest.json").unlink()

    with pytest.raises(DatasetError) as caught:
        load_image_dataset(dataset.id, store)

    assert caught.value.key == "errors.dataset_files_missing"


# Classes.


def test_classes_sort_naturally(store):
    files = {
        f"{name}/a.png": _png((index * 20, 0, 0)) for index, name in enumerate(["10", "2", "1"])
    }

    dataset = ingest_zip(_zip(files), "numbers", store)

    assert dataset.classes == ("1", "2", "10")
    assert sorted(["img10", "img2", "Img1"], key=natural_key) == ["Img1", "img2", "img10"]


def test_top_level_file_is_skipped(store):
    files = _two_classes()
    files["loose.png"] = _png((5, 5, 5))

    dataset = ingest_zip(_zip(files), "loose", store)

    assert [(notice.source, notice.key) for notice in dataset.skipped] == [
        ("loose.png", "ingest.skipped.no_class_folder")
    ]


def test_small_class_and_conflicting_label_warn(store):
    shared = _png((9, 9, 9))
    files = {"a/1.png": shared, "a/2.png": _png((1, 1, 1)), "b/1.png": shared}

    dataset = ingest_zip(_zip(files), "warnings", store)

    keys = sorted(notice.key for notice in dataset.warnings)
    assert keys == ["ingest.warning.few_images", "ingest.warning.same_image_in_classes"]
    few = next(n for n in dataset.warnings if n.key == "ingest.warning.few_images")
    assert few.params == {"class_name": "b", "count": 1}
    assert "b" in few.message("en")


# Typed files.


def test_typed_files_become_classes(store):
    files = [
        ("a.png", _png((200, 0, 0)), " 合格 "),
        ("b.png", _png((0, 200, 0)), "不合格"),
        ("c.png", _png((0, 0, 200)), "合格"),
        (".DS_Store", b"junk", "合格"),
    ]

    dataset = ingest_files(files, "typed", store)

    assert dataset.counts() == {"不合格": 1, "合格": 2}
    assert dataset.ignored == (".DS_Store",)


def test_typed_files_need_a_class_name(store):
    files = [("a.png", _png((1, 1, 1)), "cat"), ("b.png", _png((2, 2, 2)), "  ")]

    with pytest.raises(DatasetError) as caught:
        ingest_files(files, "typed", store)

    assert caught.value.key == "errors.class_name_empty"
    assert caught.value.params["source"] == "b.png"


def test_typed_files_respect_count_limit(store):
    files = [(f"{index}.png", _png((index, 0, 0)), "c") for index in range(3)]

    with pytest.raises(LimitExceededError) as caught:
        ingest_files(files, "typed", store, Limits(max_files=2))

    assert caught.value.key == "errors.too_many_files"


# Bundled sample.


def test_digits_sample_ingests(store):
    dataset = ingest_folder(ROOT / "assets" / "digits", "digits", store)

    assert dataset.classes == tuple(str(digit) for digit in range(10))
    assert len(dataset.items) == 1797
    assert dataset.summary()["sizes"]["max"] == [8, 8]
    assert dataset.summary()["modes"] == {"L": 1797}
    assert dataset.skipped == ()


def test_ingest_message_keys_are_in_catalogs():
    pattern = re.compile(r'"((?:errors|ingest)\.[a-z_.]+)"')
    sources = ["imaging.py", "archives.py", "image_datasets.py"]
    keys = {
        key
        for source in sources
        for key in pattern.findall((ROOT / "bigmodel" / source).read_text(encoding="utf-8"))
    }

    assert len(keys) > 20
    for language in i18n.LANGUAGES:
        assert sorted(keys - set(i18n.catalog(language))) == [], language

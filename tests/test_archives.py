"""Safe reading of zip archives and folders: names, junk, unsafe paths and size limits."""

import io
import os
import stat
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from bigmodel import archives
from bigmodel.archives import is_junk, read_folder, read_zip
from bigmodel.config import Limits
from bigmodel.errors import InvalidUploadError, LimitExceededError

CASES = Path(__file__).parent / "cases"
MiB = 1024**2


def _zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _zip_with_raw_names(files: dict[bytes, bytes]) -> bytes:
    """Build a zip whose names are the given bytes, stored without the UTF-8 flag.

    `zipfile` sets the flag on every non-ASCII name it writes, so each member is
    written under an ASCII placeholder of the same length, then renamed in place.
    """
    placeholders = {raw: f"{index:0{len(raw)}d}".encode() for index, raw in enumerate(files)}
    data = _zip({placeholder.decode(): files[raw] for raw, placeholder in placeholders.items()})
    for raw, placeholder in placeholders.items():
        assert data.count(placeholder) == 2  # local header and central directory
        data = data.replace(placeholder, raw)
    return data


def _patch_central_directory(data: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite bytes at `offset` inside the first central directory header."""
    start = data.index(b"PK\x01\x02")
    return data[: start + offset] + value + data[start + offset + len(value) :]


def _paths(source, limits=None) -> list[str]:
    with read_zip(source, limits) as contents:
        return sorted(member.path for member in contents.members)


# Names.


def test_macos_junk_is_ignored():
    with read_zip(CASES / "B36_macos_zip.zip") as contents:
        paths = sorted(member.path for member in contents.members)
        ignored = contents.ignored
        skipped = contents.skipped

    assert paths == ["cat/001.png", "cat/002.png", "dog/001.png", "dog/002.png"]
    assert ".DS_Store" in ignored
    assert "cat/.DS_Store" in ignored
    assert "__MACOSX/cat/._001.png" in ignored
    assert skipped == []


def test_cp936_names_without_flag_decode():
    paths = _paths(CASES / "B37_gbk_names.zip")

    assert {path.split("/")[0] for path in paths} == {"合格", "不合格"}
    assert "合格/图片001.png" in paths


def test_other_cp936_names_decode():
    data = _zip_with_raw_names(
        {
            "良品/样本一.png".encode("cp936"): b"a",
            "次品/样本二.png".encode("cp936"): b"b",
            "ascii/plain.png".encode("cp936"): b"c",
        }
    )

    assert _paths(data) == ["ascii/plain.png", "次品/样本二.png", "良品/样本一.png"]


def test_utf8_flagged_names_decode():
    data = _zip({"正常/图像.png": b"a", "故障/图像.png": b"b"})
    flags = [info.flag_bits & 0x800 for info in zipfile.ZipFile(io.BytesIO(data)).infolist()]

    assert flags == [0x800, 0x800]
    assert _paths(data) == ["故障/图像.png", "正常/图像.png"]


def test_utf8_names_without_flag_decode():
    data = _zip_with_raw_names({"正常/a.png".encode(): b"a", "故障/b.png".encode(): b"b"})

    assert _paths(data) == ["故障/b.png", "正常/a.png"]


def test_backslash_names_become_posix_paths():
    assert _paths(_zip({"cat\\a.png": b"a", "dog\\b.png": b"b"})) == ["cat/a.png", "dog/b.png"]


def test_dot_parts_are_dropped():
    assert _paths(_zip({"./cat/a.png": b"a", "dog//b.png": b"b"})) == ["cat/a.png", "dog/b.png"]


# Wrapper folders.


def test_single_wrapper_folder_is_removed():
    with read_zip(CASES / "B39_wrapped_toplevel.zip") as contents:
        paths = sorted(member.path for member in contents.members)
        sources = sorted(member.source for member in contents.members)

    assert paths[0] == "cat/001.png"
    assert {path.split("/")[0] for path in paths} == {"cat", "dog"}
    assert sources[0] == "my_dataset/cat/001.png"


def test_nested_wrappers_are_removed_beside_junk():
    data = _zip(
        {
            "__MACOSX/outer/._x": b"junk",
            "outer/inner/cat/a.png": b"a",
            "outer/inner/dog/b.png": b"b",
        }
    )

    assert _paths(data) == ["cat/a.png", "dog/b.png"]


def test_single_class_folder_is_kept():
    assert _paths(_zip({"wrap/cat/a.png": b"a", "wrap/cat/b.png": b"b"})) == [
        "cat/a.png",
        "cat/b.png",
    ]


def test_wrapper_with_top_level_file_is_kept():
    data = _zip({"notes.txt": b"n", "wrap/cat/a.png": b"a", "wrap/dog/b.png": b"b"})

    assert _paths(data) == ["notes.txt", "wrap/cat/a.png", "wrap/dog/b.png"]


# Unsafe members.


def test_zip_slip_case_members_are_skipped():
    with read_zip(CASES / "B42_zip_slip.zip") as contents:
        paths = sorted(member.path for member in contents.members)
        reasons = {notice.source: notice.key for notice in contents.skipped}

    assert paths == ["cat/001.png", "cat/002.png", "dog/001.png", "dog/002.png"]
    assert reasons == {
        "../../B42_outside_dotdot.txt": "ingest.skipped.parent_path",
        "/tmp/B42_absolute.txt": "ingest.skipped.absolute_path",
        "cat/../../B42_nested_dotdot.txt": "ingest.skipped.parent_path",
        "C:\\B42_drive_letter.txt": "ingest.skipped.drive_path",
        "cat/link_to_etc": "ingest.skipped.symlink",
    }


def test_other_escaping_members_are_skipped():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in [
            "..\\..\\evil.png",
            "\\\\server\\share\\x.png",
            "d:x.png",
            "cat/./../../y.png",
        ]:
            archive.writestr(name, b"x")
        link = zipfile.ZipInfo("dog/link.png")
        link.create_system = 3
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("cat/ok.png", b"ok")

    with read_zip(buffer.getvalue()) as contents:
        paths = [member.path for member in contents.members]
        reasons = {notice.source: notice.key for notice in contents.skipped}

    assert paths == ["cat/ok.png"]
    assert reasons == {
        "..\\..\\evil.png": "ingest.skipped.parent_path",
        "\\\\server\\share\\x.png": "ingest.skipped.absolute_path",
        "d:x.png": "ingest.skipped.drive_path",
        "cat/./../../y.png": "ingest.skipped.parent_path",
        "dog/link.png": "ingest.skipped.symlink",
    }


def test_encrypted_member_is_skipped():
    data = _patch_central_directory(_zip({"cat/a.png": b"a"}), 8, (0x1).to_bytes(2, "little"))

    with read_zip(data) as contents:
        assert contents.members == []
        assert [notice.key for notice in contents.skipped] == ["ingest.skipped.encrypted"]


def test_not_a_zip_is_rejected():
    with pytest.raises(InvalidUploadError) as caught:
        read_zip(b"name,value\n1,2\n")

    assert caught.value.key == "errors.not_a_zip"


# Limits.


def test_zip_bomb_case_is_rejected_before_inflating():
    tracemalloc.start()
    with pytest.raises(LimitExceededError) as caught:
        read_zip(CASES / "B21_zip_expands_300MB.zip")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert caught.value.key == "errors.member_too_large"
    assert caught.value.params["source"] == "cat/padding.bin"
    assert caught.value.params["size"] == "300.0 MiB"
    assert caught.value.params["setting"] == "BIGMODEL_MAX_MEMBER_BYTES"
    assert peak < 2 * MiB


def test_compression_ratio_is_checked():
    data = _zip({"cat/a.png": b"\0" * (2 * MiB)})

    with pytest.raises(LimitExceededError) as caught:
        read_zip(data)

    assert caught.value.key == "errors.compression_ratio_too_high"
    assert caught.value.params["ratio"] > 200
    assert caught.value.params["limit"] == 200


def test_small_members_skip_ratio_check():
    data = _zip({"cat/a.png": b"\0" * (MiB // 2)})

    assert _paths(data) == ["cat/a.png"]


def test_total_size_is_checked():
    data = _zip({f"cat/{index}.png": bytes(1000) for index in range(3)}, zipfile.ZIP_STORED)

    with pytest.raises(LimitExceededError) as caught:
        read_zip(data, Limits(max_archive_bytes=2500))

    assert caught.value.key == "errors.upload_too_large"
    assert caught.value.params["limit"] == "2.4 KiB"


def test_entry_count_is_checked_before_parsing(monkeypatch):
    data = _zip({f"cat/{index}.png": b"x" for index in range(5)})

    def fail(*args, **kwargs):
        raise AssertionError("the central directory was parsed")

    monkeypatch.setattr(archives.zipfile, "ZipFile", fail)
    with pytest.raises(LimitExceededError) as caught:
        read_zip(data, Limits(max_files=3))

    assert caught.value.key == "errors.too_many_files"
    assert caught.value.params["count"] == 5


def test_understated_member_size_not_read_past():
    data = _zip({"cat/a.png": b"a" * 1000})
    understated = _patch_central_directory(data, 24, (10).to_bytes(4, "little"))

    with read_zip(understated) as contents:
        member = contents.members[0]
        assert member.size == 10
        with pytest.raises(InvalidUploadError) as caught:
            member.read()

    assert caught.value.key == "errors.member_unreadable"


def test_member_read_returns_bytes():
    with read_zip(_zip({"cat/a.png": b"hello"})) as contents:
        assert contents.members[0].read() == b"hello"


# Folders.


def test_folder_junk_is_ignored():
    contents = read_folder(CASES / "B31_folder_with_junk")
    paths = sorted(member.path for member in contents.members)

    assert paths == ["cat/001.png", "cat/readme.txt", "dog/001.png", "dog/002.png"]
    assert sorted(contents.ignored) == [
        ".DS_Store",
        "cat/.DS_Store",
        "cat/._001.png",
        "cat/Thumbs.db",
        "cat/desktop.ini",
    ]


def test_folder_symlinks_are_skipped(tmp_path):
    outside = tmp_path / "secret.png"
    outside.write_bytes(b"secret")
    root = tmp_path / "upload"
    (root / "cat").mkdir(parents=True)
    (root / "cat" / "a.png").write_bytes(b"a")
    os.symlink(outside, root / "cat" / "link.png")
    os.symlink(tmp_path, root / "dog")

    contents = read_folder(root)

    assert [member.path for member in contents.members] == ["cat/a.png"]
    assert sorted(notice.source for notice in contents.skipped) == ["cat/link.png", "dog"]
    assert {notice.key for notice in contents.skipped} == {"ingest.skipped.symlink"}


def test_folder_wrapper_is_removed(tmp_path):
    for path in ["wrap/cat/a.png", "wrap/dog/b.png"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"x")

    contents = read_folder(tmp_path)

    assert sorted(member.path for member in contents.members) == ["cat/a.png", "dog/b.png"]


def test_missing_folder_is_rejected(tmp_path):
    with pytest.raises(InvalidUploadError) as caught:
        read_folder(tmp_path / "missing")

    assert caught.value.key == "errors.folder_not_found"


def test_file_grown_after_listing_is_stopped(tmp_path):
    (tmp_path / "cat").mkdir()
    image = tmp_path / "cat" / "a.png"
    image.write_bytes(b"x" * 100)
    contents = read_folder(tmp_path, Limits(max_member_bytes=1000))

    image.write_bytes(b"x" * 5000)

    with pytest.raises(LimitExceededError) as caught:
        contents.members[0].read()
    assert caught.value.key == "errors.member_too_large"


def test_total_read_is_counted_across_members(tmp_path):
    (tmp_path / "cat").mkdir()
    for name in ["a.png", "b.png"]:
        (tmp_path / "cat" / name).write_bytes(b"x" * 100)
    contents = read_folder(tmp_path, Limits(max_archive_bytes=300))

    for name in ["a.png", "b.png"]:
        (tmp_path / "cat" / name).write_bytes(b"x" * 200)
    contents.members[0].read()

    with pytest.raises(LimitExceededError) as caught:
        contents.members[1].read()
    assert caught.value.key == "errors.upload_too_large"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("__MACOSX/cat/._a.png", True),
        ("cat/.DS_Store", True),
        ("cat/._001.png", True),
        ("cat/THUMBS.DB", True),
        ("cat/Desktop.ini", True),
        (".git/config", True),
        ("cat/001.png", False),
        ("cat/readme.txt", False),
        ("../x.png", False),
    ],
)
def test_is_junk(path, expected):
    assert is_junk(path) is expected

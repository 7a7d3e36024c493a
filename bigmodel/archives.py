"""Safe reading of uploaded zip archives and folders.

Nothing is extracted to disk: members are read into memory one at a time, through
`Member.read`. Names are made relative POSIX paths, or the member is skipped with the
reason. System junk (`__MACOSX/`, dot files, `Thumbs.db`, `desktop.ini`) is ignored.
Limits are checked twice: first against the sizes the archive declares, then against
the bytes actually read, because declared sizes can lie.
"""

from __future__ import annotations

import collections
import dataclasses
import io
import logging
import lzma
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

from bigmodel.config import Limits
from bigmodel.errors import InvalidUploadError, LimitExceededError
from bigmodel.imaging import Notice

logger = logging.getLogger(__name__)

Skipped = Notice
"""A file left out of an upload, with the catalog key of the reason."""

JUNK_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini"})
"""Path parts, compared without case, that operating systems add to archives and folders."""

RATIO_CHECK_MIN_BYTES = 1024**2
"""Members smaller than this are not checked for their compression ratio.

Small files of repeated bytes compress far beyond any sensible ratio and are harmless.
"""

_CHUNK_BYTES = 1024**2
_EOCD_SIGNATURE = b"PK\x05\x06"
_EOCD_BYTES = 22
_UTF8_NAME_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_DRIVE_PREFIX = re.compile(r"^[A-Za-z]:")
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    NotImplementedError,
    OSError,
)


class _ReadBudget:
    """Bytes that the members of one upload may still return, across all reads."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.total_read = 0

    def read(self, stream: IO[bytes], source: str) -> bytes:
        """Read `stream` to its end, raising as soon as a limit is passed."""
        chunks: list[bytes] = []
        member_read = 0
        while chunk := stream.read(_CHUNK_BYTES):
            member_read += len(chunk)
            self.total_read += len(chunk)
            _check_member_size(source, member_read, self.limits)
            _check_total_size(self.total_read, self.limits)
            chunks.append(chunk)
        return b"".join(chunks)


@dataclasses.dataclass(frozen=True)
class Member:
    """One file of an upload, read on request.

    Attributes:
        path: relative POSIX path inside the upload, after any wrapper folder was removed.
        source: the name as stored in the upload, for messages.
        size: size in bytes that the upload declares.
    """

    path: str
    source: str
    size: int
    _open: Callable[[], IO[bytes]] = dataclasses.field(repr=False, compare=False)
    _budget: _ReadBudget = dataclasses.field(repr=False, compare=False)

    def read(self) -> bytes:
        """Return the member's bytes. Each call counts toward the upload's size limits.

        Raises:
            LimitExceededError: the bytes read pass a size limit.
            InvalidUploadError: the member is damaged or cannot be read.
        """
        try:
            with self._open() as stream:
                return self._budget.read(stream, self.source)
        except _READ_ERRORS as error:
            logger.info("Cannot read %s: %s", self.source, error)
            raise InvalidUploadError("errors.member_unreadable", source=self.source) from error


@dataclasses.dataclass
class ArchiveContents:
    """Files of an upload that are safe to read, and what was left out.

    Use it as a context manager, or call `close()`, to release the zip file.

    Attributes:
        members: files to read, in the upload's order.
        skipped: files left out with the reason, such as paths that would escape the
            upload or symbolic links.
        ignored: names of system junk left out without a message.
    """

    members: list[Member]
    skipped: list[Notice]
    ignored: list[str]
    _close: Callable[[], None] = dataclasses.field(default=lambda: None, repr=False)

    def close(self) -> None:
        self._close()

    def __enter__(self) -> ArchiveContents:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def read_zip(source: bytes | Path, limits: Limits | None = None) -> ArchiveContents:
    """Open a zip archive for safe reading of its members.

    Names stored without the UTF-8 flag are decoded as UTF-8 when every such name in
    the archive is valid UTF-8, and as CP936 (the Windows code page for Simplified
    Chinese) otherwise.

    Args:
        source: the archive's bytes, or the path of the archive file.
        limits: upload limits. Defaults to `Limits.from_env()`.

    Raises:
        InvalidUploadError: `source` is not a zip archive.
        LimitExceededError: the archive or one member is larger than a limit, a
            member is compressed more than `limits.max_compression_ratio`, or there are
            more than `limits.max_files` entries. Checked before any member is read.
    """
    limits = limits or Limits.from_env()
    # The file stays open after this function returns, until ArchiveContents.close().
    file = io.BytesIO(source) if isinstance(source, bytes) else Path(source).open("rb")  # noqa: SIM115
    try:
        archive = _open_zip(file, limits)
        contents = _list_zip(archive, limits)
    except BaseException:
        file.close()
        raise

    def close() -> None:
        archive.close()
        file.close()

    contents._close = close
    return contents


def read_folder(path: Path, limits: Limits | None = None) -> ArchiveContents:
    """List the files of a folder for safe reading, as `read_zip` does for an archive.

    Symbolic links are skipped and never followed, so no file outside `path` is read.

    Raises:
        InvalidUploadError: `path` is not a folder.
        LimitExceededError: as for `read_zip`, from the file sizes on disk.
    """
    limits = limits or Limits.from_env()
    root = Path(path)
    if not root.is_dir():
        raise InvalidUploadError("errors.folder_not_found", path=str(root))

    budget = _ReadBudget(limits)
    members: list[Member] = []
    skipped: list[Notice] = []
    ignored: list[str] = []
    for count, (relative, entry) in enumerate(_walk(root), start=1):
        _check_file_count(count, limits)
        if is_junk(relative):
            ignored.append(relative)
        elif entry.is_symlink():
            skipped.append(Notice(relative, "ingest.skipped.symlink"))
        elif entry.is_file():
            opener = _folder_opener(entry)
            members.append(Member(relative, relative, entry.stat().st_size, opener, budget))

    check_declared_sizes([(member.source, member.size, None) for member in members], limits)
    return ArchiveContents(_strip_wrapper_folders(members), skipped, ignored)


def _walk(root: Path) -> Iterable[tuple[str, Path]]:
    """Yield every file, folder and link under `root` with its relative POSIX path."""
    for folder, folder_names, file_names in os.walk(root, followlinks=False):
        for name in sorted(folder_names) + sorted(file_names):
            entry = Path(folder) / name
            yield entry.relative_to(root).as_posix(), entry
        folder_names[:] = sorted(name for name in folder_names if not is_junk(name))


def _folder_opener(entry: Path) -> Callable[[], IO[bytes]]:
    def open_file() -> IO[bytes]:
        return entry.open("rb")

    return open_file


def is_junk(path: str) -> bool:
    """Return whether `path` is system junk: `__MACOSX/`, a dot file, `Thumbs.db` or `desktop.ini`.

    A part of exactly `.` or `..` is not junk, because such paths are skipped as unsafe.
    """
    for part in path.replace("\\", "/").split("/"):
        if part.casefold() in JUNK_NAMES:
            return True
        if part.startswith(".") and part not in (".", ".."):
            return True
    return False


def check_declared_sizes(entries: Sequence[tuple[str, int, int | None]], limits: Limits) -> None:
    """Check declared sizes against the limits before anything is read.

    Args:
        entries: `(name, size, compressed_size)` of each file; `compressed_size` is
            `None` for files that are not compressed.
        limits: upload limits.

    Raises:
        LimitExceededError: names the first limit that is passed and the value found.
    """
    _check_file_count(len(entries), limits)
    for name, size, compressed_size in entries:
        _check_member_size(name, size, limits)
        if compressed_size is not None and size > RATIO_CHECK_MIN_BYTES:
            _check_ratio(name, size, compressed_size, limits)
    _check_total_size(sum(size for _, size, _ in entries), limits)


def _check_file_count(count: int, limits: Limits) -> None:
    if count > limits.max_files:
        raise LimitExceededError(
            "errors.too_many_files",
            count=count,
            limit=limits.max_files,
            setting="BIGMODEL_MAX_FILES",
        )


def _check_member_size(name: str, size: int, limits: Limits) -> None:
    if size > limits.max_member_bytes:
        raise LimitExceededError(
            "errors.member_too_large",
            source=name,
            size=format_bytes(size),
            limit=format_bytes(limits.max_member_bytes),
            setting="BIGMODEL_MAX_MEMBER_BYTES",
        )


def _check_total_size(size: int, limits: Limits) -> None:
    if size > limits.max_archive_bytes:
        raise LimitExceededError(
            "errors.upload_too_large",
            size=format_bytes(size),
            limit=format_bytes(limits.max_archive_bytes),
            setting="BIGMODEL_MAX_ARCHIVE_BYTES",
        )


def _check_ratio(name: str, size: int, compressed_size: int, limits: Limits) -> None:
    ratio = size / max(compressed_size, 1)
    if ratio > limits.max_compression_ratio:
        raise LimitExceededError(
            "errors.compression_ratio_too_high",
            source=name,
            ratio=round(ratio),
            limit=limits.max_compression_ratio,
            setting="BIGMODEL_MAX_COMPRESSION_RATIO",
        )


def format_bytes(size: int) -> str:
    """Format a byte count for messages, such as `300.0 MiB`."""
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def _open_zip(file: IO[bytes], limits: Limits) -> zipfile.ZipFile:
    """Check the archive's size and entry count from its end record, then parse it."""
    file.seek(0, os.SEEK_END)
    _check_total_size(file.tell(), limits)

    entry_count = _declared_entry_count(file)
    if entry_count is not None:
        _check_file_count(entry_count, limits)

    file.seek(0)
    try:
        return zipfile.ZipFile(file)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        logger.info("Upload is not a zip archive: %s", error)
        raise InvalidUploadError("errors.not_a_zip") from error


def _declared_entry_count(file: IO[bytes]) -> int | None:
    """Read the entry count from the zip end record, before the whole directory is parsed.

    Returns None when there is no end record, or for ZIP64 archives, which store the
    count elsewhere. The caller checks the count again after parsing.
    """
    size = file.seek(0, os.SEEK_END)
    tail_length = min(size, _EOCD_BYTES + 0xFFFF)
    file.seek(size - tail_length)
    tail = file.read(tail_length)

    at = tail.rfind(_EOCD_SIGNATURE)
    if at < 0 or len(tail) - at < _EOCD_BYTES:
        return None
    count = int.from_bytes(tail[at + 10 : at + 12], "little")
    return None if count == 0xFFFF else count


def _list_zip(archive: zipfile.ZipFile, limits: Limits) -> ArchiveContents:
    infos = archive.infolist()
    names = _decode_names(infos)
    _check_file_count(len(infos), limits)
    check_declared_sizes(
        [
            (names[index], info.file_size, _compressed_size(info))
            for index, info in enumerate(infos)
            if not info.is_dir()
        ],
        limits,
    )

    budget = _ReadBudget(limits)
    members: list[Member] = []
    skipped: list[Notice] = []
    ignored: list[str] = []
    for info, name in zip(infos, names, strict=True):
        if info.is_dir() or name.endswith(("/", "\\")):
            continue
        reason, path = _classify_zip_name(info, name)
        if reason == "junk":
            ignored.append(name)
        elif reason is not None:
            skipped.append(Notice(name, reason))
        else:
            opener = _zip_opener(archive, info)
            members.append(Member(path, name, info.file_size, opener, budget))

    _log_left_out(skipped, ignored)
    return ArchiveContents(_strip_wrapper_folders(members), skipped, ignored)


def _compressed_size(info: zipfile.ZipInfo) -> int | None:
    return None if info.compress_type == zipfile.ZIP_STORED else info.compress_size


def _zip_opener(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    def open_member() -> IO[bytes]:
        return archive.open(info)

    return open_member


def _decode_names(infos: Sequence[zipfile.ZipInfo]) -> list[str]:
    """Decode member names, repairing those that `zipfile` decoded as CP437.

    Zip tools on Chinese Windows store names in CP936 without the UTF-8 flag, and
    some macOS tools store UTF-8 without it. `zipfile` decodes every unflagged name
    as CP437, which maps each byte to one character, so encoding back to CP437
    recovers the stored bytes.
    """
    raw_names = [
        info.filename.encode("cp437")
        for info in infos
        if not info.flag_bits & _UTF8_NAME_FLAG and not info.filename.isascii()
    ]
    encoding = "utf-8" if all(_is_utf8(raw) for raw in raw_names) else "cp936"
    return [_decode_name(info, encoding) for info in infos]


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_name(info: zipfile.ZipInfo, encoding: str) -> str:
    if info.flag_bits & _UTF8_NAME_FLAG or info.filename.isascii():
        return info.filename
    raw = info.filename.encode("cp437")
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError:
        logger.warning("Member name %r is neither UTF-8 nor CP936, so it is kept as CP437", raw)
        return info.filename


def _classify_zip_name(info: zipfile.ZipInfo, name: str) -> tuple[str | None, str]:
    """Return the reason to leave a member out, or None, and its safe relative path.

    The reason is `"junk"` for system junk, or the catalog key of a skip message.
    """
    normalized = name.replace("\\", "/")
    parts = [part for part in normalized.split("/") if part not in ("", ".")]

    if normalized.startswith("/"):
        return "ingest.skipped.absolute_path", ""
    if _DRIVE_PREFIX.match(normalized):
        return "ingest.skipped.drive_path", ""
    if ".." in parts:
        return "ingest.skipped.parent_path", ""
    if is_junk(normalized):
        return "junk", ""
    if _is_symlink(info):
        return "ingest.skipped.symlink", ""
    if info.flag_bits & _ENCRYPTED_FLAG:
        return "ingest.skipped.encrypted", ""
    if not parts:
        return "ingest.skipped.parent_path", ""
    return None, "/".join(parts)


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    """Return whether a member is a symbolic link, from the Unix mode in `external_attr`."""
    return stat.S_ISLNK(info.external_attr >> 16)


def _strip_wrapper_folders(members: list[Member]) -> list[Member]:
    """Remove top folders that contain everything, so `data/cat/1.png` becomes `cat/1.png`.

    A folder is removed only while every member is at least two folders deep below
    it, so class folders are never removed.
    """
    while members:
        first_parts = {member.path.split("/", 1)[0] for member in members}
        if len(first_parts) != 1 or any(member.path.count("/") < 2 for member in members):
            return members
        members = [
            dataclasses.replace(member, path=member.path.split("/", 1)[1]) for member in members
        ]
    return members


def _log_left_out(skipped: Sequence[Notice], ignored: Sequence[str]) -> None:
    """Log one line per kind of skipped member, so a large archive cannot flood the log."""
    by_key = collections.Counter(notice.key for notice in skipped)
    for key, count in by_key.items():
        example = next(notice.source for notice in skipped if notice.key == key)
        logger.warning("Skipped %d archive members as %s, such as %r", count, key, example)
    if ignored:
        logger.debug("Ignored %d junk entries", len(ignored))

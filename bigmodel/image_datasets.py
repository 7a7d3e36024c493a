"""Canonical image datasets: an upload ingested once, decoded once, stored under its content hash.

An upload (a zip, a folder, or files with a class typed for each) contains one folder
per class. Each image is decoded by `bigmodel.imaging.decode_image` and stored again as
an 8-bit RGB PNG, so training, preview and prediction read one format and never
decode the user's file again. Files that cannot be used are listed with the reason.

Layout under `Home.datasets`:

```
<id>/manifest.json          classes, items, skipped files, warnings and summary
<id>/images/<label>/000001.png
```

`<id>` is the first 16 hex digits of a SHA-256 over the sorted pairs of class name
and SHA-256 of each kept file's bytes, so the same content ingested twice is stored
once.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import statistics
import tempfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from PIL import Image

from bigmodel.archives import (
    ArchiveContents,
    Skipped,
    check_declared_sizes,
    is_junk,
    read_folder,
    read_zip,
)
from bigmodel.config import Limits
from bigmodel.errors import DatasetError, InvalidUploadError, LimitExceededError
from bigmodel.imaging import IMAGE_EXTENSIONS, DecodedImage, Notice, decode_image, is_image_name
from bigmodel.store import DatasetRecord, RunStore, utcnow

logger = logging.getLogger(__name__)

KIND = "image"
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
MIN_CLASSES = 2
MIN_IMAGES_PER_CLASS = 2
"""Classes with fewer images get a warning, because they cannot appear in both splits."""

_DIGITS = re.compile(r"(\d+)")

__all__ = [
    "ImageDataset",
    "ImageItem",
    "Notice",
    "Skipped",
    "ingest_files",
    "ingest_folder",
    "ingest_zip",
    "load_image_dataset",
    "natural_key",
]


@dataclasses.dataclass(frozen=True)
class ImageItem:
    """One stored image of a dataset.

    Attributes:
        file: path of the canonical PNG, relative to the dataset folder.
        label: index of the class in `ImageDataset.classes`.
        source: the file's name in the upload.
        width: width in pixels, after the EXIF orientation was applied.
        height: height in pixels, after the EXIF orientation was applied.
        mode: Pillow mode of the uploaded file, such as `"RGBA"` or `"I;16"`.
        format: Pillow format read from the uploaded bytes, such as `"JPEG"`.
    """

    file: str
    label: int
    source: str
    width: int
    height: int
    mode: str
    format: str


@dataclasses.dataclass(frozen=True)
class ImageDataset:
    """An ingested image dataset, as stored in its folder.

    Attributes:
        id: content hash, also the name of the dataset folder.
        name: name the user gave at the first ingest of this content.
        path: the dataset folder.
        classes: class names in natural order ("2" before "10"); labels index them.
        items: every stored image.
        skipped: files of the upload left out, with the reason.
        warnings: problems that did not stop ingest, such as a class with one image.
        ignored: system junk left out without a message, such as `.DS_Store`.
    """

    id: str
    name: str
    path: Path
    classes: tuple[str, ...]
    items: tuple[ImageItem, ...]
    skipped: tuple[Notice, ...] = ()
    warnings: tuple[Notice, ...] = ()
    ignored: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """Return the number of images of each class, in class order."""
        labels = collections.Counter(item.label for item in self.items)
        return {name: labels[index] for index, name in enumerate(self.classes)}

    def files(self) -> list[Path]:
        """Return the absolute paths of the stored PNGs, in item order."""
        return [self.path / item.file for item in self.items]

    def labels(self) -> list[int]:
        return [item.label for item in self.items]

    def summary(self) -> dict[str, Any]:
        """Describe the dataset in plain JSON types, for the store and the data page.

        `sizes` contains `[width, height]` pairs, each taken per dimension: `min` is the
        smallest width and the smallest height, which may come from different images.
        """
        widths = [item.width for item in self.items]
        heights = [item.height for item in self.items]
        return {
            "classes": list(self.classes),
            "counts": self.counts(),
            "num_images": len(self.items),
            "num_skipped": len(self.skipped),
            "num_warnings": len(self.warnings),
            "num_ignored": len(self.ignored),
            "sizes": {
                "min": [min(widths), min(heights)],
                "max": [max(widths), max(heights)],
                "median": [round(statistics.median(widths)), round(statistics.median(heights))],
            },
            "modes": dict(collections.Counter(item.mode for item in self.items)),
            "formats": dict(collections.Counter(item.format for item in self.items)),
        }


@dataclasses.dataclass(frozen=True)
class _Candidate:
    """A file of an upload that may become an item, with its class if it has one."""

    class_name: str | None
    source: str
    read: Callable[[], bytes]


@dataclasses.dataclass(frozen=True)
class _StagedImage:
    """A decoded image saved as a PNG in the staging folder, waiting for its label.

    Only the PNG keeps the pixels, so memory use does not grow with the upload.
    """

    class_name: str
    source: str
    digest: str
    file: Path
    width: int
    height: int
    mode: str
    format: str


@dataclasses.dataclass
class _Staging:
    """Images decoded into a temporary folder, and the notices collected on the way."""

    folder: Path
    images: list[_StagedImage] = dataclasses.field(default_factory=list)
    skipped: list[Notice] = dataclasses.field(default_factory=list)
    warnings: list[Notice] = dataclasses.field(default_factory=list)
    ignored: list[str] = dataclasses.field(default_factory=list)


def natural_key(text: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key that orders numbers inside text by value, so "2" sorts before "10"."""
    parts = _DIGITS.split(text.casefold())
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts)), text


def ingest_zip(
    source: bytes | Path, name: str, store: RunStore, limits: Limits | None = None
) -> ImageDataset:
    """Ingest a zip archive with one folder per class into a canonical image dataset.

    Args:
        source: the archive's bytes, or the path of the archive file.
        name: display name of the dataset.
        store: the run store that records the dataset.
        limits: upload limits. Defaults to `Limits.from_env()`.

    Returns:
        The stored dataset. If the same content was ingested before, the earlier
        dataset, with its earlier name, is returned and nothing new is written.

    Raises:
        InvalidUploadError: `source` is not a zip archive.
        LimitExceededError: the archive passes a size, count or compression limit.
        DatasetError: fewer than two classes have usable images.
    """
    limits = limits or Limits.from_env()
    with read_zip(source, limits) as contents:
        return _ingest_contents(contents, name, store, limits)


def ingest_folder(
    path: Path, name: str, store: RunStore, limits: Limits | None = None
) -> ImageDataset:
    """Ingest a folder with one subfolder per class, as `ingest_zip` does for an archive.

    Symbolic links inside `path` are skipped, never followed.
    """
    limits = limits or Limits.from_env()
    with read_folder(path, limits) as contents:
        return _ingest_contents(contents, name, store, limits)


def ingest_files(
    files: Sequence[tuple[str, bytes, str]],
    name: str,
    store: RunStore,
    limits: Limits | None = None,
) -> ImageDataset:
    """Ingest image files whose class the user typed, such as several batches dropped at once.

    Args:
        files: `(file name, bytes, class name)` of each file. Class names are
            stripped of surrounding whitespace.
        name: display name of the dataset.
        store: the run store that records the dataset.
        limits: upload limits. Defaults to `Limits.from_env()`.

    Raises:
        DatasetError: a class name is empty, or fewer than two classes have usable images.
        LimitExceededError: the files pass a size or count limit.
    """
    limits = limits or Limits.from_env()
    for file_name, _, class_name in files:
        if not class_name.strip():
            raise DatasetError("errors.class_name_empty", source=file_name)
    check_declared_sizes([(file_name, len(data), None) for file_name, data, _ in files], limits)

    candidates = [
        _Candidate(class_name.strip(), file_name, _constant(data))
        for file_name, data, class_name in files
        if not is_junk(file_name)
    ]
    ignored = [file_name for file_name, _, _ in files if is_junk(file_name)]
    return _ingest(candidates, name, store, limits, skipped=[], ignored=ignored)


def load_image_dataset(dataset_id: str, store: RunStore) -> ImageDataset:
    """Load a stored image dataset from its manifest.

    Raises:
        RunNotFoundError: no dataset has the id `dataset_id`.
        DatasetError: the dataset is not an image dataset, or its files are missing.
    """
    record = store.get_dataset(dataset_id)
    if record.kind != KIND:
        raise DatasetError("errors.dataset_not_image", dataset_id=dataset_id, kind=record.kind)

    manifest_path = Path(record.path) / MANIFEST_NAME
    try:
        manifest = _read_json(manifest_path)
    except FileNotFoundError as error:
        raise DatasetError(
            "errors.dataset_files_missing", dataset_id=dataset_id, path=str(manifest_path)
        ) from error
    return _dataset_from_manifest(manifest, Path(record.path))


def _constant(data: bytes) -> Callable[[], bytes]:
    def read() -> bytes:
        return data

    return read


def _ingest_contents(
    contents: ArchiveContents, name: str, store: RunStore, limits: Limits
) -> ImageDataset:
    candidates = [
        _Candidate(
            member.path.split("/", 1)[0] if "/" in member.path else None, member.source, member.read
        )
        for member in contents.members
    ]
    return _ingest(candidates, name, store, limits, contents.skipped, contents.ignored)


def _ingest(
    candidates: Sequence[_Candidate],
    name: str,
    store: RunStore,
    limits: Limits,
    skipped: Sequence[Notice],
    ignored: Sequence[str],
) -> ImageDataset:
    """Decode `candidates` into a temporary folder, then move it into place under its id."""
    datasets_folder = store.home.datasets
    datasets_folder.mkdir(parents=True, exist_ok=True)
    # NOTE: a process killed during ingest leaves its .ingest-* folder behind, and
    # nothing removes such folders yet.
    staging = _Staging(Path(tempfile.mkdtemp(prefix=".ingest-", dir=datasets_folder)))
    staging.skipped.extend(skipped)
    staging.ignored.extend(ignored)
    try:
        _decode_all(candidates, staging, limits)
        classes = _check_classes(staging)
        dataset_id = _content_id(staging.images)
        dataset = _publish(staging, classes, dataset_id, name, datasets_folder)
    finally:
        shutil.rmtree(staging.folder, ignore_errors=True)

    store.add_dataset(
        DatasetRecord(
            dataset.id, KIND, dataset.name, str(dataset.path), dataset.summary(), utcnow()
        )
    )
    logger.info(
        "Image dataset %s ready: %d images in %d classes, %d files skipped",
        dataset.id,
        len(dataset.items),
        len(dataset.classes),
        len(dataset.skipped),
    )
    return load_image_dataset(dataset.id, store)


def _decode_all(candidates: Iterable[_Candidate], staging: _Staging, limits: Limits) -> None:
    """Decode each candidate and save its pixels as a PNG in the staging folder.

    Files that cannot be used are added to `staging.skipped`. Only a size limit
    passed while reading stops the whole upload.
    """
    incoming = staging.folder / "incoming"
    incoming.mkdir()
    for candidate in sorted(candidates, key=lambda candidate: natural_key(candidate.source)):
        outcome = _read_and_decode(candidate, limits)
        if isinstance(outcome, Notice):
            staging.skipped.append(outcome)
            continue

        class_name, data, image = outcome
        file = incoming / f"{len(staging.images):08d}.png"
        Image.fromarray(image.pixels).save(file, format="PNG")
        digest = hashlib.sha256(data).hexdigest()
        staging.images.append(
            _StagedImage(
                class_name,
                candidate.source,
                digest,
                file,
                image.width,
                image.height,
                image.original_mode,
                image.original_format,
            )
        )
        staging.warnings.extend(image.warnings)


def _read_and_decode(
    candidate: _Candidate, limits: Limits
) -> tuple[str, bytes, DecodedImage] | Notice:
    """Return the class, bytes and decoded image of a candidate, or the reason to skip it.

    Raises:
        LimitExceededError: reading passed an upload size limit.
    """
    if not is_image_name(candidate.source):
        extensions = " ".join(IMAGE_EXTENSIONS)
        return Notice(candidate.source, "ingest.skipped.not_an_image", {"extensions": extensions})
    if candidate.class_name is None:
        return Notice(candidate.source, "ingest.skipped.no_class_folder")

    try:
        data = candidate.read()
    except LimitExceededError:
        raise
    except InvalidUploadError as error:
        return Notice.from_error(candidate.source, error)

    try:
        image = decode_image(data, candidate.source, limits)
    except InvalidUploadError as error:
        return Notice.from_error(candidate.source, error)
    return candidate.class_name, data, image


def _check_classes(staging: _Staging) -> tuple[str, ...]:
    """Return the classes that have images, in natural order, and warn about small ones.

    Raises:
        DatasetError: fewer than `MIN_CLASSES` classes have images.
    """
    counts = collections.Counter(image.class_name for image in staging.images)
    classes = tuple(sorted(counts, key=natural_key))
    if not classes:
        raise DatasetError("errors.no_images", skipped=len(staging.skipped))
    if len(classes) < MIN_CLASSES:
        raise DatasetError(
            "errors.upload_too_few_classes",
            count=len(classes),
            classes=", ".join(classes),
            skipped=len(staging.skipped),
        )

    for class_name in classes:
        if counts[class_name] < MIN_IMAGES_PER_CLASS:
            staging.warnings.append(
                Notice(
                    class_name,
                    "ingest.warning.few_images",
                    {"class_name": class_name, "count": counts[class_name]},
                )
            )
    staging.warnings.extend(_conflicting_labels(staging.images))
    return classes


def _conflicting_labels(images: Sequence[_StagedImage]) -> list[Notice]:
    """Warn about identical files stored under more than one class."""
    classes_by_digest: dict[str, set[str]] = collections.defaultdict(set)
    sources_by_digest: dict[str, list[str]] = collections.defaultdict(list)
    for image in images:
        classes_by_digest[image.digest].add(image.class_name)
        sources_by_digest[image.digest].append(image.source)

    return [
        Notice(
            sources_by_digest[digest][0],
            "ingest.warning.same_image_in_classes",
            {
                "classes": ", ".join(sorted(classes, key=natural_key)),
                "sources": ", ".join(sources_by_digest[digest]),
            },
        )
        for digest, classes in classes_by_digest.items()
        if len(classes) > 1
    ]


def _content_id(images: Sequence[_StagedImage]) -> str:
    pairs = sorted((image.class_name, image.digest) for image in images)
    encoded = json.dumps(pairs, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()[:16]


def _publish(
    staging: _Staging, classes: tuple[str, ...], dataset_id: str, name: str, datasets: Path
) -> ImageDataset:
    """Move the staged images into `datasets/<dataset_id>`, unless that dataset exists.

    The folder is renamed in one step, so a dataset folder is either complete or
    absent, and two processes ingesting the same content cannot mix their files.
    """
    target = datasets / dataset_id
    manifest_path = target / MANIFEST_NAME
    if manifest_path.exists():
        logger.info("Image dataset %s already exists, so it is reused", dataset_id)
        return _dataset_from_manifest(_read_json(manifest_path), target)
    if target.exists():
        logger.warning("Replacing incomplete dataset folder %s", target)
        shutil.rmtree(target)

    dataset = _arrange(staging, classes, dataset_id, name, target)
    _write_json(staging.folder / MANIFEST_NAME, _manifest(dataset))
    try:
        os.rename(staging.folder, target)
    except OSError:
        if not manifest_path.exists():
            raise
        logger.info("Image dataset %s was stored by another process, so it is reused", dataset_id)
        return _dataset_from_manifest(_read_json(manifest_path), target)
    return dataset


def _arrange(
    staging: _Staging, classes: tuple[str, ...], dataset_id: str, name: str, target: Path
) -> ImageDataset:
    """Move staged PNGs to `images/<label>/<number>.png` and describe them as items."""
    labels = {class_name: index for index, class_name in enumerate(classes)}
    numbers: collections.Counter[str] = collections.Counter()
    items: list[ImageItem] = []
    for image in sorted(staging.images, key=lambda image: labels[image.class_name]):
        label = labels[image.class_name]
        numbers[image.class_name] += 1
        file = f"images/{label}/{numbers[image.class_name]:06d}.png"
        (staging.folder / file).parent.mkdir(parents=True, exist_ok=True)
        image.file.rename(staging.folder / file)
        items.append(
            ImageItem(
                file,
                label,
                image.source,
                image.width,
                image.height,
                image.mode,
                image.format,
            )
        )
    (staging.folder / "incoming").rmdir()

    return ImageDataset(
        dataset_id,
        name,
        target,
        classes,
        tuple(items),
        tuple(staging.skipped),
        tuple(staging.warnings),
        tuple(staging.ignored),
    )


def _manifest(dataset: ImageDataset) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "kind": KIND,
        "id": dataset.id,
        "name": dataset.name,
        "created_at": utcnow().isoformat(),
        "classes": list(dataset.classes),
        "summary": dataset.summary(),
        "items": [dataclasses.asdict(item) for item in dataset.items],
        "skipped": [notice.to_json() for notice in dataset.skipped],
        "warnings": [notice.to_json() for notice in dataset.warnings],
        "ignored": list(dataset.ignored),
    }


def _dataset_from_manifest(manifest: dict[str, Any], path: Path) -> ImageDataset:
    return ImageDataset(
        id=manifest["id"],
        name=manifest["name"],
        path=path,
        classes=tuple(manifest["classes"]),
        items=tuple(ImageItem(**item) for item in manifest["items"]),
        skipped=tuple(Notice.from_json(notice) for notice in manifest["skipped"]),
        warnings=tuple(Notice.from_json(notice) for notice in manifest["warnings"]),
        ignored=tuple(manifest["ignored"]),
    )


def _read_json(path: Path) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return value


def _write_json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1), encoding="utf-8")

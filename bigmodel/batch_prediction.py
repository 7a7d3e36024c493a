"""Batch prediction of many images: collect them from zips, folders and files, predict in chunks.

The images of a batch are read lazily, one chunk at a time, so thousands of them never
sit in memory together. Each chunk goes to the predictor in one call. The studio's
pages send it to the inference service as one request, so requests of other users
run between two chunks, and the service runs the model on the whole chunk at once.
Zip members are read by `archives.read_zip`, which also decodes CP936 member names.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from bigmodel.archives import ArchiveContents, is_junk, read_folder, read_zip
from bigmodel.config import Limits
from bigmodel.errors import InvalidUploadError, LimitExceededError
from bigmodel.imaging import IMAGE_EXTENSIONS, Notice, is_image_name
from bigmodel.inference_client import Prediction
from bigmodel.store import to_json

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64
"""Images per request to the inference service, and so per model call."""

ChunkPredictor = Callable[[Sequence[tuple[str, bytes]]], list[Prediction]]
"""A function that predicts a list of `(name, bytes)` images, one `Prediction` each, in order."""

ProgressCallback = Callable[[int, int], None]
"""A function called with `(images done, images in all)` after each chunk."""


@dataclasses.dataclass(frozen=True)
class BatchImage:
    """One image of a batch, read on request.

    Attributes:
        name: the file's name in the upload, such as `photos/猫/1.jpg` inside a zip.
        read: returns the file's bytes. Raises `InvalidUploadError` for a damaged member.
    """

    name: str
    read: Callable[[], bytes] = dataclasses.field(repr=False, compare=False)


@dataclasses.dataclass
class ImageBatch:
    """The images of an upload and the files left out of it, with the reason.

    The zip archives that it reads from stay open until `close()` or the end of a `with` block.
    """

    images: list[BatchImage]
    skipped: list[Notice]
    _archives: list[ArchiveContents] = dataclasses.field(default_factory=list, repr=False)

    def close(self) -> None:
        for archive in self._archives:
            archive.close()

    def __enter__(self) -> ImageBatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def is_zip_name(name: str) -> bool:
    return name.casefold().endswith(".zip")


def batch_from_uploads(
    uploads: Sequence[tuple[str, bytes]], limits: Limits | None = None
) -> ImageBatch:
    """Collect the images of uploaded files: zip archives are opened, other files taken as they are.

    Names of files that are not images are skipped with the reason, and system junk
    (`__MACOSX/`, dot files, `Thumbs.db`) is left out silently, as at ingest.

    Raises:
        InvalidUploadError: a file named `.zip` is not a zip archive.
        LimitExceededError: an archive is larger than an upload limit.
    """
    batch = ImageBatch([], [])
    try:
        for name, data in uploads:
            if is_zip_name(name):
                _add_archive(batch, read_zip(data, limits), prefix=f"{name}/")
            elif not is_junk(name):
                _add_file(batch, name, _constant(data))
    except BaseException:
        batch.close()
        raise
    return batch


def batch_from_paths(paths: Sequence[Path], limits: Limits | None = None) -> ImageBatch:
    """Collect the images of folders, zip files and image files named on the command line.

    Raises:
        InvalidUploadError: a path named `.zip` is not a zip archive.
        LimitExceededError: a folder or archive is larger than an upload limit.
        OSError: a path is missing or cannot be read.
    """
    batch = ImageBatch([], [])
    try:
        for path in paths:
            if path.is_dir():
                _add_archive(batch, read_folder(path, limits), prefix=f"{path}/")
            elif is_zip_name(path.name):
                _add_archive(batch, read_zip(path, limits), prefix=f"{path}/")
            else:
                _add_file(batch, str(path), _file_reader(path))
    except BaseException:
        batch.close()
        raise
    return batch


def _add_archive(batch: ImageBatch, contents: ArchiveContents, prefix: str) -> None:
    """Add the image members of a zip or folder, named with the archive's name in front."""
    batch._archives.append(contents)
    batch.skipped.extend(
        dataclasses.replace(notice, source=prefix + notice.source) for notice in contents.skipped
    )
    for member in contents.members:
        _add_file(batch, prefix + member.path, member.read)


def _add_file(batch: ImageBatch, name: str, read: Callable[[], bytes]) -> None:
    if is_image_name(name):
        batch.images.append(BatchImage(name, read))
    else:
        extensions = " ".join(IMAGE_EXTENSIONS)
        batch.skipped.append(
            Notice(name, "ingest.skipped.not_an_image", {"extensions": extensions})
        )


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _file_reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def predict_batch(
    images: Sequence[BatchImage],
    predict_chunk: ChunkPredictor,
    chunk_size: int = CHUNK_SIZE,
    on_progress: ProgressCallback | None = None,
) -> list[Prediction]:
    """Predict every image, `chunk_size` images per call of `predict_chunk`.

    Returns one `Prediction` per image, in the order of `images`. An image that
    cannot be read gets the reason in `error` and is not sent. `on_progress` is
    called after each chunk, the last time with the number of images in all.

    Raises:
        BigModelError: what `predict_chunk` raises, such as a stopped service.
        LimitExceededError: the bytes read pass an upload size limit.
    """
    if chunk_size < 1:
        raise ValueError(f"Expected a chunk size of at least 1. Received: chunk_size={chunk_size}")
    predictions: list[Prediction] = []
    for start in range(0, len(images), chunk_size):
        predictions.extend(_predict_chunk(images[start : start + chunk_size], predict_chunk))
        if on_progress is not None:
            on_progress(len(predictions), len(images))
    logger.info("Predicted %d images in chunks of %d", len(images), chunk_size)
    return predictions


def _predict_chunk(chunk: Sequence[BatchImage], predict_chunk: ChunkPredictor) -> list[Prediction]:
    """Read the images of one chunk, predict the readable ones, and keep the chunk's order."""
    readable: list[tuple[str, bytes]] = []
    unreadable: dict[int, Prediction] = {}
    for index, image in enumerate(chunk):
        try:
            readable.append((image.name, image.read()))
        except LimitExceededError:
            raise
        except InvalidUploadError as error:
            params = {name: value for name, value in error.params.items() if name != "source"}
            problem = {"key": error.key, "params": to_json(params)}
            unreadable[index] = Prediction(image.name, [], [], problem)

    predicted = iter(predict_chunk(readable) if readable else [])
    return [unreadable.get(index) or next(predicted) for index in range(len(chunk))]

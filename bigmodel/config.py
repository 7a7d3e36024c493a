"""Locations and limits of a studio installation.

Every path the studio writes lives under `BIGMODEL_HOME` (default `./bigmodel-data`):
the SQLite run store, `datasets/`, `runs/` and `exports/`. Limits protect the server
from hostile uploads; each can be raised by an environment variable of the same name.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

DEFAULT_HOME = "bigmodel-data"

DEFAULT_THRESHOLD = 0.5
"""Minimum confidence below which a prediction is marked uncertain, unless the user sets one."""


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclasses.dataclass(frozen=True)
class Limits:
    """Upper bounds checked before any work on an upload is done."""

    max_archive_bytes: int = 2 * 1024**3
    """Total uncompressed size of an archive's members."""
    max_member_bytes: int = 64 * 1024**2
    """Uncompressed size of one file inside an archive."""
    max_compression_ratio: int = 200
    """Uncompressed to compressed size of one member; zip bombs exceed it by far."""
    max_files: int = 100_000
    """Number of files in one upload."""
    max_pixels: int = 50_000_000
    """Pixels of one decoded image (width times height)."""

    @classmethod
    def from_env(cls) -> Limits:
        defaults = cls()
        return cls(
            **{
                field.name: _env_int(
                    f"BIGMODEL_{field.name.upper()}", getattr(defaults, field.name)
                )
                for field in dataclasses.fields(cls)
            }
        )


@dataclasses.dataclass(frozen=True)
class Home:
    """The data folder of one studio installation."""

    root: Path

    @classmethod
    def from_env(cls) -> Home:
        return cls(Path(os.environ.get("BIGMODEL_HOME", DEFAULT_HOME)).resolve())

    @property
    def database_url(self) -> str:
        return os.environ.get("BIGMODEL_DATABASE_URL") or f"sqlite:///{self.root / 'studio.db'}"

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def run_dir(self, run_id: int) -> Path:
        return self.runs / f"{run_id:06d}"

    def ensure(self) -> Home:
        for folder in (self.root, self.datasets, self.runs, self.exports, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        return self

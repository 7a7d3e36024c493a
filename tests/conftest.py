"""Fixtures shared by the test modules."""

from pathlib import Path

import pytest

from bigmodel.config import Home
from bigmodel.store import RunStore


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A fresh, empty data folder inside the test's temporary folder."""
    return Home(tmp_path / "home").ensure()


@pytest.fixture
def store(home: Home) -> RunStore:
    return RunStore(home)

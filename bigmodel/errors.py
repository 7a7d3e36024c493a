"""Errors that users can act on.

A `BigModelError` carries a catalog key and the values that fill it, so the same
error reads in the user's language on a page and in the CLI. Its `str()` is English,
for logs and tracebacks. Anything that is not a `BigModelError` is a bug.
"""

from __future__ import annotations

from typing import Any

from bigmodel import i18n


class BigModelError(Exception):
    """An expected problem, described by a message key and its parameters."""

    def __init__(self, key: str, **params: Any) -> None:
        self.key = key
        self.params = params
        super().__init__(self.message(i18n.DEFAULT_LANGUAGE))

    def message(self, language: str) -> str:
        """Return the message in `language`; a run `status` parameter is translated too."""
        params = dict(self.params)
        status = params.get("status")
        if isinstance(status, str) and f"status.{status}" in i18n.catalog(language):
            params["status"] = i18n.translate(language, f"status.{status}")
        return i18n.translate(language, self.key, **params)


class InvalidUploadError(BigModelError):
    """An uploaded file or archive cannot be used as it is."""


class LimitExceededError(InvalidUploadError):
    """An upload is larger than a configured limit."""


class DatasetError(BigModelError):
    """A dataset cannot be used for the requested training."""


class SettingsError(BigModelError):
    """A setting is outside its allowed range or choices."""


class RunNotFoundError(BigModelError):
    """No run or dataset has the requested id."""


class RunStateError(BigModelError):
    """The requested run cannot be paused, resumed or restarted in its current status."""


class ModelNotReadyError(BigModelError):
    """The requested run has no saved model to predict with."""


class ServiceUnavailableError(BigModelError):
    """A background worker or the inference service could not be reached."""

"""Message catalogs in Simplified Chinese and English.

Every user-facing string of the studio, the CLI and the core's errors comes from the
TOML files under `bigmodel/locales/<language>/`. All files of one language are merged,
so each area of the code keeps its messages in a file of its own. Keys are dotted,
for example `train.button.start`, and values are `str.format` templates.
"""

from __future__ import annotations

import functools
import locale as locale_module
import logging
import os
import string
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "en"
_LOCALES = Path(__file__).parent / "locales"


@functools.cache
def catalog(language: str) -> Mapping[str, str]:
    """Load and merge every catalog file of `language` into one flat mapping."""
    messages: dict[str, str] = {}
    for path in sorted((_LOCALES / language).glob("*.toml")):
        with path.open("rb") as file:
            _flatten(tomllib.load(file), "", messages)
    return messages


def _flatten(table: Mapping[str, Any], prefix: str, out: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            _flatten(value, f"{name}.", out)
        else:
            out[name] = str(value)


def normalize_language(tag: str | None) -> str:
    """Map a browser or system language tag such as `zh_CN.UTF-8` or `en-GB` to a catalog.

    Any Chinese tag maps to Simplified Chinese, because it is the only Chinese catalog.
    """
    if not tag:
        return DEFAULT_LANGUAGE
    tag = tag.replace("_", "-").split(".")[0].lower()
    return "zh-CN" if tag.startswith("zh") else "en"


def system_language() -> str:
    """Return the language of the environment, as the CLI uses it without `--lang`."""
    tag = os.environ.get("BIGMODEL_LANG") or os.environ.get("LC_ALL") or os.environ.get("LANG")
    if not tag:
        tag = locale_module.getlocale()[0]
    return normalize_language(tag)


class _LenientFormatter(string.Formatter):
    """A formatter that shows a missing parameter as its placeholder and formats a
    value that does not fit its format spec (a number sent as text) with `str`."""

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if isinstance(key, str) and key not in kwargs:
            logger.warning("Message parameter %r is missing", key)
            return "{" + key + "}"
        return super().get_value(key, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> str:
        try:
            return super().format_field(value, format_spec)
        except (TypeError, ValueError):
            return str(value)


_FORMATTER = _LenientFormatter()


def translate(language: str, key: str, **params: Any) -> str:
    """Return the message `key` in `language`, filled with `params`.

    A key missing from the catalog returns the key itself, so a gap is visible on the
    page instead of crashing it. The catalog tests catch such gaps before release.
    """
    template = catalog(language).get(key) or catalog(DEFAULT_LANGUAGE).get(key) or key
    return _FORMATTER.format(template, **params)


class Translator:
    """Translation function bound to one language, one per user session."""

    def __init__(self, language: str) -> None:
        self.language = normalize_language(language)

    def __call__(self, key: str, **params: Any) -> str:
        return translate(self.language, key, **params)

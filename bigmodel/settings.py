"""Typed settings whose field metadata drives forms, CLI flags and validation.

A settings class is a frozen dataclass; each field is declared with `setting()`,
which records its range or choices. Labels and help texts are catalog entries named
after the field (`settings.<field>.label` and `settings.<field>.help`), so the form,
the CLI's `--help` and the error messages all read from one place.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from bigmodel.errors import SettingsError

T = TypeVar("T")


def setting(
    default: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[Any] | None = None,
    step: float | None = None,
    log_scale: bool = False,
) -> Any:
    """Declare a settings field with its default and its allowed values.

    Args:
        default: Value used when the user leaves the field alone.
        minimum: Smallest allowed value, inclusive. Defaults to no bound.
        maximum: Largest allowed value, inclusive. Defaults to no bound.
        choices: The only allowed values. Defaults to any value in range.
        step: Increment the form's number input uses.
        log_scale: Whether the value spans orders of magnitude (learning rates).
    """
    return dataclasses.field(
        default=default,
        metadata={
            "minimum": minimum,
            "maximum": maximum,
            "choices": tuple(choices) if choices is not None else None,
            "step": step,
            "log_scale": log_scale,
        },
    )


class Kind(enum.StrEnum):
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    CHOICE = "choice"


@dataclasses.dataclass(frozen=True)
class SettingSpec:
    """Everything a form or a CLI needs to offer one setting."""

    name: str
    kind: Kind
    default: Any
    minimum: float | None
    maximum: float | None
    choices: tuple[Any, ...] | None
    step: float | None
    log_scale: bool

    @property
    def label_key(self) -> str:
        return f"settings.{self.name}.label"

    @property
    def help_key(self) -> str:
        return f"settings.{self.name}.help"


def _kind_of(field: dataclasses.Field[Any]) -> Kind:
    if field.metadata.get("choices") is not None:
        return Kind.CHOICE
    if isinstance(field.default, bool):
        return Kind.BOOLEAN
    if isinstance(field.default, int):
        return Kind.INTEGER
    return Kind.FLOAT


def specs(settings_class: type) -> list[SettingSpec]:
    """Describe every field of `settings_class`, in declaration order."""
    return [
        SettingSpec(
            name=field.name,
            kind=_kind_of(field),
            default=field.default,
            minimum=field.metadata.get("minimum"),
            maximum=field.metadata.get("maximum"),
            choices=field.metadata.get("choices"),
            step=field.metadata.get("step"),
            log_scale=bool(field.metadata.get("log_scale")),
        )
        for field in dataclasses.fields(settings_class)
    ]


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _coerce(spec: SettingSpec, value: Any) -> Any:
    if spec.kind is Kind.BOOLEAN:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise SettingsError(
            "errors.setting_choice", name=spec.name, value=value, choices="true, false"
        )
    if spec.kind is Kind.CHOICE:
        for choice in spec.choices or ():
            if str(choice) == str(value):
                return choice
        raise SettingsError(
            "errors.setting_choice",
            name=spec.name,
            value=value,
            choices=", ".join(str(choice) for choice in spec.choices or ()),
        )
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SettingsError("errors.setting_not_number", name=spec.name, value=value) from None
    if spec.kind is Kind.INTEGER:
        if number != int(number):
            raise SettingsError("errors.setting_not_integer", name=spec.name, value=value)
        return int(number)
    return number


def _check_range(spec: SettingSpec, value: Any) -> None:
    if spec.kind not in (Kind.INTEGER, Kind.FLOAT):
        return
    low = spec.minimum if spec.minimum is not None else float("-inf")
    high = spec.maximum if spec.maximum is not None else float("inf")
    if not low <= value <= high:
        raise SettingsError(
            "errors.setting_range",
            name=spec.name,
            value=value,
            minimum=low,
            maximum=high,
        )


def from_dict(settings_class: type[T], values: Mapping[str, Any] | None = None) -> T:
    """Build and validate `settings_class` from plain values, as a form or CLI gives them.

    Missing fields take their defaults; strings are converted to the field's type.

    Raises:
        SettingsError: for an unknown name, a value of the wrong type, a value out of
            range or not among the choices. The message names the setting and value.
    """
    values = dict(values or {})
    by_name = {spec.name: spec for spec in specs(settings_class)}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise SettingsError(
            "errors.setting_unknown", names=", ".join(unknown), known=", ".join(by_name)
        )

    fields: dict[str, Any] = {}
    for name, spec in by_name.items():
        value = _coerce(spec, values.get(name, spec.default))
        _check_range(spec, value)
        fields[name] = value
    return settings_class(**fields)


def to_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings)


@dataclasses.dataclass(frozen=True)
class TrainingSettings:
    """Training hyperparameters, shared by every family."""

    optimizer: str = setting("adam", choices=("adam", "adamw", "rmsprop", "sgd"))
    learning_rate: float = setting(0.001, minimum=1e-6, maximum=1.0, log_scale=True)
    batch_size: int = setting(32, minimum=1, maximum=4096, step=1)
    epochs: int = setting(20, minimum=1, maximum=1000, step=1)
    validation_split: float = setting(0.2, minimum=0.05, maximum=0.5, step=0.05)
    patience: int = setting(5, minimum=0, maximum=100, step=1)
    """Epochs without improvement of validation loss before stopping; 0 turns it off."""
    reduce_lr_patience: int = setting(0, minimum=0, maximum=100, step=1)
    """Epochs without improvement of validation loss before the learning rate is lowered;
    0 turns learning-rate reduction off."""
    reduce_lr_factor: float = setting(0.5, minimum=0.05, maximum=0.95, step=0.05)
    """Factor that the learning rate is multiplied by each time it is lowered."""
    seed: int = setting(42, minimum=0, maximum=2**31 - 1, step=1)
    class_weight: str = setting("none", choices=("none", "balanced"))
    """`balanced` weighs each class's loss by the inverse of its share of the training
    split, so rare classes count as much as common ones. Classification only."""

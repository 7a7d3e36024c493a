"""The glossary: a plain explanation of every data term, setting and metric, in each language.

The explanations live in the catalogs (`glossary.toml`): `glossary.data.<term>` and
`glossary.metric.<term>` with a `name` and a `text`, and `glossary.setting.<field>`
for every field of every family's settings and of `TrainingSettings`, whose name is
the form label. The glossary page lists them and the pages show them as help.
"""

from __future__ import annotations

import dataclasses

from bigmodel import i18n
from bigmodel.architectures import families
from bigmodel.settings import TrainingSettings, specs

GROUPS = ("data", "model", "training", "metrics")
DATA_TERMS = (
    "training_set",
    "validation_set",
    "class",
    "label",
    "example",
    "sequence",
    "feature",
    "layout",
    "window",
    "horizon",
    "padding",
)
METRIC_TERMS = (
    "loss",
    "accuracy",
    "confusion_matrix",
    "precision",
    "recall",
    "f1",
    "mae",
    "rmse",
    "r2",
    "confidence",
    "overfitting",
    "parameters",
)


@dataclasses.dataclass(frozen=True)
class GlossaryEntry:
    """One term of the glossary in one language, with the form's advice for a setting."""

    group: str
    term: str
    name: str
    text: str
    advice: str | None = None


def model_setting_names() -> list[str]:
    """Return the fields of every family's settings, each once, in registry order."""
    names: dict[str, None] = {}
    for family in families():
        for spec in specs(family.settings_class):
            names.setdefault(spec.name, None)
    return list(names)


def training_setting_names() -> list[str]:
    return [spec.name for spec in specs(TrainingSettings)]


def metric_term(metric: str) -> str:
    """Return the glossary term of a logged metric: `val_accuracy` is explained as `accuracy`."""
    return metric.removeprefix("val_")


def metric_help(metric: str, t: i18n.Translator) -> str:
    """Return the explanation of a metric, as help on hover, or "" for a metric it lacks."""
    key = f"glossary.metric.{metric_term(metric)}.text"
    return t(key) if key in i18n.catalog(t.language) else ""


def setting_help(name: str, t: i18n.Translator) -> str:
    """Return the help a setting's form field shows on hover: what it is, then how to set it.

    A setting without a glossary entry shows its advice alone, never a bare catalog key.
    """
    advice = t(f"settings.{name}.help")
    key = f"glossary.setting.{name}"
    if key not in i18n.catalog(t.language):
        return advice
    return f"{t(key)}\n\n{advice}"


def entries(t: i18n.Translator) -> list[GlossaryEntry]:
    """List every glossary entry in the language of `t`, grouped in the order of `GROUPS`."""
    found = [
        GlossaryEntry(
            "data", term, t(f"glossary.data.{term}.name"), t(f"glossary.data.{term}.text")
        )
        for term in DATA_TERMS
    ]
    for group, names in (("model", model_setting_names()), ("training", training_setting_names())):
        found += [_setting_entry(group, name, t) for name in names]
    found += [
        GlossaryEntry(
            "metrics", term, t(f"glossary.metric.{term}.name"), t(f"glossary.metric.{term}.text")
        )
        for term in METRIC_TERMS
    ]
    return found


def _setting_entry(group: str, name: str, t: i18n.Translator) -> GlossaryEntry:
    return GlossaryEntry(
        group,
        name,
        t(f"settings.{name}.label"),
        t(f"glossary.setting.{name}"),
        advice=t(f"settings.{name}.help"),
    )


def search(found: list[GlossaryEntry], query: str) -> list[GlossaryEntry]:
    """Keep the entries whose name, explanation, advice or field name contains `query`.

    The match ignores case and surrounding spaces, so `mae`, `MAE` and `learning_rate`
    all find their entries. An empty query keeps every entry.
    """
    needle = query.strip().casefold()
    if not needle:
        return list(found)
    return [
        entry
        for entry in found
        if any(
            needle in part.casefold()
            for part in (entry.name, entry.text, entry.advice or "", entry.term)
        )
    ]

"""Diagnostics of a training run in plain language, each with a remedy to retrain.

The checks are pure functions over data the run store already contains. They read
the epoch history (one dict of metrics per epoch), the dataset summary (class counts)
and the run's results, which include the validation counts per true and per
predicted class. They run while a run trains, on the history so far, and once it has
finished.

Each `Diagnostic` names a catalog message (`diagnostics.<key>.message`) and the
figures that triggered it. Its `Remedy` objects are concrete changes of settings,
which `retrain_settings` applies to the run's own settings.

The thresholds are rules of thumb, not statistics: a run that shows a problem by a
small margin stays silent, so that a message is worth reading when it appears.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from bigmodel.architectures import get_family
from bigmodel.settings import TrainingSettings, from_dict, specs

MIN_EPOCHS_FOR_TREND = 4
"""Epochs a run needs before a rising or flat loss means anything."""

OVERFIT_RISE = 0.10
"""Rise of the validation loss above its minimum, as a share, that counts as overfitting."""

OVERFIT_EPOCHS = 3
"""Epochs since the best validation loss before the rise counts as overfitting."""

UNDERFIT_ACCURACY = 0.7
"""Training accuracy below which a finished classifier has not learned its training data."""

STILL_FALLING = 0.05
"""Drop of the training loss over the last `MIN_EPOCHS_FOR_TREND` epochs, as a share,
that means the loss was still falling."""

FLAT_LOSS = 0.05
"""Fall of the training loss over the last `MIN_EPOCHS_FOR_TREND` epochs, as a share,
below which the loss counts as stalled."""

LEARNED_ACCURACY = 0.9
"""Training accuracy above which a loss that stopped falling means converged, not stalled."""

LEARNED_LOSS = 0.1
"""Training loss (standardised MSE for regression) below which the model counts as converged."""

HIGH_LEARNING_RATE = 0.01
"""Learning rate from which a stalled loss is blamed on steps too large, not too small.
Keras' Adam defaults to 0.001, so this is ten times the usual rate."""

EXPLOSION_FACTOR = 10.0
"""Multiple of the chance-level loss (`_baseline_loss`) from which a loss has exploded."""

DIVERGENCE_RISE = 1.5
"""Factor by which the training loss must exceed its lowest value to count as diverging."""

DIVERGENCE_MARGIN = 0.1
"""Share of the chance-level loss by which a diverging loss must also have risen, so that
epoch-to-epoch noise near zero (0.022 to 0.051 on the digits) is no divergence."""

IMBALANCE_RATIO = 4.0
"""Ratio of the largest class to the smallest from which the imbalance is reported."""

FEW_EXAMPLES = 30
"""Examples per class below which a network trained from scratch rarely generalises."""

MAX_NAMED_CLASSES = 5


@dataclasses.dataclass(frozen=True)
class Remedy:
    """A change of settings that addresses a diagnostic.

    `changes` maps `model` or `training` to the new values of single settings; the
    button label is the catalog entry `diagnostics.remedy.<key>` filled with `params`.
    """

    key: str
    changes: Mapping[str, Mapping[str, Any]]
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def label_key(self) -> str:
        return f"diagnostics.remedy.{self.key}"


@dataclasses.dataclass(frozen=True)
class Diagnostic:
    """A problem found in a run, the figures that show it and the remedies to try."""

    key: str
    params: Mapping[str, Any]
    remedies: tuple[Remedy, ...] = ()

    @property
    def message_key(self) -> str:
        return f"diagnostics.{self.key}.message"


@dataclasses.dataclass(frozen=True)
class RunFacts:
    """Facts about one run that the checks read.

    Attributes:
        history: Metrics of each epoch so far, in order, as the run store keeps them.
            A non-finite value is missing from its epoch's dict.
        family: Name of the model family.
        settings: The run's `model` and `training` settings.
        task: `classification`, `regression` or `forecast`.
        class_counts: Examples per class name in the dataset; empty if not classification.
        results: The finished run's results; None while it trains.
    """

    history: Sequence[Mapping[str, float]]
    family: str
    settings: Mapping[str, Mapping[str, Any]]
    task: str = "classification"
    class_counts: Mapping[str, int] = dataclasses.field(default_factory=dict)
    results: Mapping[str, Any] | None = None

    @property
    def finished(self) -> bool:
        return self.results is not None

    @property
    def classification(self) -> bool:
        return self.task == "classification"

    def model_settings(self) -> dict[str, Any]:
        """Return the model settings with defaults for fields the run predates."""
        settings_class = get_family(self.family).settings_class
        return dataclasses.asdict(from_dict(settings_class, self.settings.get("model")))

    def training(self) -> TrainingSettings:
        return from_dict(TrainingSettings, self.settings.get("training"))

    def series(self, metric: str) -> list[float]:
        """Return the finite values of `metric`, one per epoch that logged it."""
        values = [row.get(metric) for row in self.history]
        return [float(value) for value in values if value is not None and math.isfinite(value)]


def diagnose(facts: RunFacts) -> list[Diagnostic]:
    """Run every check on `facts` and return what they found, the most urgent first.

    A diverging run skips the checks of the training curve, because once the optimiser
    has failed, the curve is no evidence about capacity or data.
    """
    found: list[Diagnostic] = []
    divergence = check_divergence(facts)
    if divergence is not None:
        found.append(divergence)
    else:
        curve_checks = (check_overfitting, check_underfitting, check_learning_rate_too_low)
        found += [result for check in curve_checks if (result := check(facts)) is not None]
    data_checks = (check_one_class, check_imbalance, check_few_examples)
    found += [result for check in data_checks if (result := check(facts)) is not None]
    return found


def check_divergence(facts: RunFacts) -> Diagnostic | None:
    """Find a learning rate too high: a non-finite, exploding, rising or stuck loss.

    An exploding loss exceeds `EXPLOSION_FACTOR` times the chance-level loss
    (`_baseline_loss`). A stuck loss stopped falling far from a learned model
    (`_stalled`) at a learning rate of `HIGH_LEARNING_RATE` or more.
    """
    losses = facts.series("loss")
    training = facts.training()
    lost = [epoch for epoch, row in enumerate(facts.history) if row and "loss" not in row]
    baseline = _baseline_loss(facts)
    exploded = [epoch for epoch, loss in enumerate(losses) if loss > EXPLOSION_FACTOR * baseline]
    stalled = _stalled(facts)
    params: dict[str, float]
    if lost:
        reason, params = "not_finite", {"epoch": lost[0] + 1}
    elif exploded:
        epoch = exploded[0]
        reason, params = (
            "exploded",
            {"epoch": epoch + 1, "loss": losses[epoch], "baseline": baseline},
        )
    elif len(losses) >= 2 and _rose(losses, baseline):
        reason, params = "rising", {"lowest": min(losses), "last": losses[-1]}
    elif stalled is not None and training.learning_rate >= HIGH_LEARNING_RATE:
        reason, params = "stuck", stalled
    else:
        return None
    return Diagnostic(
        f"divergence_{reason}",
        {**params, "learning_rate": training.learning_rate},
        (_learning_rate_remedy(training, 0.1),),
    )


def _rose(losses: list[float], baseline: float) -> bool:
    """Tell whether the last loss rose well above the lowest, by ratio and by amount."""
    lowest = min(losses)
    rise = losses[-1] - lowest
    return losses[-1] > DIVERGENCE_RISE * lowest and rise > DIVERGENCE_MARGIN * baseline


def _baseline_loss(facts: RunFacts) -> float:
    """Return the chance-level loss: that of a uniform guess, or of predicting the target mean.

    Cross-entropy of a uniform guess over `k` classes is `ln k`. Regression targets are
    standardised in training, so predicting their mean gives a mean squared error of 1.
    """
    classes = len((facts.results or {}).get("classes") or facts.class_counts)
    if facts.classification and classes >= 2:
        return math.log(classes)
    return 1.0


def check_learning_rate_too_low(facts: RunFacts) -> Diagnostic | None:
    """Find a learning rate too low: a loss that stopped falling far from a learned model."""
    training = facts.training()
    stalled = _stalled(facts)
    if stalled is None or training.learning_rate >= HIGH_LEARNING_RATE:
        return None
    return Diagnostic(
        "learning_rate_low",
        {**stalled, "learning_rate": training.learning_rate},
        (_learning_rate_remedy(training, 10.0),),
    )


def _stalled(facts: RunFacts) -> dict[str, float] | None:
    """Describe a loss that did not fall over the last epochs, unless the model is learned.

    The loss stalled when, over the last `MIN_EPOCHS_FOR_TREND` epochs, it never fell
    `FLAT_LOSS` below its value at the start of them. It is the validation loss when
    every epoch has one, because the training loss of an epoch moves with dropout and
    batch order alone. Returns `epochs`, `first` (the loss at the start) and `lowest`
    (the lowest loss after it), or None.
    """
    losses = facts.series("val_loss")
    if len(losses) < len(facts.history):
        losses = facts.series("loss")
    recent = losses[-MIN_EPOCHS_FOR_TREND:]
    if len(recent) < MIN_EPOCHS_FOR_TREND or recent[0] <= 0 or _learned(facts):
        return None
    lowest = min(recent[1:])
    if lowest < recent[0] * (1 - FLAT_LOSS):
        return None
    return {"epochs": len(recent), "first": recent[0], "lowest": lowest}


def _learned(facts: RunFacts) -> bool:
    accuracy = facts.series("accuracy")
    if facts.classification and accuracy:
        return accuracy[-1] >= LEARNED_ACCURACY
    losses = facts.series("loss")
    return bool(losses) and losses[-1] <= LEARNED_LOSS


def check_overfitting(facts: RunFacts) -> Diagnostic | None:
    """Find overfitting: validation loss rising while training loss keeps falling.

    It fires when the validation loss has risen `OVERFIT_RISE` above its minimum,
    reached at least `OVERFIT_EPOCHS` epochs earlier, and the training loss is lower
    now than at that minimum.
    """
    rows = [row for row in facts.history if "loss" in row and "val_loss" in row]
    if len(rows) < MIN_EPOCHS_FOR_TREND or len(rows) < len(facts.history):
        return None
    val_losses = [float(row["val_loss"]) for row in rows]
    losses = [float(row["loss"]) for row in rows]

    best = val_losses.index(min(val_losses))
    rose = val_losses[-1] > val_losses[best] * (1 + OVERFIT_RISE)
    long_ago = len(rows) - 1 - best >= OVERFIT_EPOCHS
    if not (rose and long_ago and losses[-1] < losses[best]):
        return None

    params = {
        "best_epoch": best + 1,
        "best_val_loss": val_losses[best],
        "last_val_loss": val_losses[-1],
        "best_loss": losses[best],
        "last_loss": losses[-1],
    }
    remedies = (_augmentation_remedy(facts), _dropout_remedy(facts))
    return Diagnostic("overfitting", params, tuple(r for r in remedies if r is not None))


def check_underfitting(facts: RunFacts) -> Diagnostic | None:
    """Find a finished classifier that ran out of epochs before it learned its training data.

    It fires when the run used every epoch, its training accuracy stayed below
    `UNDERFIT_ACCURACY` and its training loss was still falling.
    """
    if not facts.finished or not facts.classification:
        return None
    training = facts.training()
    accuracy = facts.series("accuracy")
    losses = facts.series("loss")
    if len(losses) < training.epochs or not accuracy or accuracy[-1] >= UNDERFIT_ACCURACY:
        return None
    if _stalled(facts) is not None:
        return None  # more epochs do not help a stalled loss; the learning rate checks speak
    earlier = losses[-min(len(losses), MIN_EPOCHS_FOR_TREND)]
    if earlier <= 0 or (earlier - losses[-1]) / earlier < STILL_FALLING:
        return None
    epochs_field = _spec(TrainingSettings, "epochs")
    more = min(training.epochs * 3, int(epochs_field.maximum or training.epochs * 3))
    params = {"accuracy": accuracy[-1], "epochs": training.epochs}
    remedy = Remedy(
        "more_epochs", {"training": {"epochs": more}}, {"old": training.epochs, "new": more}
    )
    return Diagnostic("underfitting", params, (remedy,))


def check_one_class(facts: RunFacts) -> Diagnostic | None:
    """Find a classifier that predicts the same class for every validation example."""
    results = facts.results or {}
    predicted = results.get("validation_predicted_counts")
    actual = results.get("validation_counts")
    classes = results.get("classes") or list(facts.class_counts)
    if not predicted or not actual or len(predicted) != len(classes):
        return None
    if sum(1 for count in predicted if count) != 1 or sum(1 for count in actual if count) < 2:
        return None
    index = next(i for i, count in enumerate(predicted) if count)
    params = {
        "class_name": classes[index],
        "count": predicted[index],
        "missed": sum(actual) - actual[index],
    }
    training = facts.training()
    if training.class_weight == "none" and _imbalance_ratio(facts.class_counts) >= IMBALANCE_RATIO:
        remedy = Remedy("class_weight", {"training": {"class_weight": "balanced"}})
    else:
        remedy = _learning_rate_remedy(training, 0.1)
    return Diagnostic("one_class", params, (remedy,))


def check_imbalance(facts: RunFacts) -> Diagnostic | None:
    """Find classes whose sizes differ by `IMBALANCE_RATIO` or more, without class weights."""
    ratio = _imbalance_ratio(facts.class_counts)
    if not facts.classification or ratio < IMBALANCE_RATIO:
        return None
    if facts.training().class_weight != "none":
        return None
    counts = {name: count for name, count in facts.class_counts.items() if count > 0}
    largest = max(counts, key=counts.__getitem__)
    smallest = min(counts, key=counts.__getitem__)
    params = {
        "largest": largest,
        "largest_count": counts[largest],
        "smallest": smallest,
        "smallest_count": counts[smallest],
        "ratio": ratio,
    }
    remedy = Remedy("class_weight", {"training": {"class_weight": "balanced"}})
    return Diagnostic("imbalance", params, (remedy,))


def _imbalance_ratio(class_counts: Mapping[str, int]) -> float:
    """Return the size of the largest class over the smallest non-empty one; 1 for fewer than 2."""
    counts = [count for count in class_counts.values() if count > 0]
    return max(counts) / min(counts) if len(counts) >= 2 else 1.0


def check_few_examples(facts: RunFacts) -> Diagnostic | None:
    """Find classes with fewer than `FEW_EXAMPLES` examples in the dataset."""
    if not facts.classification:
        return None
    few = sorted(
        ((name, count) for name, count in facts.class_counts.items() if count < FEW_EXAMPLES),
        key=lambda item: item[1],
    )
    if not few:
        return None
    named = ", ".join(f"{name} ({count})" for name, count in few[:MAX_NAMED_CLASSES])
    params = {"count": len(few), "classes": named, "minimum": FEW_EXAMPLES}
    remedy = _augmentation_remedy(facts)
    return Diagnostic("few_examples", params, (remedy,) if remedy else ())


# Remedies


AUGMENTATION = {
    "image": {"rotation": 15, "zoom": 0.1},
    "sequence": {"noise": 0.1, "scaling": 0.1},
}
"""Augmentation that a remedy switches on: mild enough not to change any class.
Flips are left out, because a mirrored digit or letter can be another class."""

AUGMENTATION_FIELDS = ("flip", "rotation", "zoom", "contrast", "noise", "scaling", "time_shift")
"""Model settings that switch on augmentation in some family."""

MORE_DROPOUT = 0.2
"""Amount a remedy adds to the dropout rate, up to `MAX_REMEDY_DROPOUT`."""

MAX_REMEDY_DROPOUT = 0.6


def _augmentation_remedy(facts: RunFacts) -> Remedy | None:
    """Switch on mild augmentation, unless the family has none or some is on already."""
    kind = get_family(facts.family).data_kind
    current = facts.model_settings()
    if not set(AUGMENTATION[kind]) <= set(current):
        return None
    if any(current.get(name) not in (None, 0, "none") for name in AUGMENTATION_FIELDS):
        return None
    changes = dict(AUGMENTATION[kind])
    return Remedy(f"augmentation_{kind}", {"model": changes}, changes)


def _dropout_remedy(facts: RunFacts) -> Remedy | None:
    current = facts.model_settings()
    if "dropout" not in current or current["dropout"] >= MAX_REMEDY_DROPOUT:
        return None
    new = round(min(current["dropout"] + MORE_DROPOUT, MAX_REMEDY_DROPOUT), 2)
    return Remedy(
        "more_dropout", {"model": {"dropout": new}}, {"old": current["dropout"], "new": new}
    )


def _learning_rate_remedy(training: TrainingSettings, factor: float) -> Remedy:
    """Multiply the learning rate by `factor`, to one significant digit and within range."""
    spec = _spec(TrainingSettings, "learning_rate")
    new = float(f"{training.learning_rate * factor:.0e}")
    new = min(max(new, spec.minimum or new), spec.maximum or new)
    key = "lower_learning_rate" if factor < 1 else "higher_learning_rate"
    params = {"old": training.learning_rate, "new": new}
    return Remedy(key, {"training": {"learning_rate": new}}, params)


def _spec(settings_class: type, name: str) -> Any:
    return next(spec for spec in specs(settings_class) if spec.name == name)


def retrain_settings(settings: Mapping[str, Any], family: str, remedy: Remedy) -> dict[str, Any]:
    """Return a run's settings with the remedy's changes, complete and validated.

    Raises:
        SettingsError: a change is out of range for the family, which is a bug of the
            remedy, not of the user's input.
    """
    family_class = get_family(family).settings_class
    model = {**(settings.get("model") or {}), **remedy.changes.get("model", {})}
    training = {**(settings.get("training") or {}), **remedy.changes.get("training", {})}
    return {
        "preset": settings.get("preset"),
        "model": dataclasses.asdict(from_dict(family_class, model)),
        "training": dataclasses.asdict(from_dict(TrainingSettings, training)),
    }

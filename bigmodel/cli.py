"""The command line: `python -m bigmodel <command>`.

Commands mirror the studio's pages: `ingest` a folder or zip, `train` a model with
progress in the terminal, `predict` images, list `runs` and `datasets`. `worker` and
`inference` start the background processes the web studio uses. Messages follow
`--lang` or the environment's locale.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bigmodel import i18n
from bigmodel.architectures import DEFAULT_PRESET, PRESETS, families, get_family
from bigmodel.config import Home
from bigmodel.errors import BigModelError
from bigmodel.settings import Kind, SettingSpec, TrainingSettings, specs
from bigmodel.store import RunStore

logger = logging.getLogger(__name__)


def _flag_help(spec: SettingSpec, t: i18n.Translator) -> str:
    allowed = (
        "|".join(str(c) for c in spec.choices)
        if spec.kind is Kind.CHOICE
        else f"{spec.minimum}..{spec.maximum}"
    )
    return f"{t(spec.help_key)} [{allowed}]"


def build_parser(t: i18n.Translator) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bigmodel", description=t("cli.description"))
    parser.add_argument("--lang", choices=i18n.LANGUAGES, help=t("cli.lang"))
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help=t("cli.ingest"))
    ingest.add_argument("path", type=Path, help=t("cli.ingest_path"))
    ingest.add_argument("--name", help=t("cli.dataset_name"))

    train = commands.add_parser("train", help=t("cli.train"))
    train.add_argument("--dataset", required=True, help=t("cli.train_dataset"))
    train.add_argument("--family", default="cnn", choices=[f.name for f in families()])
    train.add_argument("--preset", default=DEFAULT_PRESET, choices=PRESETS, help=t("cli.preset"))
    train.add_argument("--name", help=t("cli.run_name"))
    _add_setting_flags(train, TrainingSettings, t)
    for family in families():
        _add_setting_flags(train, family.settings_class, t)

    predict = commands.add_parser("predict", help=t("cli.predict"))
    predict.add_argument("--run", type=int, required=True, help=t("cli.predict_run"))
    predict.add_argument("files", nargs="+", type=Path, help=t("cli.predict_files"))
    predict.add_argument("--top", type=int, default=3, help=t("cli.predict_top"))

    commands.add_parser("runs", help=t("cli.runs"))
    commands.add_parser("datasets", help=t("cli.datasets"))
    commands.add_parser("worker", help=t("cli.worker"))
    commands.add_parser("inference", help=t("cli.inference"))
    return parser


def _add_setting_flags(
    parser: argparse.ArgumentParser, settings_class: type, t: i18n.Translator
) -> None:
    """Add a flag for each setting that the parser does not have yet."""
    known = {action.dest for action in parser._actions}
    for spec in specs(settings_class):
        if spec.name not in known:
            flag = "--" + spec.name.replace("_", "-")
            parser.add_argument(flag, dest=spec.name, default=None, help=_flag_help(spec, t))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    language = _language_from(argv)
    t = i18n.Translator(language)
    args = build_parser(t).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    home = Home.from_env()
    try:
        return COMMANDS[args.command](args, home, t)
    except BigModelError as error:
        print(t("cli.error", message=error.message(t.language)), file=sys.stderr)
        return 2


def _language_from(argv: list[str]) -> str:
    for index, value in enumerate(argv):
        if value == "--lang" and index + 1 < len(argv):
            return i18n.normalize_language(argv[index + 1])
        if value.startswith("--lang="):
            return i18n.normalize_language(value.split("=", 1)[1])
    return i18n.system_language()


def _ingest(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel.image_datasets import ingest_folder, ingest_zip

    store = RunStore(home)
    name = args.name or args.path.stem
    if args.path.is_dir():
        dataset = ingest_folder(args.path, name, store)
    else:
        dataset = ingest_zip(args.path, name, store)
    print(
        t(
            "cli.ingested",
            id=dataset.id,
            images=len(dataset.items),
            classes=len(dataset.classes),
        )
    )
    for class_name, count in dataset.counts().items():
        print(f"  {class_name}: {count}")
    for skipped in dataset.skipped:
        print(t("cli.skipped", source=skipped.source, reason=skipped.message(t.language)))
    return 0


def _resolve_dataset(store: RunStore, value: str, t: i18n.Translator) -> str:
    path = Path(value)
    if not path.exists():
        return store.get_dataset(value).id
    from bigmodel.image_datasets import ingest_folder, ingest_zip

    ingest = ingest_folder if path.is_dir() else ingest_zip
    dataset = ingest(path, path.stem, store)
    print(
        t(
            "cli.ingested",
            id=dataset.id,
            images=len(dataset.items),
            classes=len(dataset.classes),
        )
    )
    return dataset.id


def _train(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel import jobs

    store = RunStore(home)
    family = get_family(args.family)
    dataset_id = _resolve_dataset(store, args.dataset, t)
    model = _given(args, family.settings_class)
    training = _given(args, TrainingSettings)
    run_id = jobs.submit_run(
        store,
        dataset_id,
        family.name,
        preset=args.preset,
        model=model,
        training=training,
        name=args.name,
    )
    print(t("cli.run_started", run_id=run_id))

    import os

    from bigmodel.training import execute_run

    if not store.start_run(run_id, os.getpid()):
        return 1
    run = execute_run(store, store.get_run(run_id), on_progress=_print_progress(t))
    print()
    if run.error_key:
        print(
            t(
                "cli.run_failed",
                run_id=run.id,
                message=i18n.translate(t.language, run.error_key, **(run.error_params or {})),
            )
        )
        return 1
    results: dict[str, Any] = run.results or {}
    print(
        t(
            "cli.run_finished",
            run_id=run.id,
            status=t(f"status.{run.status}"),
            accuracy=results.get("val_accuracy", 0.0),
            path=run.model_path,
        )
    )
    return 0


def _given(args: argparse.Namespace, settings_class: type) -> dict[str, Any]:
    return {
        spec.name: getattr(args, spec.name)
        for spec in specs(settings_class)
        if getattr(args, spec.name, None) is not None
    }


def _print_progress(t: i18n.Translator) -> Any:
    def show(progress: dict[str, Any]) -> None:
        eta = progress.get("eta")
        line = t(
            "cli.progress",
            epoch=min(progress["epoch"] + 1, progress["epochs"]),
            epochs=progress["epochs"],
            percent=100 * progress["fraction"],
            elapsed=progress["elapsed"],
            eta="?" if eta is None else f"{eta:.0f}",
        )
        print("\r" + line, end="", flush=True)

    return show


def _predict(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel.errors import ModelNotReadyError
    from bigmodel.prediction import Predictor

    store = RunStore(home)
    run = store.get_run(args.run)
    if not run.has_model or run.model_path is None:
        raise ModelNotReadyError("errors.model_not_ready", run_id=run.id, status=run.status)
    predictor = Predictor(Path(run.model_path))
    images = [(str(path), path.read_bytes()) for path in args.files]
    failed = 0
    for result in predictor.predict_images(images, args.top):
        if result["error"]:
            failed += 1
            print(
                f"{result['name']}: {i18n.translate(t.language, result['error']['key'], **result['error']['params'])}"
            )
            continue
        ranked = ", ".join(f"{label} {probability:.1%}" for label, probability in result["top"])
        print(f"{result['name']}: {ranked}")
    return 1 if failed else 0


def _runs(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    for run in RunStore(home).list_runs():
        accuracy = (run.results or {}).get("val_accuracy")
        shown = "-" if accuracy is None else f"{accuracy:.3f}"
        print(
            f"{run.id:>5}  {t(f'status.{run.status}'):<10} {shown:>6}  {run.created_at:%Y-%m-%d %H:%M}  {run.name}"
        )
    return 0


def _datasets(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    for dataset in RunStore(home).list_datasets():
        print(
            f"{dataset.id}  {dataset.kind:<8} {dataset.summary.get('num_images', '')!s:>6}  {dataset.name}"
        )
    return 0


def _worker(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel import worker

    return worker.serve(home)


def _inference(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel import inference

    return inference.serve(home)


COMMANDS = {
    "ingest": _ingest,
    "train": _train,
    "predict": _predict,
    "runs": _runs,
    "datasets": _datasets,
    "worker": _worker,
    "inference": _inference,
}

"""The command line: `python -m bigmodel <command>`.

Commands mirror the studio's pages: `ingest` a folder, zip or CSV file, `train` a
model with progress in the terminal, `pause` and `resume` a run, `predict` images,
folders and zips of images or the sequences of CSV files (into a CSV file with
`--output`), write a run's HTML `report`, list `runs` and `datasets`. `worker` and
`inference` start the background processes the web studio uses. Messages follow
`--lang` or the environment's locale.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bigmodel import i18n
from bigmodel.architectures import DEFAULT_PRESET, PRESETS, families, get_family
from bigmodel.config import DEFAULT_THRESHOLD, Home
from bigmodel.errors import BigModelError, SettingsError
from bigmodel.settings import Kind, SettingSpec, TrainingSettings, specs
from bigmodel.store import PAUSED, RunStore

logger = logging.getLogger(__name__)


def _flag_help(spec: SettingSpec, t: i18n.Translator) -> str:
    if spec.kind is Kind.CHOICE:
        allowed = "|".join(str(c) for c in spec.choices or ())
    elif spec.kind is Kind.BOOLEAN:
        allowed = "true|false"
    else:
        allowed = f"{spec.minimum}..{spec.maximum}"
    # argparse formats help with %, so a literal percent sign must be doubled.
    return f"{t(spec.help_key)} [{allowed}]".replace("%", "%%")


def build_parser(t: i18n.Translator) -> argparse.ArgumentParser:
    # Every command takes the common flags too, so they work before or after its name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--lang", choices=i18n.LANGUAGES, help=t("cli.lang"))
    common.add_argument("--verbose", action="store_true", help=t("cli.verbose"))
    parser = argparse.ArgumentParser(
        prog="python -m bigmodel", description=t("cli.description"), parents=[common]
    )
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", parents=[common], help=t("cli.sequence.ingest"))
    ingest.add_argument("path", type=Path, help=t("cli.sequence.ingest_path"))
    ingest.add_argument("--name", help=t("cli.dataset_name"))
    _add_sequence_flags(ingest, t)

    train = commands.add_parser("train", parents=[common], help=t("cli.train"))
    train.add_argument("--dataset", required=True, help=t("cli.sequence.train_dataset"))
    train.add_argument("--family", default="cnn", choices=[f.name for f in families()])
    train.add_argument("--preset", default=DEFAULT_PRESET, choices=PRESETS, help=t("cli.preset"))
    train.add_argument("--name", help=t("cli.run_name"))
    _add_sequence_flags(train, t)
    _add_setting_flags(train, TrainingSettings, t)
    for family in families():
        _add_setting_flags(train, family.settings_class, t)

    predict = commands.add_parser("predict", parents=[common], help=t("cli.sequence.predict"))
    predict.add_argument("--run", type=int, help=t("cli.predict_run"))
    # With --run, the first positional argument is a path too.
    predict.add_argument("first", metavar="RUN", help=t("cli.batch.run"))
    predict.add_argument("rest", nargs="*", metavar="PATH", help=t("cli.batch.paths"))
    predict.add_argument("--top", type=int, default=3, help=t("cli.predict_top"))
    predict.add_argument("--output", type=Path, help=t("cli.batch.output"))
    predict.add_argument(
        "--threshold",
        type=float,
        help=t("cli.batch.threshold", default=DEFAULT_THRESHOLD),
    )

    report = commands.add_parser("report", parents=[common], help=t("report.cli_help"))
    report.add_argument("run", type=int, help=t("report.cli_run"))
    report.add_argument("--output", type=Path, help=t("report.cli_output"))

    pause = commands.add_parser("pause", parents=[common], help=t("cli.pause"))
    pause.add_argument("run", type=int, help=t("cli.run_id"))
    resume = commands.add_parser("resume", parents=[common], help=t("cli.resume"))
    resume.add_argument("run", type=int, help=t("cli.run_id"))
    resume.add_argument("--restart", action="store_true", help=t("cli.restart"))

    commands.add_parser("runs", parents=[common], help=t("cli.runs"))
    commands.add_parser("datasets", parents=[common], help=t("cli.datasets"))
    commands.add_parser("worker", parents=[common], help=t("cli.worker"))
    commands.add_parser("inference", parents=[common], help=t("cli.inference"))
    commands.add_parser("stop", parents=[common], help=t("cli.stop"))
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


SEQUENCE_CHOICES: dict[str, tuple[str, ...]] = {
    "layout": ("wide", "long", "series"),
    "length_rule": ("pad", "truncate"),
    "cleaning": ("drop", "fill_previous", "fill_mean", "fill_zero"),
    "task": ("classification", "regression", "forecast"),
}
SEQUENCE_TEXT_FLAGS = ("label_column", "id_column", "order_column")
SEQUENCE_LIST_FLAGS = ("feature_columns", "target_columns")
SEQUENCE_NUMBER_FLAGS = ("window", "horizon", "max_length")


def _add_sequence_flags(parser: argparse.ArgumentParser, t: i18n.Translator) -> None:
    """Add the flags that override the proposed layout of a CSV file."""
    for name, choices in SEQUENCE_CHOICES.items():
        parser.add_argument(_flag(name), choices=choices, help=t(f"sequences.spec.{name}.help"))
    for name in (*SEQUENCE_TEXT_FLAGS, *SEQUENCE_LIST_FLAGS):
        parser.add_argument(_flag(name), help=t(f"sequences.spec.{name}.help"))
    for name in SEQUENCE_NUMBER_FLAGS:
        parser.add_argument(_flag(name), type=int, help=t(f"sequences.spec.{name}.help"))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    language = _language_from(argv)
    t = i18n.Translator(language)
    args = build_parser(t).parse_args(argv)
    background = args.command in ("worker", "inference")
    logging.basicConfig(
        level=logging.INFO if args.verbose or background else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    home = Home.from_env()
    try:
        return COMMANDS[args.command](args, home, t)
    except BigModelError as error:
        print(t("cli.error", message=error.message(t.language)), file=sys.stderr)
        return 2
    except OSError as error:
        # A file named on the command line that is missing or unreadable.
        if error.filename is None:
            raise
        message = t("cli.file_error", path=error.filename, reason=error.strerror)
        print(t("cli.error", message=message), file=sys.stderr)
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
    if _is_csv(args.path):
        _ingest_csv(args, args.path, name, store, t)
        return 0
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


def _is_csv(path: Path) -> bool:
    return path.is_file() and path.suffix.casefold() == ".csv"


def _ingest_csv(
    args: argparse.Namespace, path: Path, name: str, store: RunStore, t: i18n.Translator
) -> str:
    """Ingest a CSV file as a sequence dataset, print what was understood, return its id."""
    from bigmodel.sequence_datasets import ingest_sequences

    data = path.read_bytes()
    dataset = ingest_sequences(data, path.name, _sequence_spec(args, data, path.name), name, store)
    summary = dataset.summary
    print(
        t(
            "cli.sequence.ingested",
            id=dataset.id,
            examples=summary["num_examples"],
            layout=summary["layout"],
            task=summary["task"],
            features=summary["num_features"],
            length=dataset.length,
        )
    )
    for class_name, count in summary.get("counts", {}).items():
        print(f"  {class_name}: {count}")
    for target, stats in summary.get("target_stats", {}).items():
        print(t("cli.sequence.target", name=target, **stats))
    for notice in dataset.notices:
        print(f"  {notice.message(t.language)}")
    return dataset.id


def _sequence_spec(args: argparse.Namespace, data: bytes, source: str) -> Any:
    """Return the proposed spec with the flags' overrides, or None when no flag is given.

    A changed layout or column role drops the proposed feature and target columns, so
    that they are chosen again for the new roles.
    """
    from bigmodel.csv_reading import read_table
    from bigmodel.sequence_datasets import propose_spec

    names = (*SEQUENCE_CHOICES, *SEQUENCE_TEXT_FLAGS, *SEQUENCE_LIST_FLAGS, *SEQUENCE_NUMBER_FLAGS)
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if not given:
        return None
    for name in SEQUENCE_LIST_FLAGS:
        if name in given:
            given[name] = tuple(part.strip() for part in given[name].split(",") if part.strip())

    proposal = propose_spec(read_table(data, source))
    roles = ("layout", *SEQUENCE_TEXT_FLAGS)
    if any(name in given and given[name] != getattr(proposal, name) for name in roles):
        proposal = dataclasses.replace(proposal, feature_columns=(), target_columns=())
    return dataclasses.replace(proposal, **given)


def _resolve_dataset(
    store: RunStore, value: str, t: i18n.Translator, args: argparse.Namespace
) -> str:
    path = Path(value)
    if not path.exists():
        return store.get_dataset(value).id
    if _is_csv(path):
        return _ingest_csv(args, path, path.stem, store, t)
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
    dataset_id = _resolve_dataset(store, args.dataset, t, args)
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
        worker_pid=os.getpid(),
    )
    print(t("cli.run_started", run_id=run_id))

    from bigmodel.training import execute_run

    run = execute_run(store, store.get_run(run_id), on_progress=_print_progress(t))
    print()
    if run.status == PAUSED:
        epochs = run.settings["training"]["epochs"]
        print(t("cli.run_paused", run_id=run.id, epoch=run.resume_epoch, epochs=epochs))
        return 0
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
    if "val_mae" in results:
        print(
            t(
                "cli.sequence.run_finished",
                run_id=run.id,
                status=t(f"status.{run.status}"),
                mae=results["val_mae"],
                rmse=results["val_rmse"],
                path=run.model_path,
            )
        )
        return 0
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
    from bigmodel import prediction_tables
    from bigmodel.errors import ModelNotReadyError
    from bigmodel.inference import load_predictor
    from bigmodel.sequence_prediction import SequencePredictor

    run_id, paths = _run_and_paths(args)
    if args.threshold is not None:
        prediction_tables.check_threshold(args.threshold)
    store = RunStore(home)
    run = store.get_run(run_id)
    if not run.has_model or run.model_path is None:
        raise ModelNotReadyError("errors.model_not_ready", run_id=run.id, status=run.status)
    predictor = load_predictor(Path(run.model_path))
    if isinstance(predictor, SequencePredictor):
        if args.output is not None:
            return _write_sequence_table(predictor, paths, args, t)
        return _predict_sequences(predictor, paths, args.top, t)
    if args.output is not None or any(_is_batch_path(path) for path in paths):
        return _predict_image_batch(predictor, paths, args, t)

    images = [(str(path), path.read_bytes()) for path in paths]
    failed = 0
    for result in predictor.predict_images(images, args.top):
        if result["error"]:
            failed += 1
            error = result["error"]
            message = i18n.translate(t.language, error["key"], **error["params"])
            print(f"{result['name']}: {message}")
            continue
        ranked = ", ".join(f"{label} {probability:.1%}" for label, probability in result["top"])
        uncertain = args.threshold is not None and prediction_tables.is_uncertain(
            result["top"][0][1], args.threshold
        )
        print(f"{result['name']}: {ranked}" + (f" ({t('batch.uncertain')})" if uncertain else ""))
    return 1 if failed else 0


def _run_and_paths(args: argparse.Namespace) -> tuple[int, list[Path]]:
    """Return the run id, from `--run` or the first argument, and the paths to predict.

    Raises:
        SettingsError: no run id is given, or the first argument is not a number.
    """
    if args.run is not None:
        return args.run, [Path(value) for value in (args.first, *args.rest)]
    first, rest = args.first, args.rest
    if not rest:
        raise SettingsError("cli.batch.run_missing")
    if not first.isdigit():
        raise SettingsError("cli.batch.run_not_number", value=first)
    return int(first), [Path(value) for value in rest]


def _is_batch_path(path: Path) -> bool:
    return path.is_dir() or path.suffix.casefold() == ".zip"


def _predict_image_batch(
    predictor: Any, paths: Sequence[Path], args: argparse.Namespace, t: i18n.Translator
) -> int:
    """Predict the images of files, folders and zips in chunks, and write or print the table.

    Returns 1 if any file could not be read, else 0.
    """
    from bigmodel import prediction_tables
    from bigmodel.batch_prediction import batch_from_paths, predict_batch
    from bigmodel.inference_client import Prediction

    def predict_chunk(images: Sequence[tuple[str, bytes]]) -> list[Prediction]:
        return [Prediction.from_dict(p) for p in predictor.predict_images(images, args.top)]

    with batch_from_paths(paths) as batch:
        predictions = predict_batch(batch.images, predict_chunk, on_progress=_print_count(t))
        table = prediction_tables.image_table(predictions, batch.skipped)
    print(file=sys.stderr)
    return _write_or_print(table, args, t)


def _print_count(t: i18n.Translator) -> Any:
    def show(done: int, total: int) -> None:
        print("\r" + t("batch.progress", done=done, total=total), end="", file=sys.stderr)

    return show


def _write_sequence_table(
    predictor: Any, paths: Sequence[Path], args: argparse.Namespace, t: i18n.Translator
) -> int:
    """Predict the sequences of CSV files into one table with a file column, and write it."""
    import pandas as pd

    tables = []
    for path in paths:
        table = predictor.predict_csv(path.read_bytes(), path.name, args.top)
        table.insert(0, "file", str(path))
        tables.append(table)
    return _write_or_print(pd.concat(tables, ignore_index=True), args, t)


def _write_or_print(table: Any, args: argparse.Namespace, t: i18n.Translator) -> int:
    """Mark the uncertain rows, then write the table to `--output` or print it."""
    from bigmodel import prediction_tables

    threshold = DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    marked = prediction_tables.mark_uncertain(table, threshold)
    frame = prediction_tables.display_frame(marked, t)
    failed = int(marked["error"].notna().sum()) if "error" in marked else 0
    if args.output is None:
        print(frame.to_string(index=False))
    else:
        args.output.write_bytes(prediction_tables.csv_bytes(frame))
        uncertain = int(marked["uncertain"].sum()) if "uncertain" in marked else 0
        print(
            t(
                "cli.batch.written",
                rows=len(frame),
                path=args.output,
                uncertain=uncertain,
                failed=failed,
            )
        )
    return 1 if failed else 0


def _predict_sequences(
    predictor: Any, files: Sequence[Path], top_k: int, t: i18n.Translator
) -> int:
    """Print the prediction table of each CSV file; return 1 if any file failed."""
    failed = 0
    for path in files:
        try:
            table = predictor.predict_csv(path.read_bytes(), path.name, top_k)
        except BigModelError as error:
            failed += 1
            print(f"{path}: {error.message(t.language)}")
            continue
        if "top" in table:
            table["top"] = [", ".join(f"{c} {p:.1%}" for c, p in top) for top in table["top"]]
        print(f"{path}:")
        print(table.to_string(index=False))
    return 1 if failed else 0


def _report(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    """Write a run's HTML report, evaluating its model here first when no evaluation is cached."""
    from bigmodel import evaluation, report

    store = RunStore(home)
    data = evaluation.load_evaluation(store, args.run)
    if data is None:
        data = evaluation.compute_evaluation(store, args.run)
    output = args.output or Path(report.file_name(args.run, t.language))
    output.write_text(report.build_report(store, args.run, t.language, data), "utf-8")
    print(t("report.written", run_id=args.run, path=output))
    return 0


def _pause(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel import jobs

    run = jobs.pause_run(RunStore(home), args.run)
    print(t("cli.paused_now" if run.status == PAUSED else "cli.pausing", run_id=run.id))
    return 0


def _resume(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel import jobs, services

    store = RunStore(home)
    run = (jobs.restart_run if args.restart else jobs.resume_run)(store, args.run)
    if run.resume_epoch is None:
        print(t("cli.restarted", run_id=run.id))
    else:
        epochs = run.settings["training"]["epochs"]
        print(t("cli.resumed", run_id=run.id, epoch=run.resume_epoch, epochs=epochs))
    if not services.is_running(home, services.WORKER):
        print(t("cli.no_worker"))
    return 0


def _runs(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    for run in RunStore(home).list_runs():
        accuracy = (run.results or {}).get("val_accuracy")
        shown = "-" if accuracy is None else f"{accuracy:.3f}"
        status = t(f"status.{run.status}")
        print(f"{run.id:>5}  {status:<10} {shown:>6}  {run.created_at:%Y-%m-%d %H:%M}  {run.name}")
    return 0


def _datasets(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    for dataset in RunStore(home).list_datasets():
        size = dataset.summary.get("num_images", dataset.summary.get("num_examples", ""))
        print(f"{dataset.id}  {dataset.kind:<8} {size!s:>6}  {dataset.name}")
    return 0


def _worker(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel import worker

    return worker.serve(home)


def _inference(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel import inference

    return inference.serve(home)


def _stop(args: argparse.Namespace, home: Home, t: i18n.Translator) -> int:
    from bigmodel import services

    for service in (services.WORKER, services.INFERENCE):
        stopped = services.stop(home, service)
        print(t("cli.stopped" if stopped else "cli.not_running", service=service))
    return 0


COMMANDS = {
    "ingest": _ingest,
    "train": _train,
    "predict": _predict,
    "report": _report,
    "pause": _pause,
    "resume": _resume,
    "runs": _runs,
    "datasets": _datasets,
    "worker": _worker,
    "inference": _inference,
    "stop": _stop,
}

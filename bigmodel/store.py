"""The run store: datasets, runs, their metrics and their models, in SQL.

SQLite in WAL mode under the data folder by default, or any SQLAlchemy URL through
`BIGMODEL_DATABASE_URL`. Large files (images, checkpoints, models) live on disk and
the rows point at them. Pages, the worker, the CLI and the inference service all
share this one store, so a run outlives any browser tab or process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bigmodel.config import Home
from bigmodel.errors import RunNotFoundError

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

datasets_table = sa.Table(
    "datasets",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("path", sa.String(1000), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

runs_table = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("dataset_id", sa.String(64), sa.ForeignKey("datasets.id"), nullable=False),
    sa.Column("family", sa.String(32), nullable=False),
    sa.Column("settings", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("stop_requested", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("started_at", sa.DateTime),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("worker_pid", sa.Integer),
    sa.Column("heartbeat_at", sa.DateTime),
    sa.Column("progress", sa.JSON),
    sa.Column("results", sa.JSON),
    sa.Column("environment", sa.JSON),
    sa.Column("error_key", sa.String(200)),
    sa.Column("error_params", sa.JSON),
    sa.Column("traceback", sa.Text),
    sa.Column("model_path", sa.String(1000)),
    sa.Column("pause_requested", sa.Boolean, default=False),
    sa.Column("resume_epoch", sa.Integer),
)

metrics_table = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("epoch", sa.Integer, nullable=False),
    sa.Column("step", sa.Integer, nullable=False),
    sa.Column("elapsed", sa.Float, nullable=False),
    sa.Column("values", sa.JSON, nullable=False),
)

QUEUED, RUNNING, PAUSED, COMPLETED, STOPPED, FAILED, INTERRUPTED = (
    "queued",
    "running",
    "paused",
    "completed",
    "stopped",
    "failed",
    "interrupted",
)
ACTIVE_STATUSES = (QUEUED, RUNNING)
FINISHED_STATUSES = (COMPLETED, STOPPED, FAILED, INTERRUPTED)
"""Statuses of runs that no worker will touch again; COMPLETED and STOPPED have a model.

A PAUSED run is neither active nor finished: no worker claims it until it is resumed.
`resume_run` moves a PAUSED or INTERRUPTED run back to the queue.
"""
RESUMABLE_STATUSES = (PAUSED, INTERRUPTED)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class DatasetRecord:
    """A canonical dataset as recorded in the store. Its files are at `path`."""

    id: str
    kind: str
    name: str
    path: str
    summary: dict[str, Any]
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run with its settings, status and results."""

    id: int
    name: str
    dataset_id: str
    family: str
    settings: dict[str, Any]
    status: str
    stop_requested: bool
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    worker_pid: int | None
    heartbeat_at: dt.datetime | None
    progress: dict[str, Any] | None
    results: dict[str, Any] | None
    environment: dict[str, Any] | None
    error_key: str | None
    error_params: dict[str, Any] | None
    traceback: str | None
    model_path: str | None
    pause_requested: bool | None
    resume_epoch: int | None
    """Epochs trained before the last pause or interruption, from which a resumed run
    continues; None for a run that starts from scratch."""

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def has_model(self) -> bool:
        return self.model_path is not None and self.status in (COMPLETED, STOPPED)


@dataclasses.dataclass(frozen=True)
class MetricRow:
    """Metrics logged at the end of an epoch (`kind="epoch"`) or inside one (`"batch"`)."""

    kind: str
    epoch: int
    step: int
    elapsed: float
    values: dict[str, float]


def _enable_sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def add_missing_columns(engine: Engine) -> list[str]:
    """Add the nullable columns of `metadata` that an existing database lacks; return them.

    A database created by an older version keeps working after a column was added to a
    table here, without a migration tool. Columns that are not nullable cannot be added
    this way and raise.
    """
    added: list[str] = []
    for table in metadata.sorted_tables:
        present = {column["name"] for column in sa.inspect(engine).get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            if not column.nullable:
                raise RuntimeError(f"Column {table.name}.{column.name} is missing and not nullable")
            _add_column(engine, table, column)
            added.append(f"{table.name}.{column.name}")
    return added


def _add_column(engine: Engine, table: sa.Table, column: sa.Column[Any]) -> None:
    quote = engine.dialect.identifier_preparer.quote
    statement = (
        f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} "
        f"{column.type.compile(dialect=engine.dialect)}"
    )
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        # Another process that opened the store at the same moment may have added it.
        present = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
        if column.name not in present:
            raise
        return
    logger.info("Added the missing column %s.%s to the run store", table.name, column.name)


class RunStore:
    """Access to the SQL run store of one studio installation.

    Safe to use from several processes at once: SQLite serialises writers and WAL
    lets readers go on while a worker writes metrics.
    """

    def __init__(self, home: Home) -> None:
        self.home = home.ensure()
        self.engine: Engine = sa.create_engine(home.database_url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _enable_sqlite_wal)
        metadata.create_all(self.engine)
        add_missing_columns(self.engine)

    def _connect(self) -> Any:
        return self.engine.begin()

    # Datasets.

    def add_dataset(self, record: DatasetRecord) -> None:
        """Insert `record`, or keep the stored one when the same content was ingested before."""
        with self._connect() as conn:
            exists = conn.execute(
                sa.select(datasets_table.c.id).where(datasets_table.c.id == record.id)
            ).first()
            if exists is None:
                conn.execute(datasets_table.insert().values(**dataclasses.asdict(record)))

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        with self._connect() as conn:
            row = conn.execute(
                sa.select(datasets_table).where(datasets_table.c.id == dataset_id)
            ).first()
        if row is None:
            raise RunNotFoundError("errors.dataset_not_found", dataset_id=dataset_id)
        return DatasetRecord(**row._asdict())

    def list_datasets(self, kind: str | None = None) -> list[DatasetRecord]:
        query = sa.select(datasets_table).order_by(datasets_table.c.created_at.desc())
        if kind is not None:
            query = query.where(datasets_table.c.kind == kind)
        with self._connect() as conn:
            return [DatasetRecord(**row._asdict()) for row in conn.execute(query)]

    # Runs.

    def create_run(
        self,
        name: str,
        dataset_id: str,
        family: str,
        settings: dict[str, Any],
        worker_pid: int | None = None,
    ) -> int:
        """Insert a queued run, or with `worker_pid` a run already running in that process.

        A run that its creator trains itself (the CLI) must never be visible as queued,
        or a worker could claim it first.
        """
        started = (
            {}
            if worker_pid is None
            else {
                "status": RUNNING,
                "worker_pid": worker_pid,
                "started_at": utcnow(),
                "heartbeat_at": utcnow(),
            }
        )
        with self._connect() as conn:
            result = conn.execute(
                runs_table.insert().values(
                    name=name,
                    dataset_id=dataset_id,
                    family=family,
                    settings=settings,
                    stop_requested=False,
                    created_at=utcnow(),
                    **{"status": QUEUED, **started},
                )
            )
            run_id = result.inserted_primary_key[0]
        logger.info("Created run %s (%s on dataset %s)", run_id, family, dataset_id)
        return int(run_id)

    def get_run(self, run_id: int) -> Run:
        with self._connect() as conn:
            row = conn.execute(sa.select(runs_table).where(runs_table.c.id == run_id)).first()
        if row is None:
            raise RunNotFoundError("errors.run_not_found", run_id=run_id)
        return Run(**row._asdict())

    def list_runs(self, statuses: Sequence[str] | None = None) -> list[Run]:
        query = sa.select(runs_table).order_by(runs_table.c.id.desc())
        if statuses is not None:
            query = query.where(runs_table.c.status.in_(statuses))
        with self._connect() as conn:
            return [Run(**row._asdict()) for row in conn.execute(query)]

    def claim_next_run(self, worker_pid: int) -> Run | None:
        """Mark the oldest queued run as running for `worker_pid` and return it."""
        while True:
            with self._connect() as conn:
                run_id = conn.execute(
                    sa.select(runs_table.c.id)
                    .where(runs_table.c.status == QUEUED)
                    .order_by(runs_table.c.id)
                    .limit(1)
                ).scalar()
            if run_id is None:
                return None
            if self.start_run(run_id, worker_pid):
                return self.get_run(run_id)

    def start_run(self, run_id: int, worker_pid: int) -> bool:
        """Move `run_id` from queued to running; False if it was not queued any more.

        The conditional update makes the claim atomic, so two workers never take the
        same run.
        """
        with self._connect() as conn:
            claimed = conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id, runs_table.c.status == QUEUED)
                .values(
                    status=RUNNING,
                    worker_pid=worker_pid,
                    started_at=utcnow(),
                    heartbeat_at=utcnow(),
                )
            ).rowcount
        return bool(claimed)

    def update_run(self, run_id: int, **values: Any) -> None:
        with self._connect() as conn:
            conn.execute(runs_table.update().where(runs_table.c.id == run_id).values(**values))

    def finish_run(
        self,
        run_id: int,
        status: str,
        *,
        error_key: str | None = None,
        error_params: dict[str, Any] | None = None,
        traceback: str | None = None,
        **values: Any,
    ) -> None:
        """Set the final status of an active run; a run that is not active keeps its status.

        So a worker that ends late never overwrites a stop, a pause or an interruption.
        """
        with self._connect() as conn:
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id, runs_table.c.status.in_(ACTIVE_STATUSES))
                .values(
                    status=status,
                    finished_at=utcnow(),
                    pause_requested=False,
                    error_key=error_key,
                    error_params=error_params,
                    traceback=traceback,
                    **values,
                )
            )
        logger.info("Run %s finished as %s", run_id, status)

    def request_stop(self, run_id: int) -> None:
        """Ask the worker to stop `run_id` after its current batch.

        A queued or paused run, which no worker trains, stops at once.
        """
        with self._connect() as conn:
            conn.execute(
                runs_table.update().where(runs_table.c.id == run_id).values(stop_requested=True)
            )
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id, runs_table.c.status.in_((QUEUED, PAUSED)))
                .values(status=STOPPED, finished_at=utcnow())
            )

    def request_pause(self, run_id: int) -> None:
        """Ask the worker to pause `run_id` after its current epoch; a queued run pauses at once."""
        with self._connect() as conn:
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id, runs_table.c.status == RUNNING)
                .values(pause_requested=True)
            )
            conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id, runs_table.c.status == QUEUED)
                .values(status=PAUSED)
            )

    def is_pause_requested(self, run_id: int) -> bool:
        with self._connect() as conn:
            return bool(
                conn.execute(
                    sa.select(runs_table.c.pause_requested).where(runs_table.c.id == run_id)
                ).scalar()
            )

    def pause_run(self, run_id: int, epochs_trained: int) -> bool:
        """Move a running run to paused after `epochs_trained` epochs; False if it was not running.

        The worker calls this once the run's checkpoint is on disk.
        """
        with self._connect() as conn:
            paused = conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id, runs_table.c.status == RUNNING)
                .values(status=PAUSED, pause_requested=False, resume_epoch=epochs_trained)
            ).rowcount
        logger.info("Run %s paused after %d epochs", run_id, epochs_trained)
        return bool(paused)

    def requeue_run(self, run_id: int, resume_epoch: int | None, **values: Any) -> bool:
        """Move a paused or interrupted run back to the queue; False if it was neither.

        With `resume_epoch` the worker continues from the checkpoint taken after that
        many epochs; with None it trains from scratch. `values` sets further columns.
        """
        with self._connect() as conn:
            queued = conn.execute(
                runs_table.update()
                .where(runs_table.c.id == run_id, runs_table.c.status.in_(RESUMABLE_STATUSES))
                .values(
                    status=QUEUED,
                    resume_epoch=resume_epoch,
                    stop_requested=False,
                    pause_requested=False,
                    worker_pid=None,
                    finished_at=None,
                    error_key=None,
                    error_params=None,
                    traceback=None,
                    **values,
                )
            ).rowcount
        logger.info("Run %s queued again, to resume after epoch %s", run_id, resume_epoch)
        return bool(queued)

    def is_stop_requested(self, run_id: int) -> bool:
        with self._connect() as conn:
            return bool(
                conn.execute(
                    sa.select(runs_table.c.stop_requested).where(runs_table.c.id == run_id)
                ).scalar()
            )

    # Metrics.

    def log_metrics(self, run_id: int, rows: Sequence[MetricRow]) -> None:
        if not rows:
            return
        with self._connect() as conn:
            conn.execute(
                metrics_table.insert(),
                [{"run_id": run_id, **dataclasses.asdict(row)} for row in rows],
            )

    def delete_metrics(self, run_id: int, from_epoch: int = 0) -> None:
        """Delete the metric rows of epochs `from_epoch` and later, which a resumed run redoes."""
        with self._connect() as conn:
            conn.execute(
                metrics_table.delete().where(
                    metrics_table.c.run_id == run_id, metrics_table.c.epoch >= from_epoch
                )
            )

    def get_metrics(self, run_id: int, kind: str | None = None) -> list[MetricRow]:
        query = (
            sa.select(
                metrics_table.c.kind,
                metrics_table.c.epoch,
                metrics_table.c.step,
                metrics_table.c.elapsed,
                metrics_table.c["values"],
            )
            .where(metrics_table.c.run_id == run_id)
            .order_by(metrics_table.c.id)
        )
        if kind is not None:
            query = query.where(metrics_table.c.kind == kind)
        with self._connect() as conn:
            return [MetricRow(**row._asdict()) for row in conn.execute(query)]

    def iter_run_ids(self) -> Iterator[int]:
        with self._connect() as conn:
            yield from conn.execute(sa.select(runs_table.c.id)).scalars()


def to_json(value: Any) -> Any:
    """Round-trip `value` through JSON, so only plain types reach the store."""
    return json.loads(json.dumps(value, default=str))


__all__ = ["Connection", "DatasetRecord", "MetricRow", "Run", "RunStore"]

"""Process set-up shared by the CLI and the flows: Prefect defaults, logging, the store's
engine (made, and its schema checked, once per process and database), the task runner."""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from prefect.cache_policies import NO_CACHE
from sqlalchemy import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from domain.errors import InvalidInputError, StoreNotReadyError, UserError
from domain.redaction import RedactingFilter, redact
from domain.settings import Settings
from storage.engine import make_engine
from storage.migrate import current_revision, head_revision, known_revisions, upgrade

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")



# Marks the temporary Prefect server a command starts (the server inherits the environment),
# so that a later command can tell an orphan from the server of a command still running.
OWNER_VARIABLE = "SENTREC_COMMAND_PID"


# Task results and failures stay in memory, never in Prefect's result storage: they can hold
# ids and messages from customer files, and nothing here needs Prefect's caching (tasks are
# idempotent by design: batches, scores and sets are keyed in the store).
TASK_OPTIONS: dict[str, Any] = {"persist_result": False, "cache_policy": NO_CACHE}


def redacted_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Redact the message of any exception leaving ``function`` (a task or flow body) before
    Prefect turns it into a state message, an event and a log line.

    ``UserError`` messages are redacted when made; this also covers an error raised by a library
    that quotes a value it was given (a row's field, a parameter).
    """
    @functools.wraps(function)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            seen: set[int] = set()
            error: BaseException | None = exc
            while error is not None and id(error) not in seen:  # the cause chain too
                seen.add(id(error))
                error.args = tuple(redact(a) if isinstance(a, str) else a for a in error.args)
                error = error.__cause__ or error.__context__
            raise

    return guarded


def configure_process(settings: Settings, *, verbose: bool = False) -> None:
    """Point Prefect at sentrec's home and keep customer text out of every log handler."""
    if verbose:  # Prefect read its level on import (flows/__init__.py): set its loggers
        for name in ("prefect", "prefect.flow_runs", "prefect.task_runs"):
            logging.getLogger(name).setLevel(logging.INFO)
    os.environ[OWNER_VARIABLE] = str(os.getpid())
    # Prefect makes its home folder without parents and its local server cannot start
    # without it, so a new SENTREC_HOME is created here, when a command runs.
    try:
        settings.home.mkdir(parents=True, exist_ok=True)
        Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(f"SENTREC_HOME {settings.home} cannot be used as a folder "
                                f"({exc.strerror}); point it at a folder you can write") from exc
    for name in ("prefect.flow_runs", "prefect.task_runs"):
        run_logger = logging.getLogger(name)
        if not any(isinstance(f, UserErrorsStayOneLine) for f in run_logger.filters):
            run_logger.addFilter(UserErrorsStayOneLine())
    # Redact when a record is made, so every handler, including ones Prefect adds later,
    # only ever sees redacted text.
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacts", False):
        logging.setLogRecordFactory(_redacting_factory(factory, settings.phone_regions))


class UserErrorsStayOneLine(logging.Filter):
    """Drops Prefect's log of a run that failed on a ``UserError`` (its traceback): the CLI
    answers such a mistake with one line (what, where, what to do) and exit code 2. A bug's
    traceback is still logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, UserError)


def _redacting_factory(make: Callable[..., logging.LogRecord],
                       phone_regions: tuple[str, ...]) -> Callable[..., logging.LogRecord]:
    redactor = RedactingFilter(phone_regions)

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        redactor.filter(record)
        return record

    make_record.redacts = True  # type: ignore[attr-defined]
    return make_record


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine (and connection pool) per database URL in this process."""
    try:
        return make_engine(url)
    except NoSuchModuleError as exc:
        driver = str(exc).rsplit(":", 1)[-1].strip()
        raise InvalidInputError(f"SENTREC_DATABASE_URL names a database driver sentrec does "
                                f"not have ({driver}); use sqlite:///FILE or "
                                "postgresql://USER@HOST:5432/DB") from exc
    except ArgumentError as exc:
        shown = url if "@" not in url else "(not shown: it may hold a password)"
        raise InvalidInputError(f"SENTREC_DATABASE_URL {shown!r} is not a database URL; use "
                                "sqlite:///FILE or postgresql://USER@HOST:5432/DB") from exc


_READY: set[str] = set()  # database URLs whose schema was found current in this process
_READY_LOCK = threading.Lock()


def ready_engine(settings: Settings) -> Engine:
    """The store's engine, with its schema current (checked once per process and URL).

    The default SQLite file is created and migrated on first use so that a new user's first
    command works; any other database must be migrated on purpose with ``sentrec db upgrade``.
    """
    url = settings.resolved_database_url
    engine = engine_for(url)
    if url in _READY:
        return engine
    with _READY_LOCK:
        if url not in _READY:
            _require_current(engine, migrate=settings.database_url is None)
            _READY.add(url)
    return engine


def _require_current(engine: Engine, *, migrate: bool) -> None:
    current, head = stored_revision(engine), head_revision()
    if current == head:
        return
    if migrate:
        log.info("migrating %s from %s to %s", engine.url, current or "empty", head)
        upgrade(engine)
        return
    raise StoreNotReadyError(
        f"the database {engine.url.render_as_string(hide_password=True)} is at schema "
        f"revision {current or 'none'} and this sentrec needs {head}: run `sentrec db upgrade`"
    )


def stored_revision(engine: Engine) -> str | None:
    """The store's schema revision, refusing a store that cannot be reached or that a newer
    sentrec has migrated (this one would misread it)."""
    shown = engine.url.render_as_string(hide_password=True)
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        reason = str(exc.orig or exc).strip().splitlines()[0]
        raise StoreNotReadyError(f"cannot reach the database {shown}: {reason}; check "
                                 "SENTREC_DATABASE_URL and that the server is up") from None
    if current is not None and current not in known_revisions():
        raise StoreNotReadyError(f"sentrec is older than this store: its schema is at revision "
                                 f"{current}, which this sentrec does not know (it knows up to "
                                 f"{head_revision()}); install the sentrec that migrated it")
    return current


def task_runner(settings: Settings) -> Any:
    """The Prefect task runner the settings ask for (mapped tasks run on it).

    ``dask`` connects to ``dask_address`` when given (a remote cluster whose workers have
    sentrec installed and reach the same database and model folder), else starts a local one.
    """
    if settings.task_runner == "dask":
        from prefect_dask.task_runners import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": settings.max_workers or 2,
                                              "threads_per_worker": 1,
                                              "dashboard_address": None})
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner

    if settings.task_runner == "processes":
        return ProcessPoolTaskRunner(max_workers=settings.max_workers)
    return ThreadPoolTaskRunner(max_workers=settings.max_workers)


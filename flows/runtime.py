"""Process set-up shared by the CLI and the flows: Prefect defaults, logging, the store's
engine (made, and its schema checked, once per process and database), the task runner."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from domain.errors import StoreNotReadyError
from domain.redaction import RedactingFilter
from domain.settings import Settings
from storage.engine import make_engine
from storage.migrate import current_revision, head_revision, upgrade

log = logging.getLogger(__name__)

# Prefect reads these when it is first imported, so they are set before any flow module loads.
# Each is only a default: a value already in the environment wins.
_PREFECT_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    # Run-by-run chatter stays out of the CLI's output; `-v` or this variable brings it back.
    "PREFECT_LOGGING_LEVEL": "WARNING",
    # Tokenizer training is reproducible only on one thread (vocabulary ties order by thread).
    "TOKENIZERS_PARALLELISM": "false",
}


# Marks the temporary Prefect server a command starts (the server inherits the environment),
# so that a later command can tell an orphan from the server of a command still running.
OWNER_VARIABLE = "SENTREC_COMMAND_PID"
_SERVER_APP = "prefect.server.api.server:create_app"


def configure_process(settings: Settings, *, verbose: bool = False) -> None:
    """Point Prefect at sentrec's home and keep customer text out of every log handler."""
    if verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
    os.environ.setdefault("PREFECT_HOME", str((settings.home / "prefect").resolve()))
    os.environ[OWNER_VARIABLE] = str(os.getpid())
    # Prefect makes its home folder without parents and its local server cannot start
    # without it, so a new SENTREC_HOME is created here, when a command runs.
    Path(os.environ["PREFECT_HOME"]).expanduser().mkdir(parents=True, exist_ok=True)
    for name, value in _PREFECT_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # Redact when a record is made, so every handler, including ones Prefect adds later,
    # only ever sees redacted text.
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacts", False):
        logging.setLogRecordFactory(_redacting_factory(factory))


def stop_on_signals() -> None:
    """End the process on SIGTERM or SIGHUP as on Ctrl-C: exit handlers run, so the temporary
    Prefect server this process started is stopped with it (Python's default for these signals
    exits at once and leaves it running)."""
    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, leave)


def stop_orphaned_servers(prefect_home: Path) -> int:
    """Stop temporary Prefect servers of ``prefect_home`` whose command is gone (a kill -9
    leaves them running, holding a port and the state database). Returns how many."""
    import psutil

    stopped = 0
    home = str(prefect_home.resolve())
    for process in psutil.process_iter(["cmdline"]):
        try:
            if _SERVER_APP not in " ".join(process.info["cmdline"] or ()):
                continue
            environ = process.environ()
            if environ.get("PREFECT_HOME") != home or OWNER_VARIABLE not in environ:
                continue
            owner = int(environ[OWNER_VARIABLE])
            if psutil.pid_exists(owner) and owner in {p.pid for p in process.parents()}:
                continue  # its command is still running
            process.terminate()
            stopped += 1
        except (psutil.Error, ValueError):  # gone meanwhile, or not ours to read
            continue
    if stopped:
        log.info("stopped %d temporary Prefect server(s) left by a killed command", stopped)
    return stopped


def _redacting_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    redactor = RedactingFilter()

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        redactor.filter(record)
        return record

    make_record.redacts = True  # type: ignore[attr-defined]
    return make_record


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One engine (and connection pool) per database URL in this process."""
    return make_engine(url)


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
    current, head = current_revision(engine), head_revision()
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


FLOW_NAMES = ("ingest-messages", "ingest-news", "ingest-events", "ingest-items",
              "train-sentiment", "score-documents", "monitor-sentiment", "train-recommender",
              "publish-recommendations", "daily")


@dataclass(frozen=True)
class FlowRunInfo:
    """The newest run of a flow as Prefect recorded it."""

    flow: str
    state: str
    started: datetime | None
    message: str | None


def last_flow_runs(names: tuple[str, ...] = FLOW_NAMES) -> dict[str, FlowRunInfo]:
    """The newest run of each flow (a flow never run is left out), from Prefect's API: the
    temporary local server, or the one ``PREFECT_API_URL`` names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    found: dict[str, FlowRunInfo] = {}
    with get_client(sync_client=True) as client:
        for name in names:
            runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])),
                                         sort=FlowRunSort.START_TIME_DESC, limit=1)
            if runs:
                run = runs[0]
                state = run.state
                found[name] = FlowRunInfo(name, (state.name if state else None) or "unknown",
                                          run.start_time, state.message if state else None)
    return found

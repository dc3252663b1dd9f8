"""Lookups: ``sentrec recommend`` in the terminal and ``sentrec serve`` over HTTP."""

from __future__ import annotations

import copy
import logging
import os
import tempfile
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.engine import make_url

from domain.errors import NotReadyError
from domain.settings import Settings
from flows.cli.output import console

if TYPE_CHECKING:
    from storage.recsets import ActiveSet


def recommend(user: str, k: Annotated[int, typer.Option(min=1, max=100)] = 10) -> None:
    """Print one user's recommendations from the active set, with titles (a user id that
    holds an email or phone number is looked up as its pseudonym, as ingest stored it)."""
    from domain.redaction import stored_id
    from flows.cli.tables import recommendations_table
    from flows.runtime import ready_engine

    settings = Settings()
    user = stored_id(user, regions=settings.phone_regions)
    found, table = recommendations_table(ready_engine(settings), user, k)
    if found.set_id is None:
        raise NotReadyError("no recommendation set is published yet; run `sentrec publish`")
    console.print(table)


def serve(host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
          workers: Annotated[int, typer.Option(min=1)] = 1,
          access_log: Annotated[bool, typer.Option(
              help="One line per request on stderr: method, path, status, duration.")] = True,
          ) -> None:
    """Run the read-only lookup API (FastAPI on uvicorn)."""
    import uvicorn

    from flows.runtime import ready_engine
    from service.protocol import BoundedHttpToolsProtocol
    from storage.recsets import active_set

    settings = Settings()
    with ready_engine(settings).connect() as connection:
        active = active_set(connection=connection)
    console.print(startup_line(url=settings.resolved_database_url, host=host, port=port,
                               workers=workers, active=active),
                  markup=False, highlight=False, soft_wrap=True)
    with tempfile.TemporaryDirectory(prefix="sentrec-metrics-") as metrics_dir:
        # Several workers are several processes: prometheus-client's multiprocess mode adds
        # up their metrics through files in this folder (service/metrics.py).
        if workers > 1:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        else:
            os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # Every service process redacts what it logs the same way, one worker or many (new
        # processes, without this CLI's record factory): the access line's target in
        # service/access.py, other lines by log_config's filter. Redacting each whole access
        # line again in the factory cost about 18 us a request.
        logging.setLogRecordFactory(logging.LogRecord)
        # httptools with the request head bounded (service/protocol.py); no websockets.
        uvicorn.run("service.app:create_app", factory=True, host=host, port=port,
                    workers=workers, http=BoundedHttpToolsProtocol, ws="none",
                    log_level="warning", access_log=False, log_config=log_config(access_log))


def startup_line(*, url: str, host: str, port: int, workers: int,
                 active: ActiveSet | None) -> str:
    """What ``sentrec serve`` prints once: where, on what database (no password), how many
    workers, and whether there is a set to serve."""
    database = make_url(url).render_as_string(hide_password=True)
    address = f"[{host}]" if ":" in host else host
    published = (f"recommendation set {active.id} active since "
                 f"{active.activated_at:%Y-%m-%d %H:%M} UTC" if active is not None else
                 "no recommendation set published yet (/readyz answers 503)")
    return (f"lookup API on http://{address}:{port}, {workers} worker"
            f"{'s' if workers > 1 else ''}, database {database}, {published}")


def log_config(access_log: bool) -> dict[str, Any]:
    """uvicorn's logging plus the service's: its warnings, and the access lines if wanted,
    on stderr, in every worker process. Lines other than access lines are redacted whole;
    an access line's one free-text part, the target, is redacted where it is written."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": "domain.redaction.RedactingFilter"}}
    config["handlers"]["default"]["filters"] = ["redact"]
    config["formatters"]["service"] = {"format": "%(asctime)s %(levelname)s %(name)s: "
                                                 "%(message)s"}
    config["formatters"]["service.access"] = {"format": "%(asctime)s %(message)s"}
    for name in ("service", "service.access"):
        config["handlers"][name] = {"class": "logging.StreamHandler", "formatter": name,
                                    "stream": "ext://sys.stderr"}
    config["handlers"]["service"]["filters"] = ["redact"]
    config["loggers"]["service"] = {"handlers": ["service"], "level": "WARNING",
                                    "propagate": False}
    config["loggers"]["service.access"] = {"handlers": ["service.access"], "propagate": False,
                                           "level": "INFO" if access_log else "WARNING"}
    return config

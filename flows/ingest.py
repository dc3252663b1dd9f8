"""Ingest flows: ``ingest-messages``, ``ingest-news``, ``ingest-events``, ``ingest-items``.

Each run takes file paths and writes one batch per file. Tasks get paths and settings, never
frames, so results stay small (STACK.md: Prefect holds task results until the flow ends).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from sqlalchemy.exc import OperationalError

from domain.records import Stream
from domain.settings import Settings
from flows.ingestion import batch_markdown, ingest_file
from flows.runtime import ready_engine


def _transient(_task: Any, _run: Any, state: Any) -> bool:
    """Retry only what a retry can fix: a locked or dropped database connection."""
    try:
        state.result()
    except OperationalError:
        return True
    except Exception:  # anything else is the file's fault: fail at once
        return False
    return False


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=_transient,
      task_run_name="ingest-{stream}-{path}")
def ingest_one(stream: str, path: str, fmt: str | None, source: str | None,
               encoding: str | None, settings: Settings) -> dict[str, Any]:
    """Ingest one file and publish its batch summary as a markdown artifact."""
    logger = get_run_logger()
    summary = ingest_file(engine=ready_engine(settings), stream=Stream(stream), path=Path(path),
                          fmt=fmt, source=source, encoding=encoding,
                          aliases=settings.entity_aliases, chunk_rows=settings.ingest_chunk_rows)
    create_markdown_artifact(markdown=batch_markdown(summary),
                             key=f"ingest-{stream}-batch-{summary.batch_id}",
                             description=f"{stream} batch {summary.batch_id}")
    logger.info("%s batch %s: read %d, loaded %d, rejected %d, duplicate %d%s", stream,
                summary.batch_id, summary.rows_read, summary.loaded, summary.rejected,
                summary.duplicate, " (already ingested)" if summary.skipped else "")
    return summary.__dict__


def _ingest(stream: Stream, paths: list[str], fmt: str | None, source: str | None,
            encoding: str | None, settings: Settings | None) -> list[dict[str, Any]]:
    settings = settings or Settings()
    # Files go one after another: each batch is a single write transaction, and SQLite
    # allows one writer at a time.
    return [ingest_one(stream.value, p, fmt, source, encoding, settings) for p in paths]


@flow(name="ingest-messages")
def ingest_messages(paths: list[str], fmt: str | None = None, source: str | None = None,
                    encoding: str | None = None,
                    settings: Settings | None = None) -> list[dict[str, Any]]:
    """Customer-service logs into ``messages`` (redacted) and their labels into ``labels``."""
    return _ingest(Stream.MESSAGES, paths, fmt, source, encoding, settings)


@flow(name="ingest-news")
def ingest_news(paths: list[str], fmt: str | None = None, source: str | None = None,
                encoding: str | None = None,
                settings: Settings | None = None) -> list[dict[str, Any]]:
    """Financial news into ``news`` with entity tags; labelled sentences into ``labels``."""
    return _ingest(Stream.NEWS, paths, fmt, source, encoding, settings)


@flow(name="ingest-events")
def ingest_events(paths: list[str], fmt: str | None = None, source: str | None = None,
                  encoding: str | None = None,
                  settings: Settings | None = None) -> list[dict[str, Any]]:
    """User behaviour into ``events`` (and item text, where the source carries it)."""
    return _ingest(Stream.EVENTS, paths, fmt, source, encoding, settings)


@flow(name="ingest-items")
def ingest_items(paths: list[str], fmt: str | None = None, source: str | None = None,
                 encoding: str | None = None,
                 settings: Settings | None = None) -> list[dict[str, Any]]:
    """Catalogue items with their titles, descriptions and categories into ``items``."""
    return _ingest(Stream.ITEMS, paths, fmt, source, encoding, settings)


FLOWS = {
    Stream.MESSAGES: ingest_messages,
    Stream.NEWS: ingest_news,
    Stream.EVENTS: ingest_events,
    Stream.ITEMS: ingest_items,
}

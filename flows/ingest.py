"""Ingest flows: ``ingest-messages``, ``ingest-news``, ``ingest-events``, ``ingest-items``.

``ingest_file`` is the plain pipeline (checksum, parse with the stream's adapter, write one
batch); each flow runs it as a task per file. Tasks get paths and settings, never frames, so
results stay small (STACK.md: Prefect holds task results until the flow ends).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from domain.adapters import StoreRules, parse_file
from domain.phones import DEFAULT_PHONE_REGIONS
from domain.readers import file_sha256
from domain.records import Stream
from domain.settings import Settings
from flows.runtime import TASK_OPTIONS, ready_engine, redacted_errors
from storage.ingest import BatchSummary, find_batch, record_batch


def ingest_file(*, engine: Engine, stream: Stream, path: Path, fmt: str | None = None,
                source: str | None = None, encoding: str | None = None,
                aliases: Path | None = None, rules: StoreRules | None = None,
                chunk_rows: int = 200_000,
                phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
                on_stage: Callable[[str], None] | None = None) -> BatchSummary:
    """Ingest one file as a batch; the same file again is a no-op that returns its batch."""
    stage = on_stage or (lambda _: None)
    stage("checksum")
    sha256 = file_sha256(path)
    stage("parse")
    parsed = parse_file(stream, path, fmt=fmt, source=source, encoding=encoding,
                        aliases=aliases, rules=rules, phone_regions=phone_regions)
    existing = find_batch(engine=engine, stream=stream, source=parsed.source,
                          file_sha256=sha256)
    if existing is not None:
        return existing
    stage("write")
    return record_batch(engine=engine, parsed=parsed, path=path, file_sha256=sha256,
                        format=parsed.format, chunk_rows=chunk_rows)


def batch_markdown(summary: BatchSummary) -> str:
    """The markdown artifact a flow run publishes for one batch."""
    status = "already ingested (no-op)" if summary.skipped else "loaded"
    identity = "yes" if summary.reconciles() else "NO"
    return "\n".join([
        f"# Ingest batch {summary.batch_id}: {summary.stream} from `{summary.path}`",
        "",
        f"Status: **{status}**. Source `{summary.source}`, format `{summary.format}`, "
        f"encoding `{summary.encoding or 'binary'}`, sha256 `{summary.file_sha256[:16]}…`.",
        "",
        "| rows read | loaded | rejected | duplicate | labels | items | reconciles |",
        "|---:|---:|---:|---:|---:|---:|:--:|",
        f"| {summary.rows_read:,} | {summary.loaded:,} | {summary.rejected:,} | "
        f"{summary.duplicate:,} | {summary.labels_loaded:,} | {summary.items_loaded:,} | "
        f"{identity} |",
        "",
        f"Rejected rows are kept with line, raw text and reason: "
        f"`SELECT line, reason FROM rejects WHERE batch_id = {summary.batch_id}`.",
    ])


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
      task_run_name="ingest-{stream}-{path}", **TASK_OPTIONS)
@redacted_errors
def ingest_one(stream: str, path: str, fmt: str | None, source: str | None,
               encoding: str | None, settings: Settings) -> BatchSummary:
    """Ingest one file and publish its batch summary as a markdown artifact."""
    rules = StoreRules(earliest=settings.earliest_time,
                       future=timedelta(days=settings.future_days))
    summary = ingest_file(engine=ready_engine(settings), stream=Stream(stream), path=Path(path),
                          fmt=fmt, source=source, encoding=encoding, rules=rules,
                          aliases=settings.entity_aliases, chunk_rows=settings.ingest_chunk_rows,
                          phone_regions=settings.phone_regions)
    create_markdown_artifact(markdown=batch_markdown(summary),
                             key=f"ingest-{stream}-batch-{summary.batch_id}",
                             description=f"{stream} batch {summary.batch_id}")
    get_run_logger().info("%s batch %s: read %d, loaded %d, rejected %d, duplicate %d%s",
                          stream, summary.batch_id, summary.rows_read, summary.loaded,
                          summary.rejected, summary.duplicate,
                          " (already ingested)" if summary.skipped else "")
    return summary


def _ingest(stream: Stream, paths: list[str], fmt: str | None, source: str | None,
            encoding: str | None, settings: Settings | None) -> list[BatchSummary]:
    settings = settings or Settings()
    # Files go one after another: each batch is a single write transaction, and SQLite
    # allows one writer at a time.
    return [ingest_one(stream.value, p, fmt, source, encoding, settings) for p in paths]


@flow(name="ingest-messages", persist_result=False)
@redacted_errors
def ingest_messages(paths: list[str], fmt: str | None = None, source: str | None = None,
                    encoding: str | None = None,
                    settings: Settings | None = None) -> list[BatchSummary]:
    """Customer-service logs into ``messages`` (redacted) and their labels into ``labels``."""
    return _ingest(Stream.MESSAGES, paths, fmt, source, encoding, settings)


@flow(name="ingest-news", persist_result=False)
@redacted_errors
def ingest_news(paths: list[str], fmt: str | None = None, source: str | None = None,
                encoding: str | None = None,
                settings: Settings | None = None) -> list[BatchSummary]:
    """Financial news into ``news`` with entity tags; labelled sentences into ``labels``."""
    return _ingest(Stream.NEWS, paths, fmt, source, encoding, settings)


@flow(name="ingest-events", persist_result=False)
@redacted_errors
def ingest_events(paths: list[str], fmt: str | None = None, source: str | None = None,
                  encoding: str | None = None,
                  settings: Settings | None = None) -> list[BatchSummary]:
    """User behaviour into ``events`` (and item text, where the source carries it)."""
    return _ingest(Stream.EVENTS, paths, fmt, source, encoding, settings)


@flow(name="ingest-items", persist_result=False)
@redacted_errors
def ingest_items(paths: list[str], fmt: str | None = None, source: str | None = None,
                 encoding: str | None = None,
                 settings: Settings | None = None) -> list[BatchSummary]:
    """Catalogue items with their titles, descriptions and categories into ``items``."""
    return _ingest(Stream.ITEMS, paths, fmt, source, encoding, settings)


FLOWS = {
    Stream.MESSAGES: ingest_messages,
    Stream.NEWS: ingest_news,
    Stream.EVENTS: ingest_events,
    Stream.ITEMS: ingest_items,
}

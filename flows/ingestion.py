"""Bringing one file into the store: checksum, parse with its adapter, write one batch."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine

from domain.readers import file_sha256
from domain.records import Parsed, Stream
from storage.ingest import BatchSummary, find_batch, record_batch


def parse_file(stream: Stream, path: Path, *, fmt: str | None, source: str | None,
               encoding: str | None, aliases: Path | None = None) -> Parsed:
    """Run the adapter of ``stream`` on ``path`` (adapters load on first use)."""
    if stream is Stream.MESSAGES:
        from domain.adapters.messages import parse_messages

        return parse_messages(path, fmt=fmt, source=source, encoding=encoding or "utf-8")
    if stream is Stream.NEWS:
        from domain.adapters.news import parse_news
        from domain.entities import load_aliases

        return parse_news(path, fmt=fmt, source=source, encoding=encoding,
                          aliases=load_aliases(aliases))
    if stream is Stream.EVENTS:
        from domain.adapters.events import parse_events

        return parse_events(path, fmt=fmt, source=source, encoding=encoding or "utf-8")
    from domain.adapters.items import parse_items

    return parse_items(path, fmt=fmt, source=source, encoding=encoding)


def ingest_file(*, engine: Engine, stream: Stream, path: Path, fmt: str | None = None,
                source: str | None = None, encoding: str | None = None,
                aliases: Path | None = None, chunk_rows: int = 200_000,
                on_stage: Callable[[str], None] | None = None) -> BatchSummary:
    """Ingest one file as a batch; the same file again is a no-op that returns its batch."""
    stage = on_stage or (lambda _: None)
    stage("checksum")
    sha256 = file_sha256(path)
    stage("parse")
    parsed = parse_file(stream, path, fmt=fmt, source=source, encoding=encoding,
                        aliases=aliases)
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
        f"sha256 `{summary.file_sha256[:16]}…`.",
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

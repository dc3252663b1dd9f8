"""``sentrec ingest messages|news|events|items`` and ``sentrec rejects``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.adapters.formats import EventFormat, ItemFormat, MessageFormat, NewsFormat
from domain.errors import UserError
from domain.records import Stream
from domain.settings import Settings
from flows.cli.output import console

if TYPE_CHECKING:
    from storage.ingest import BatchSummary

app = typer.Typer(help="Bring files into the store, one batch per file.", no_args_is_help=True)

_FORMAT = typer.Option("--format", "-f", help="Input format; detected from the file when left "
                       "out.")
MessageFormatOpt = Annotated[MessageFormat | None, _FORMAT]
NewsFormatOpt = Annotated[NewsFormat | None, _FORMAT]
EventFormatOpt = Annotated[EventFormat | None, _FORMAT]
ItemFormatOpt = Annotated[ItemFormat | None, _FORMAT]
SourceOpt = Annotated[str | None, typer.Option(help="Source name stored with every record "
                                                "(keys are unique per source).")]
EncodingOpt = Annotated[str | None, typer.Option(help="Text encoding of the file.")]
PathsArg = Annotated[list[Path], typer.Argument(help="Files to ingest, one batch each.",
                                                exists=True, dir_okay=False, readable=True)]


def run_ingest(stream: Stream, paths: list[Path], choice: StrEnum | None, source: str | None,
               encoding: str | None) -> list[BatchSummary]:
    """Ingest ``paths`` one flow run each, with a progress bar; print the batches."""
    from flows.ingest import FLOWS

    fmt = None if choice is None else choice.value
    settings = Settings()
    summaries: list[BatchSummary] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = progress.add_task(f"ingesting {stream.value}", total=len(paths))
        for path in paths:
            progress.update(bar, description=f"ingesting {stream.value}: {path.name}")
            try:
                summaries += FLOWS[stream](paths=[str(path)], fmt=fmt, source=source,
                                          encoding=encoding, settings=settings)
            except UserError as exc:
                progress.stop()
                print_batches(summaries)
                exc.add_note("Nothing from this file was written.")
                raise
            progress.advance(bar)
    print_batches(summaries)
    return summaries


def print_batches(summaries: list[BatchSummary]) -> None:
    """One row per batch; label and item counts only where a file carries them."""
    if not summaries:
        return
    rows = [(str(s.batch_id), Path(s.path).name, s.source, s.format, s.encoding or "-",
             f"{s.rows_read:,}", f"{s.loaded:,}", f"{s.rejected:,}", f"{s.duplicate:,}",
             f"{s.labels_loaded:,}", f"{s.items_loaded:,}",
             "already ingested" if s.skipped else "loaded") for s in summaries]
    table = Table(title="ingest batches")
    numeric = {"batch", "read", "loaded", "rejected", "duplicate", "labels", "items"}
    columns = ("batch", "file", "source", "format", "encoding", "read", "loaded", "rejected",
               "duplicate", "labels", "items", "status")
    # Label and item counts only where a file carries them, the encoding only where a file is
    # not UTF-8, so the table fits 80 columns.
    hidden = {"labels": "0", "items": "0", "encoding": "utf-8"}
    shown = [i for i, column in enumerate(columns)
             if column not in hidden or any(r[i] != hidden[column] for r in rows)]
    for index in shown:
        column = columns[index]
        # Counts are never cut short on a narrow terminal; names wrap.
        width = max(len(column), *(len(r[index]) for r in rows)) if column in numeric else 4
        table.add_column(column, justify="right" if column in numeric else "left",
                         min_width=width, no_wrap=column in numeric, overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    console.print(table)


@app.command("messages")
def ingest_messages(paths: PathsArg, fmt: MessageFormatOpt = None, source: SourceOpt = None,
                    encoding: EncodingOpt = None) -> None:
    """Customer-service logs: airline-tweets, twcs, twcs-labelled, canonical."""
    run_ingest(Stream.MESSAGES, paths, fmt, source, encoding)


@app.command("news")
def ingest_news(paths: PathsArg, fmt: NewsFormatOpt = None, source: SourceOpt = None,
                encoding: EncodingOpt = None) -> None:
    """Financial news: headlines, analyst-ratings, phrasebank, canonical."""
    run_ingest(Stream.NEWS, paths, fmt, source, encoding)


@app.command("events")
def ingest_events(paths: PathsArg, fmt: EventFormatOpt = None, source: SourceOpt = None,
                  encoding: EncodingOpt = None) -> None:
    """Behaviour: movielens, movielens-dat, sequence, online-retail, canonical."""
    run_ingest(Stream.EVENTS, paths, fmt, source, encoding)


@app.command("items")
def ingest_items(paths: PathsArg, fmt: ItemFormatOpt = None, source: SourceOpt = None,
                 encoding: EncodingOpt = None) -> None:
    """Catalogue items: movielens-items, movielens-movies, online-retail, canonical."""
    run_ingest(Stream.ITEMS, paths, fmt, source, encoding)


def show_rejects(batch_id: int, limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Show the rejected rows of a batch with their line numbers and reasons."""
    from flows.runtime import ready_engine
    from storage.ingest import list_rejects

    rows = list_rejects(engine=ready_engine(Settings()), batch_id=batch_id, limit=limit)
    table = Table(title=f"rejects of batch {batch_id} (first {limit})")
    for column in ("line", "reason", "raw"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row.line), row.reason, row.raw[:80])
    console.print(table)

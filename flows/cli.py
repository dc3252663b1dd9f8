"""The ``sentrec`` command line (Typer + rich)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.errors import MalformedFileError, UnknownFormatError
from domain.records import Stream
from domain.settings import Settings
from flows.runtime import configure_process

app = typer.Typer(help="sentrec: sentiment alerts and sequential recommendations as batch "
                  "flows.", no_args_is_help=True, pretty_exceptions_show_locals=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()

FormatOpt = Annotated[str | None, typer.Option("--format", "-f", help="Input format; "
                                                "detected from the file when left out.")]
SourceOpt = Annotated[str | None, typer.Option(help="Source name stored with every record "
                                                "(keys are unique per source).")]
EncodingOpt = Annotated[str | None, typer.Option(help="Text encoding of the file.")]
PathsArg = Annotated[list[Path], typer.Argument(help="Files to ingest, one batch each.",
                                                exists=True, dir_okay=False, readable=True)]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Set up logging and Prefect before any command runs."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])
    configure_process(Settings(), verbose=verbose)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the newest schema."""
    from flows.runtime import engine_for
    from storage.migrate import current_revision, upgrade

    settings = Settings()
    engine = engine_for(settings.resolved_database_url)
    before = current_revision(engine)
    upgrade(engine)
    console.print(f"[green]schema at revision {current_revision(engine)}[/] "
                  f"(was {before or 'empty'}) in "
                  f"{engine.url.render_as_string(hide_password=True)}")


def _run_ingest(stream: Stream, paths: list[Path], fmt: str | None, source: str | None,
                encoding: str | None) -> list[dict[str, Any]]:
    from flows.ingest import FLOWS

    settings = Settings()
    summaries: list[dict[str, Any]] = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} files"), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = progress.add_task(f"ingesting {stream.value}", total=len(paths))
        for path in paths:
            progress.update(bar, description=f"ingesting {stream.value}: {path.name}")
            try:
                summaries += FLOWS[stream](paths=[str(path)], fmt=fmt, source=source,
                                          encoding=encoding, settings=settings)
            except (MalformedFileError, UnknownFormatError) as exc:
                progress.stop()
                console.print(f"[red]error:[/] {exc}")
                console.print("Nothing from this file was written.")
                _print_summaries(summaries)
                raise typer.Exit(code=2) from exc
            progress.advance(bar)
    _print_summaries(summaries)
    return summaries


def _print_summaries(summaries: list[dict[str, Any]]) -> None:
    if not summaries:
        return
    table = Table(title="ingest batches")
    for column in ("batch", "file", "source", "format", "read", "loaded", "rejected",
                   "duplicate", "labels", "items", "status"):
        table.add_column(column, justify="right" if column in {
            "batch", "read", "loaded", "rejected", "duplicate", "labels", "items"} else "left")
    for s in summaries:
        table.add_row(str(s["batch_id"]), Path(s["path"]).name, s["source"], s["format"],
                      f"{s['rows_read']:,}", f"{s['loaded']:,}", f"{s['rejected']:,}",
                      f"{s['duplicate']:,}", f"{s['labels_loaded']:,}", f"{s['items_loaded']:,}",
                      "already ingested" if s["skipped"] else "loaded")
    console.print(table)


ingest_app = typer.Typer(help="Bring files into the store, one batch per file.",
                         no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")


@ingest_app.command("messages")
def ingest_messages(paths: PathsArg, fmt: FormatOpt = None, source: SourceOpt = None,
                    encoding: EncodingOpt = None) -> None:
    """Customer-service logs: airline-tweets, twcs, twcs-labelled, canonical."""
    _run_ingest(Stream.MESSAGES, paths, fmt, source, encoding)


@ingest_app.command("news")
def ingest_news(paths: PathsArg, fmt: FormatOpt = None, source: SourceOpt = None,
                encoding: EncodingOpt = None) -> None:
    """Financial news: headlines, analyst-ratings, phrasebank, canonical."""
    _run_ingest(Stream.NEWS, paths, fmt, source, encoding)


@ingest_app.command("events")
def ingest_events(paths: PathsArg, fmt: FormatOpt = None, source: SourceOpt = None,
                  encoding: EncodingOpt = None) -> None:
    """Behaviour: movielens, movielens-dat, sequence, online-retail, canonical."""
    _run_ingest(Stream.EVENTS, paths, fmt, source, encoding)


@ingest_app.command("items")
def ingest_items(paths: PathsArg, fmt: FormatOpt = None, source: SourceOpt = None,
                 encoding: EncodingOpt = None) -> None:
    """Catalogue items: movielens-items, movielens-movies, online-retail, canonical."""
    _run_ingest(Stream.ITEMS, paths, fmt, source, encoding)


@app.command("rejects")
def show_rejects(batch_id: int, limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Show the rejected rows of a batch with their line numbers and reasons."""
    from sqlalchemy import select

    from flows.runtime import ready_engine
    from storage.schema import Reject

    engine = ready_engine(Settings())
    with engine.connect() as connection:
        rows = connection.execute(select(Reject.line, Reject.reason, Reject.raw)
                                  .where(Reject.batch_id == batch_id)
                                  .order_by(Reject.line).limit(limit)).all()
    table = Table(title=f"rejects of batch {batch_id} (first {limit})")
    for column in ("line", "reason", "raw"):
        table.add_column(column)
    for line, reason, raw in rows:
        table.add_row(str(line), reason, raw[:80])
    console.print(table)


@app.command("demo")
def demo(data: Annotated[Path, typer.Option(help="Folder of the demo sample.")] = Path(
        "examples/data")) -> None:
    """Run the pipeline on the bundled real sample with embedded defaults."""
    from flows.demo import run_demo

    run_demo(data=data, console=console)


apikey_app = typer.Typer(help="Keys of the lookup API.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


@apikey_app.command("create")
def apikey_create(name: str) -> None:
    """Make a key for a calling service; it is printed once, as the last word."""
    from flows.runtime import ready_engine
    from storage.apikeys import create_key

    try:
        key = create_key(engine=ready_engine(Settings()), name=name)
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    console.print(f"API key {name!r} (store it now; only its hash is kept): {key}",
                  soft_wrap=True)


@apikey_app.command("revoke")
def apikey_revoke(name: str) -> None:
    """Revoke a key; the service stops accepting it within 30 seconds."""
    from flows.runtime import ready_engine
    from storage.apikeys import revoke_key

    if not revoke_key(engine=ready_engine(Settings()), name=name):
        console.print(f"[red]error:[/] no active key named {name!r}")
        raise typer.Exit(code=2)
    console.print(f"revoked {name!r}")


@app.command("serve")
def serve(host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
          workers: Annotated[int, typer.Option(min=1)] = 1) -> None:
    """Run the read-only lookup API (FastAPI on uvicorn)."""
    import uvicorn

    from flows.runtime import ready_engine

    ready_engine(Settings())
    uvicorn.run("service.app:create_app", factory=True, host=host, port=port,
                workers=workers, log_level="warning", access_log=False)


@app.command("monitor")
def monitor(window: Annotated[str, typer.Option(help="hour or day (UTC).")] = "hour",
            detector: Annotated[str, typer.Option(
                help="default, zscore, ewma or cusum.")] = "default") -> None:
    """Detect negative surges in newly scored documents and write the risk report."""
    from flows.monitor import monitor_sentiment

    with console.status("monitoring sentiment"):
        summary = monitor_sentiment(settings=Settings(), window=window, detector=detector)
    console.print(f"{summary['new_scores']:,} new scores; alerts: "
                  f"[bold]{summary['alerts_inserted']}[/] new, {summary['alerts_updated']} "
                  f"updated. Report: {summary['report']}")


alerts_app = typer.Typer(help="Sentiment alerts: list (default), ack, resolve.")
app.add_typer(alerts_app, name="alerts")


@alerts_app.callback(invoke_without_command=True)
def alerts_list(ctx: typer.Context,
                entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
                since: Annotated[str | None, typer.Option(
                    help="Only alerts whose window ends at or after this ISO time.")] = None,
                min_severity: Annotated[int, typer.Option(min=0, max=100)] = 0,
                limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """List alerts, most severe first."""
    if ctx.invoked_subcommand is not None:
        return
    from datetime import UTC, datetime

    from flows.runtime import ready_engine
    from storage.alerts import list_alerts

    try:
        since_at = datetime.fromisoformat(since) if since else None
    except ValueError as exc:
        console.print(f"[red]error:[/] --since {since!r} is not an ISO 8601 time "
                      "(e.g. 2024-05-01T00:00:00Z)")
        raise typer.Exit(code=2) from exc
    if since_at is not None and since_at.tzinfo is None:
        since_at = since_at.replace(tzinfo=UTC)
    alerts = list_alerts(engine=ready_engine(Settings()), entity=entity, since=since_at,
                         min_severity=min_severity, limit=limit)
    table = Table(title=f"{len(alerts)} alerts")
    for column in ("id", "severity", "entity", "topic", "window (UTC)", "negative share",
                   "baseline", "z", "volume", "detector", "status"):
        table.add_column(column)
    for a in alerts:
        table.add_row(str(a.id), str(a.severity), a.entity, a.topic or "",
                      f"{a.window_start:%Y-%m-%d %H:%M} to {a.window_end:%H:%M}",
                      f"{a.observed:.2f}", f"{a.baseline:.2f}", f"{a.z:.1f}", str(a.volume),
                      a.detector, a.status)
    console.print(table)


@alerts_app.command("ack")
def alerts_ack(alert_id: int) -> None:
    """Acknowledge an alert."""
    _set_alert_status(alert_id, "acknowledged")


@alerts_app.command("resolve")
def alerts_resolve(alert_id: int) -> None:
    """Resolve an alert; the entity's next surge opens a new one."""
    _set_alert_status(alert_id, "resolved")


def _set_alert_status(alert_id: int, status: str) -> None:
    from flows.runtime import ready_engine
    from storage.alerts import AlertNotFoundError, acknowledge_alert, resolve_alert

    change = acknowledge_alert if status == "acknowledged" else resolve_alert
    try:
        alert = change(engine=ready_engine(Settings()), alert_id=alert_id)
    except (AlertNotFoundError, ValueError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    console.print(f"alert {alert.id} ({alert.entity}) is {alert.status}")


@app.command("report")
def report(out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
           days: Annotated[int, typer.Option(min=1, help="Days up to the newest document.")] = 7,
           window: str = "hour") -> None:
    """Write the self-contained HTML risk report."""
    from flows.monitoring import write_report
    from flows.runtime import ready_engine

    path = write_report(engine=ready_engine(Settings()), out=out, days=days, window=window)
    console.print(f"report written to [bold]{path}[/]")

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
    rows = [(str(s["batch_id"]), Path(s["path"]).name, s["source"], s["format"],
             f"{s['rows_read']:,}", f"{s['loaded']:,}", f"{s['rejected']:,}",
             f"{s['duplicate']:,}", f"{s['labels_loaded']:,}", f"{s['items_loaded']:,}",
             "already ingested" if s["skipped"] else "loaded") for s in summaries]
    table = Table(title="ingest batches")
    numeric = {"batch", "read", "loaded", "rejected", "duplicate", "labels", "items"}
    columns = ("batch", "file", "source", "format", "read", "loaded", "rejected", "duplicate",
               "labels", "items", "status")
    # Label and item counts only where a file carries them, so the table fits 80 columns.
    shown = [i for i, column in enumerate(columns)
             if column not in ("labels", "items") or any(r[i] != "0" for r in rows)]
    for index in shown:
        column = columns[index]
        # Counts are never cut short on a narrow terminal; names wrap.
        width = max(len(column), *(len(r[index]) for r in rows)) if column in numeric else 4
        table.add_column(column, justify="right" if column in numeric else "left",
                         min_width=width, no_wrap=column in numeric, overflow="fold")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
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
                help="default, zscore, ewma or cusum.")] = "default",
            by_topic: Annotated[bool, typer.Option(
                help="Watch each entity's topics separately.")] = False) -> None:
    """Detect negative surges in newly scored documents and write the risk report."""
    from flows.monitor import monitor_sentiment

    with console.status("monitoring sentiment"):
        summary = monitor_sentiment(settings=Settings(), window=window, detector=detector,
                                    by_topic=by_topic)
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


train_app = typer.Typer(help="Train models (champion/challenger).", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("sentiment")
def train_sentiment_command(
    profile: Annotated[str, typer.Option(help="fast (small attention encoder) or accurate "
                                         "(fine-tuned MiniLM).")] = "fast",
    seed: int = 0,
    max_minutes: Annotated[float | None, typer.Option(help="Training time budget.")] = None,
) -> None:
    """Train on the store's labelled documents; the model goes live only if it wins."""
    from flows.sentiment_flows import train_sentiment_flow

    with console.status(f"training the {profile} sentiment model"):
        try:
            result = train_sentiment_flow(settings=Settings(), profile=profile, seed=seed,
                                          max_minutes=max_minutes)
        except ValueError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(code=2) from exc
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(result["metrics"].items()))
    state = "[green]promoted[/]" if result["promoted"] else "[yellow]not promoted[/]"
    console.print(f"sentiment v{result['version']} ({profile}): {metrics} on "
                  f"{result['test_size']:,} held-out documents; {state}: {result['reason']}")


@app.command("score")
def score(chunk_size: Annotated[int, typer.Option(min=10)] = 2_000) -> None:
    """Score every document the active sentiment model has not scored yet."""
    from flows.sentiment_flows import run_scoring

    with console.status("scoring documents"):
        try:
            result = run_scoring(Settings(), chunk_size=chunk_size)
        except RuntimeError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(code=2) from exc
    console.print(f"scored {result['scored']:,} documents with sentiment v{result['version']} "
                  f"in {result['chunks']} chunks")


def _parse_weights(options: list[str]) -> dict[str, float]:
    """``KIND=W`` options as a mapping; a malformed one raises ValueError saying which."""
    weights: dict[str, float] = {}
    for option in options:
        kind, sep, value = option.partition("=")
        try:
            number = float(value)
        except ValueError:
            number = None
        if not sep or not kind.strip() or number is None:
            raise ValueError(f"--weight {option!r} is not KIND=W with W a number "
                             "(e.g. --weight purchase=3 --weight view=0)")
        weights[kind.strip()] = number
    return weights


@train_app.command("recommender")
def train_recommender_command(
    source: Annotated[str | None, typer.Option(help="Events source to learn from; needed "
                                               "when the store holds several.")] = None,
    max_minutes: Annotated[float, typer.Option(help="Training time budget.")] = 10.0,
    seed: int = 0,
    weight: Annotated[list[str] | None, typer.Option(
        "--weight", metavar="KIND=W", help="Weight of an event kind in training, repeatable; "
        "overrides that kind in SENTREC_EVENT_WEIGHTS, 0 leaves the kind out.")] = None,
) -> None:
    """Train the sequential recommender; it goes live only if it wins on validation."""
    from domain.sequences import check_event_weights
    from flows.recommend_flows import train_recommender_flow

    settings = Settings()
    try:
        # Checked here too so that a bad option fails before a flow run starts.
        weights = check_event_weights({**settings.event_weights, **_parse_weights(weight or [])})
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(code=2) from exc
    with console.status("training the recommender"):
        try:
            result = train_recommender_flow(settings=settings, source=source,
                                            max_minutes=max_minutes, seed=seed,
                                            weights=weights)
        except ValueError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(code=2) from exc
    m = result["metrics"]
    state = "[green]promoted[/]" if result["promoted"] else "[yellow]not promoted[/]"
    console.print(f"recommender v{result['version']}: validation NDCG@10 "
                  f"{m['valid_ndcg@10']:.4f}, test NDCG@10 {m['test_ndcg@10']:.4f}, test "
                  f"HR@10 {m['test_hr@10']:.4f} ({result['epochs']} epochs, "
                  f"{result['seconds_per_epoch']:.1f} s each); {state}: {result['reason']}")


@app.command("publish")
def publish(k: Annotated[int, typer.Option(min=1, max=1000, help="Items per user.")] = 100,
            batch_users: Annotated[int, typer.Option(min=1)] = 2_000) -> None:
    """Write top-k for every user from the active recommender and activate the set."""
    from flows.recommend_flows import run_publish

    with console.status("publishing recommendations"):
        try:
            result = run_publish(Settings(), k=k, batch_users=batch_users)
        except RuntimeError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(code=2) from exc
    console.print(f"set {result['set_id']} is active: {result['users']:,} users x top-{k} "
                  f"from recommender v{result['version']} in {result['seconds']:.1f} s")


@app.command("recommend")
def recommend(user: str, k: Annotated[int, typer.Option(min=1, max=100)] = 10) -> None:
    """Print one user's recommendations from the active set, with titles."""
    from flows.runtime import ready_engine
    from flows.tables import recommendations_table

    found, table = recommendations_table(ready_engine(Settings()), user, k)
    if found.set_id is None:
        console.print("[red]error:[/] no recommendation set is published yet; run "
                      "`sentrec publish`")
        raise typer.Exit(code=2)
    console.print(table)


@app.command("daily")
def daily_command(retrain: Annotated[bool | None, typer.Option(
        "--retrain/--no-retrain", help="Force or skip retraining; by default models older "
        "than SENTREC_RETRAIN_DAYS are retrained.")] = None) -> None:
    """Run the daily flow once, now."""
    from flows.daily import daily

    with console.status("running the daily flow"):
        try:
            result = daily(settings=Settings(), retrain=retrain)
        except RuntimeError as exc:
            console.print(f"[red]error:[/] {exc}")
            raise typer.Exit(code=1) from exc
    console.print(f"daily run done: {', '.join(result) or 'nothing to do'}")


@app.command("deploy")
def deploy(dry_run: Annotated[bool, typer.Option(
        help="List the schedules without serving them.")] = False) -> None:
    """Serve the daily and monitoring flows on their cron schedules (Prefect serve)."""
    from prefect import serve as prefect_serve

    from flows.daily import deployments

    items = deployments(Settings())
    table = Table(title="scheduled flows")
    for column in ("deployment", "flow", "cron (UTC)"):
        table.add_column(column)
    for item in items:
        crons = ", ".join(s.schedule.cron for s in item.schedules)  # type: ignore[union-attr]
        table.add_row(item.name, item.flow_name, crons)
    console.print(table)
    if dry_run:
        return
    console.print("serving; stop with Ctrl-C")
    prefect_serve(*items)


def run() -> None:
    """The ``sentrec`` entry point: a bad setting or a store that needs migrating is a short
    error with exit code 2, not a traceback."""
    from pydantic import ValidationError

    from flows.runtime import StoreNotReadyError

    try:
        app()
    except StoreNotReadyError as exc:
        console.print(f"[red]error:[/] {exc}")
        raise SystemExit(2) from exc
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        for problem in exc.errors():
            name = "SENTREC_" + "_".join(str(part) for part in problem["loc"][:1]).upper()
            console.print(f"[red]error:[/] setting {name}: {problem['msg']}")
        raise SystemExit(2) from exc


if __name__ == "__main__":
    run()

"""``sentrec alerts`` (list, show, ack, resolve) and ``sentrec report``."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from domain.errors import InvalidInputError
from domain.settings import Settings
from domain.windows import Window
from flows.cli.output import console
from flows.report.evidence import shaded_words

if TYPE_CHECKING:
    from storage.alerts import StoredAlert

app = typer.Typer(help="Sentiment alerts: list (default), show, ack, resolve.")


class Output(StrEnum):
    """How ``sentrec alerts`` prints: a table to read, or CSV / JSON to pipe elsewhere."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class Status(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


EXPORT_COLUMNS = ("id", "severity", "entity", "topic", "window", "window_start", "window_end",
                  "status", "backfill", "reason", "volume", "negatives", "observed",
                  "baseline", "model_version_id", "detector")


def parse_since(since: str | None) -> datetime | None:
    """``--since`` as an aware UTC time (a time without an offset is UTC)."""
    if since is None:
        return None
    try:
        moment = datetime.fromisoformat(since)
    except ValueError as exc:
        raise InvalidInputError(f"--since {since!r} is not an ISO 8601 time "
                                "(e.g. 2024-05-01T00:00:00Z)") from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@app.callback(invoke_without_command=True)
def list_alerts(ctx: typer.Context,
                entity: Annotated[str | None, typer.Option(
                    help="Only this entity (any case).")] = None,
                since: Annotated[str | None, typer.Option(
                    help="Only alerts whose window ends at or after this ISO time.")] = None,
                min_severity: Annotated[int, typer.Option(min=0, max=100)] = 0,
                status: Annotated[Status | None, typer.Option(help="Only this status.")] = None,
                output: Annotated[Output, typer.Option(
                    "--format", help="table to read; csv or json to export.")] = Output.TABLE,
                limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """List alerts, most severe first."""
    if ctx.invoked_subcommand is not None:
        return
    from flows.runtime import ready_engine
    from storage.alerts import alert_entities
    from storage.alerts import list_alerts as stored_alerts

    engine = ready_engine(Settings())
    alerts = stored_alerts(engine=engine, entity=entity, since=parse_since(since),
                           min_severity=min_severity, limit=limit,
                           status=None if status is None else status.value)
    if output is Output.CSV:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        writer.writerows(_export(a) for a in alerts)
        typer.echo(buffer.getvalue(), nl=False)
        return
    if output is Output.JSON:
        typer.echo(json.dumps([_export(a) | {"signals": a.signals} for a in alerts], indent=1))
        return
    if not alerts and entity is not None:
        with engine.connect() as connection:
            known = alert_entities(connection=connection)
        console.print(f"no alerts for entity {escape(repr(entity))}; alerts exist for: "
                      f"{escape(', '.join(known)) or 'no entity yet'}")
        return
    table = Table(title=f"{len(alerts)} alerts")
    for column in ("id", "severity", "entity", "topic", "window (UTC)", "why", "status"):
        table.add_column(column, overflow="fold")
    for a in alerts:
        table.add_row(str(a.id), str(a.severity), escape(a.entity), escape(a.topic or ""),
                      f"{a.window_start:%Y-%m-%d %H:%M} to {a.window_end:%H:%M}",
                      escape(a.reason or f"negative share {a.observed:.0%} vs "
                             f"{a.baseline:.0%}"),
                      a.status + (" (backfill)" if a.backfill else ""))
    console.print(table)


def _export(alert: StoredAlert) -> dict[str, Any]:
    values = {name: getattr(alert, name) for name in EXPORT_COLUMNS}
    for name in ("window_start", "window_end"):
        values[name] = values[name].isoformat()
    return values


@app.command("show")
def show(alert_id: int) -> None:
    """One alert: why it fired, what changed, its evidence and its revisions."""
    from flows.runtime import ready_engine
    from storage.alerts import AlertNotFoundError, get_alert

    alert = get_alert(engine=ready_engine(Settings()), alert_id=alert_id)
    if alert is None:
        raise AlertNotFoundError(f"no alert has id {alert_id}; list them with `sentrec alerts`")
    console.print(f"[bold]alert {alert.id}[/] {escape(alert.entity)}"
                  f"{' / ' + escape(alert.topic) if alert.topic else ''}, severity "
                  f"{alert.severity}, {alert.status}{' (backfill)' if alert.backfill else ''}, "
                  f"{alert.window_start:%Y-%m-%d %H:%M} to {alert.window_end:%Y-%m-%d %H:%M} "
                  f"UTC, judged with model version {alert.model_version_id or '-'}")
    console.print(f"why: {escape(alert.reason or '-')}")
    if alert.terms:
        console.print("what changed: " + ", ".join(
            f"{escape(t['term'])} ({t['window_count']} vs {t['baseline_count']})"
            for t in alert.terms))
    for topic in alert.topics:
        console.print(f"topic {escape(topic['topic'])}: {topic['window_share']:.0%} of the "
                      f"window vs {topic['baseline_share']:.0%} usual")
    for doc in alert.evidence:
        story = "new story" if doc.get("novel", True) else \
            f"copy of a story first seen {doc.get('first_seen', '')[:16]}"
        console.print(f"- p(negative) {float(doc.get('p_negative', 0)):.2f}, {story}: "
                      f"{escape(str(doc.get('text', '')))}")
        words = shaded_words(doc)
        if words:
            console.print("  words: " + ", ".join(escape(w) for w, _ in words))
    for revision in alert.revisions:
        console.print(f"revised under model version {revision['model_version_id']}: severity "
                      f"{revision['old_severity']} -> {revision['new_severity']}")


@app.command("ack")
def acknowledge(alert_id: int) -> None:
    """Acknowledge an alert."""
    from flows.runtime import ready_engine
    from storage.alerts import acknowledge_alert

    alert = acknowledge_alert(engine=ready_engine(Settings()), alert_id=alert_id)
    console.print(f"alert {alert.id} ({escape(alert.entity)}) is {alert.status}")


@app.command("resolve")
def resolve(alert_id: int) -> None:
    """Resolve an alert; the entity's next surge opens a new one."""
    from flows.runtime import ready_engine
    from storage.alerts import resolve_alert

    alert = resolve_alert(engine=ready_engine(Settings()), alert_id=alert_id)
    console.print(f"alert {alert.id} ({escape(alert.entity)}) is {alert.status}")


def report(out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
           days: Annotated[int, typer.Option(min=1, help="Days up to the newest document.")] = 7,
           window: Annotated[Window, typer.Option(help="Window length (UTC).")] = Window.HOUR
           ) -> None:
    """Write the self-contained HTML risk report."""
    from domain.detection import detector_config
    from flows.monitor_sentiment import write_report
    from flows.report.cache import home_charts
    from flows.runtime import ready_engine

    settings = Settings()
    charts = home_charts(settings.home)
    path = write_report(engine=ready_engine(settings), out=out, days=days, window=window.value,
                        config=detector_config(settings), charts=charts)
    console.print(f"report written to [bold]{escape(str(path))}[/] ({charts.drawn} charts "
                  f"drawn, {charts.reused} unchanged ones reused)")

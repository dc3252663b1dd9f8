"""``sentrec alerts`` (list, ack, resolve) and ``sentrec report``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from domain.errors import InvalidInputError
from domain.settings import Settings
from domain.windows import Window
from flows.cli.output import console

app = typer.Typer(help="Sentiment alerts: list (default), ack, resolve.")


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
                entity: Annotated[str | None, typer.Option(help="Only this entity.")] = None,
                since: Annotated[str | None, typer.Option(
                    help="Only alerts whose window ends at or after this ISO time.")] = None,
                min_severity: Annotated[int, typer.Option(min=0, max=100)] = 0,
                limit: Annotated[int, typer.Option(min=1)] = 50) -> None:
    """List alerts, most severe first."""
    if ctx.invoked_subcommand is not None:
        return
    from flows.runtime import ready_engine
    from storage.alerts import list_alerts as stored_alerts

    alerts = stored_alerts(engine=ready_engine(Settings()), entity=entity,
                           since=parse_since(since), min_severity=min_severity, limit=limit)
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


@app.command("ack")
def acknowledge(alert_id: int) -> None:
    """Acknowledge an alert."""
    from flows.runtime import ready_engine
    from storage.alerts import acknowledge_alert

    alert = acknowledge_alert(engine=ready_engine(Settings()), alert_id=alert_id)
    console.print(f"alert {alert.id} ({alert.entity}) is {alert.status}")


@app.command("resolve")
def resolve(alert_id: int) -> None:
    """Resolve an alert; the entity's next surge opens a new one."""
    from flows.runtime import ready_engine
    from storage.alerts import resolve_alert

    alert = resolve_alert(engine=ready_engine(Settings()), alert_id=alert_id)
    console.print(f"alert {alert.id} ({alert.entity}) is {alert.status}")


def report(out: Annotated[Path, typer.Option(help="HTML file to write.")] = Path("report.html"),
           days: Annotated[int, typer.Option(min=1, help="Days up to the newest document.")] = 7,
           window: Annotated[Window, typer.Option(help="Window length (UTC).")] = Window.HOUR
           ) -> None:
    """Write the self-contained HTML risk report."""
    from flows.monitor_sentiment import write_report
    from flows.runtime import ready_engine

    path = write_report(engine=ready_engine(Settings()), out=out, days=days, window=window.value)
    console.print(f"report written to [bold]{path}[/]")

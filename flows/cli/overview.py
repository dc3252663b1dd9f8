"""What the store holds and what is live: ``models``, ``sets``, ``batches`` and ``status``."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from domain.errors import InvalidInputError
from domain.records import Stream
from domain.settings import Settings
from flows.cli.output import console

if TYPE_CHECKING:
    from sqlalchemy import Engine


class Family(StrEnum):
    """The model families the registry holds."""

    SENTIMENT = "sentiment"
    SENTIMENT_ENCODER = "sentiment-encoder"  # the accurate profile's adapted MiniLM encoder
    RECOMMENDER = "recommender"
    INTENT = "intent"  # the support assistant's intent classifier


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    seconds = max(0.0, (now - moment).total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M}"


def models(
    name: Annotated[Family | None, typer.Option(help="Only this model family.")] = None,
    promote: Annotated[int | None, typer.Option(
        help="Make this version of --name live, whatever its metrics.")] = None,
    rollback: Annotated[bool, typer.Option(
        help="Make the version of --name that was live before the current one live again.")
    ] = False,
    reason: Annotated[str | None, typer.Option(
        help="Why (required with --promote and --rollback; kept with the decision).")] = None,
) -> None:
    """Model versions, their metrics and which is live; every promotion and rollback."""
    from flows.runtime import ready_engine
    from storage.registry import activate_by_hand, list_events, list_versions, roll_back

    engine = ready_engine(Settings())
    if promote is not None or rollback:
        if name is None or not reason or (promote is not None and rollback):
            raise InvalidInputError("--promote V or --rollback needs --name and --reason, "
                                    "one at a time (e.g. --name sentiment --rollback --reason "
                                    "'v3 flags every tweet negative')")
        changed = (roll_back(engine=engine, name=name.value, reason=reason) if rollback else
                   activate_by_hand(engine=engine, name=name.value, version=promote or 0,
                                    reason=reason))
        console.print(f"{changed.name} v{changed.version} is live")
    now = datetime.now(UTC)
    table = Table(title="model versions")
    for column in ("model", "version", "status", "primary metric", "value", "created",
                   "parameters"):
        table.add_column(column)
    for v in list_versions(engine=engine, name=None if name is None else name.value):
        detail = v.params.get("profile") or v.params.get("source") or ""
        table.add_row(v.name, str(v.version), "[green]live[/]" if v.status == "active" else
                      v.status, v.primary_metric, f"{v.score:.4f}", _age(v.created_at, now),
                      str(detail))
    console.print(table)
    history = Table(title="decisions, newest first")
    for column in ("at (UTC)", "model", "version", "decision", "margin", "why"):
        history.add_column(column)
    for e in list_events(engine=engine, name=None if name is None else name.value, limit=20):
        history.add_row(_when(e.at), e.name, str(e.version), e.action,
                        "-" if e.margin is None else f"{e.margin:+.4f}", e.reason)
    console.print(history)


def sets() -> None:
    """Recommendation sets: which is active, their sizes and ages, and any still building."""
    from flows.runtime import ready_engine
    from storage.recsets import list_sets

    now = datetime.now(UTC)
    table = Table(title="recommendation sets")
    for column in ("set", "status", "model version id", "k", "users", "rows", "created",
                   "activated"):
        table.add_column(column)
    for s in list_sets(engine=ready_engine(Settings())):
        table.add_row(str(s.id), "[green]active[/]" if s.status == "active" else s.status,
                      "-" if s.model_version_id is None else str(s.model_version_id),
                      str(s.k), f"{s.users:,}", f"{s.rows:,}", _age(s.created_at, now),
                      _age(s.activated_at, now))
    console.print(table)


def batches(stream: Annotated[Stream | None, typer.Option(help="Only this stream.")] = None,
            limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Ingest history: every file brought in, newest first, with its counts."""
    from flows.runtime import ready_engine
    from storage.ingest import list_batches

    table = Table(title="ingest batches, newest first")
    for column in ("batch", "stream", "file", "source", "format", "encoding", "read", "loaded",
                   "rejected", "duplicate", "finished (UTC)"):
        table.add_column(column, justify="right" if column in (
            "batch", "read", "loaded", "rejected", "duplicate") else "left")
    for b in list_batches(engine=ready_engine(Settings()), stream=stream, limit=limit):
        table.add_row(str(b.batch_id), b.stream, b.path.rsplit("/", 1)[-1], b.source, b.format,
                      b.encoding or "-", f"{b.rows_read:,}", f"{b.loaded:,}",
                      f"{b.rejected:,}", f"{b.duplicate:,}", _when(b.finished_at))
    console.print(table)


def status(runs: Annotated[bool, typer.Option(
        help="Also ask Prefect for the last run of each flow (starts its local server when "
        "no PREFECT_API_URL is set: a few seconds).")] = True) -> None:
    """What is live, how new the data is, and the last run of each flow."""
    from flows.prefect_server import last_flow_runs
    from flows.runtime import ready_engine
    from storage.monitor_state import latest_monitoring
    from storage.recsets import list_sets
    from storage.registry import RECOMMENDER, SENTIMENT, active_version

    engine = ready_engine(Settings())
    now = datetime.now(UTC)
    live = Table(title="live")
    for column in ("what", "which", "since"):
        live.add_column(column)
    for family in (SENTIMENT, RECOMMENDER):
        version = active_version(engine=engine, name=family)
        live.add_row(f"{family} model", "none" if version is None else
                     f"v{version.version} ({version.primary_metric} {version.score:.4f})",
                     "-" if version is None else _age(version.created_at, now))
    active = next((s for s in list_sets(engine=engine) if s.status == "active"), None)
    live.add_row("recommendation set", "none published" if active is None else
                 f"set {active.id}: {active.users:,} users x top-{active.k}",
                 "-" if active is None else _age(active.activated_at, now))
    monitored = latest_monitoring(engine=engine)
    live.add_row("monitoring", "never run" if monitored is None else
                 f"documents scored up to {_when(monitored)}",
                 "-" if monitored is None else _age(monitored, now))
    console.print(live)
    _data_table(engine, now)
    if runs:
        flows = Table(title="last run of each flow")
        for column in ("flow", "state", "started", "message"):
            flows.add_column(column)
        for run in last_flow_runs().values():
            flows.add_row(run.flow, run.state, _age(run.started, now), run.message or "")
        console.print(flows)


def _data_table(engine: Engine, now: datetime) -> None:
    from storage.ingest import data_freshness

    table = Table(title="data")
    for column in ("stream", "records", "newest record (UTC)", "last batch"):
        table.add_column(column)
    for f in data_freshness(engine=engine):
        table.add_row(f.stream, f"{f.records:,}", _when(f.newest_record),
                      _age(f.last_batch, now))
    console.print(table)

"""Running sentrec: ``db upgrade``, API keys and ``deploy``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from domain.errors import NotFoundError, NotReadyError
from domain.settings import Settings
from flows.cli.output import console

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
apikey_app = typer.Typer(help="Keys of the lookup API.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the store's tables to the newest schema."""
    from flows.runtime import engine_for, stored_revision
    from storage.migrate import current_revision, upgrade

    engine = engine_for(Settings().resolved_database_url)
    before = stored_revision(engine)
    upgrade(engine)
    console.print(f"[green]schema at revision {current_revision(engine)}[/] "
                  f"(was {before or 'empty'}) in "
                  f"{engine.url.render_as_string(hide_password=True)}")


@apikey_app.command("create")
def apikey_create(name: str) -> None:
    """Make a key for a calling service; it is printed once, as the last word."""
    from flows.runtime import ready_engine
    from storage.apikeys import create_key

    key = create_key(engine=ready_engine(Settings()), name=name)
    console.print(f"API key {name!r} (store it now; only its hash is kept): {key}",
                  soft_wrap=True)


@apikey_app.command("revoke")
def apikey_revoke(name: str) -> None:
    """Revoke a key; the service stops accepting it within 30 seconds."""
    from flows.runtime import ready_engine
    from storage.apikeys import revoke_key

    if not revoke_key(engine=ready_engine(Settings()), name=name):
        raise NotFoundError(f"no active key named {name!r}")
    console.print(f"revoked {name!r}")


def deploy(dry_run: Annotated[bool, typer.Option(
        help="List the schedules without serving them.")] = False) -> None:
    """Serve the daily and monitoring flows on their cron schedules (Prefect serve)."""
    import os

    from prefect import serve as prefect_serve

    from flows.daily import deployments
    from flows.prefect_server import require_server
    from flows.runtime import ready_engine

    api = os.environ.get("PREFECT_API_URL")
    if not api:
        raise NotReadyError("deploy needs a Prefect server that stays up: start one with "
                            "`prefect server start` and set PREFECT_API_URL (e.g. "
                            "http://127.0.0.1:4200/api)")
    settings = Settings()
    ready_engine(settings)  # the runs will need the store: refuse now, not at 05:00
    require_server(api)
    items = deployments(settings)
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

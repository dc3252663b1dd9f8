"""The ``sentrec`` command line (Typer + rich): the command tree and its one error boundary.

Each command group lives in its own module; this one wires them together. A ``UserError``
raised anywhere under a command (a bad file, option or setting, a step run too early) becomes
one short message and exit code 2 here, and only here; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.logging import RichHandler
from typer.core import TyperGroup

from domain.errors import UserError
from domain.settings import Settings
from flows.cli import admin, alerts, detect, ingest, overview, pipeline, serve, support, train
from flows.cli.output import console, print_error
from flows.prefect_server import stop_on_signals, stop_orphaned_servers
from flows.runtime import configure_process


class _Commands(TyperGroup):
    """The root group: turns user errors into a short message and exit code 2."""

    # ``ctx`` is Typer's vendored click context, a private type: hence Any.
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UserError as exc:
            print_error(str(exc), *getattr(exc, "__notes__", ()))
            raise typer.Exit(code=2) from exc
        except ValidationError as exc:
            if exc.title != Settings.__name__:
                raise
            for problem in exc.errors():
                name = "SENTREC_" + "_".join(str(part) for part in problem["loc"][:1]).upper()
                print_error(f"setting {name}: {problem['msg']}")
            raise typer.Exit(code=2) from exc


app = typer.Typer(cls=_Commands, help="sentrec: sentiment alerts and sequential "
                  "recommendations as batch flows.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Set up logging and Prefect before any command runs."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=console, show_path=False)])
    settings = Settings()
    configure_process(settings, verbose=verbose)
    stop_on_signals()
    stop_orphaned_servers(settings.home / "prefect")


app.add_typer(ingest.app, name="ingest")
app.command("rejects")(ingest.show_rejects)
app.add_typer(train.app, name="train")
app.command("score")(pipeline.score)
app.command("monitor")(pipeline.monitor)
app.command("publish")(pipeline.publish)
app.command("daily")(pipeline.daily_command)
app.command("demo")(pipeline.demo)
app.add_typer(alerts.app, name="alerts")
app.command("report")(alerts.report)
app.command("detect")(detect.detect)
app.command("index-conversations")(support.index_conversations_command)
app.command("suggest")(support.suggest)
app.command("recommend")(serve.recommend)
app.command("serve")(serve.serve)
app.command("models")(overview.models)
app.command("sets")(overview.sets)
app.command("batches")(overview.batches)
app.command("status")(overview.status)
app.add_typer(admin.db_app, name="db")
app.add_typer(admin.apikey_app, name="apikey")
app.command("deploy")(admin.deploy)


def run() -> None:
    """The ``sentrec`` entry point."""
    app()

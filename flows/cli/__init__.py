"""The ``sentrec`` command line: ``app`` (the Typer tree) and ``run`` (the entry point)."""

from flows.cli.app import app, run

__all__ = ["app", "run"]

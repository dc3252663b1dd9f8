"""Lookups: ``sentrec recommend`` in the terminal and ``sentrec serve`` over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.errors import NotReadyError
from domain.settings import Settings
from flows.cli.output import console


def recommend(user: str, k: Annotated[int, typer.Option(min=1, max=100)] = 10) -> None:
    """Print one user's recommendations from the active set, with titles."""
    from flows.cli.tables import recommendations_table
    from flows.runtime import ready_engine

    found, table = recommendations_table(ready_engine(Settings()), user, k)
    if found.set_id is None:
        raise NotReadyError("no recommendation set is published yet; run `sentrec publish`")
    console.print(table)


def serve(host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
          workers: Annotated[int, typer.Option(min=1)] = 1) -> None:
    """Run the read-only lookup API (FastAPI on uvicorn)."""
    import uvicorn

    from flows.runtime import ready_engine
    from service.protocol import BoundedHttpToolsProtocol

    ready_engine(Settings())
    # httptools with the request head bounded (service/protocol.py); the API has no websockets.
    uvicorn.run("service.app:create_app", factory=True, host=host, port=port,
                workers=workers, http=BoundedHttpToolsProtocol, ws="none",
                log_level="warning", access_log=False)

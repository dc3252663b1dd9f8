"""The temporary Prefect server a command runs its flows on: stopping it with the command,
stopping one a killed command left, and reading the runs it recorded."""

from __future__ import annotations

import logging
import signal
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from domain.errors import NotReadyError
from flows.runtime import OWNER_VARIABLE

log = logging.getLogger(__name__)

_SERVER_APP = "prefect.server.api.server:create_app"


def stop_on_signals() -> None:
    """End the process on SIGTERM or SIGHUP as on Ctrl-C: exit handlers run, so the temporary
    Prefect server this process started is stopped with it (Python's default for these signals
    exits at once and leaves it running)."""
    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, leave)


def stop_orphaned_servers(prefect_home: Path) -> int:
    """Stop temporary Prefect servers of ``prefect_home`` whose command is gone (a kill -9
    leaves them running, holding a port and the state database). Returns how many."""
    import psutil

    stopped = 0
    home = str(prefect_home.resolve())
    for process in psutil.process_iter(["cmdline"]):
        try:
            if _SERVER_APP not in " ".join(process.info["cmdline"] or ()):
                continue
            environ = process.environ()
            if environ.get("PREFECT_HOME") != home or OWNER_VARIABLE not in environ:
                continue
            owner = int(environ[OWNER_VARIABLE])
            if psutil.pid_exists(owner) and owner in {p.pid for p in process.parents()}:
                continue  # its command is still running
            process.terminate()
            stopped += 1
        except (psutil.Error, ValueError):  # gone meanwhile, or not ours to read
            continue
    if stopped:
        log.info("stopped %d temporary Prefect server(s) left by a killed command", stopped)
    return stopped


FLOW_NAMES = ("ingest-messages", "ingest-news", "ingest-events", "ingest-items",
              "train-sentiment", "score-documents", "monitor-sentiment", "train-recommender",
              "publish-recommendations", "daily")


@dataclass(frozen=True)
class FlowRunInfo:
    """The newest run of a flow as Prefect recorded it."""

    flow: str
    state: str
    started: datetime | None
    message: str | None


def last_flow_runs(names: tuple[str, ...] = FLOW_NAMES) -> dict[str, FlowRunInfo]:
    """The newest run of each flow (a flow never run is left out), from Prefect's API: the
    temporary local server, or the one ``PREFECT_API_URL`` names."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    found: dict[str, FlowRunInfo] = {}
    with get_client(sync_client=True) as client:
        for name in names:
            runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[name])),
                                         sort=FlowRunSort.START_TIME_DESC, limit=1)
            if runs:
                run = runs[0]
                state = run.state
                found[name] = FlowRunInfo(name, (state.name if state else None) or "unknown",
                                          run.start_time, state.message if state else None)
    return found


def require_server(api_url: str) -> None:
    """Refuse unless a Prefect server answers at ``api_url`` (its health route)."""
    import httpx

    try:
        healthy = httpx.get(f"{api_url.rstrip('/')}/health", timeout=5).status_code == 200
    except httpx.HTTPError:
        healthy = False
    if not healthy:
        raise NotReadyError(f"no Prefect server answers at PREFECT_API_URL {api_url}; start it "
                            "with `prefect server start`")

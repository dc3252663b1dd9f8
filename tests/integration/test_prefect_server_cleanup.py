"""A sentrec command that is stopped never leaves its temporary Prefect server behind: SIGTERM
stops it on the way out, and the next command stops one that a kill -9 left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SLOW_COMMAND = """
import time
from domain.settings import Settings
from flows.prefect_server import stop_on_signals
from flows.runtime import configure_process
configure_process(Settings())
stop_on_signals()
from prefect import flow

@flow
def wait() -> None:
    time.sleep(120)

wait()
"""


def start_command(home: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    # As the CLI is given it: Prefect reads its home when it is imported (flows/__init__.py).
    return subprocess.Popen([sys.executable, "-c", SLOW_COMMAND], cwd=REPO,
                            env={**env, "PYTHONPATH": str(REPO), "SENTREC_HOME": str(home)})


def server_of(command: subprocess.Popen[bytes]) -> psutil.Process:
    """The temporary Prefect server the command started (waits for it)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for child in psutil.Process(command.pid).children(recursive=True):
            if "prefect.server.api.server:create_app" in " ".join(child.cmdline()):
                time.sleep(3)  # let the flow start on it
                return child
        time.sleep(0.5)
    raise AssertionError("the command never started a Prefect server")


def gone(process: psutil.Process, within: float) -> bool:
    try:
        process.wait(timeout=within)
    except psutil.TimeoutExpired:
        return False
    return True


def test_sigterm_stops_the_temporary_server_too(tmp_path: Path) -> None:
    command = start_command(tmp_path / "home")
    server = server_of(command)
    command.send_signal(signal.SIGTERM)
    assert command.wait(timeout=30) != 0
    assert gone(server, within=15)


def test_the_next_command_stops_a_server_a_kill_left(tmp_path: Path) -> None:
    from flows.prefect_server import stop_orphaned_servers

    command = start_command(tmp_path / "home")
    server = server_of(command)
    command.send_signal(signal.SIGKILL)
    command.wait(timeout=30)
    try:
        assert server.is_running()  # what a kill -9 leaves
        assert stop_orphaned_servers(tmp_path / "home" / "prefect") == 1
        assert gone(server, within=15)
    finally:
        if server.is_running():
            server.kill()


def test_a_server_of_a_live_command_is_left_alone(tmp_path: Path) -> None:
    from flows.prefect_server import stop_orphaned_servers

    command = start_command(tmp_path / "home")
    try:
        server = server_of(command)
        assert stop_orphaned_servers(tmp_path / "home" / "prefect") == 0
        assert server.is_running()
    finally:
        command.send_signal(signal.SIGTERM)
        command.wait(timeout=30)


if not sys.platform.startswith("linux"):
    pytestmark = pytest.mark.skip("process checks are written for Linux")

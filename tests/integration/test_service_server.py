"""``sentrec serve`` for real: a uvicorn subprocess on a free loopback port, probed with raw
sockets. Oversized request heads are refused at once while other clients keep being served;
the startup line, the access log and the metrics of several workers are what an operator
sees."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flows.cli.serve import startup_line
from service.protocol import MAX_HEAD_BYTES, MAX_TARGET_BYTES
from storage.apikeys import create_key
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.recsets import COLD_START_USER, activate_set, create_set, write_recommendations

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Server:
    base: str
    port: int
    key: str
    set_id: int
    stdout: Path
    stderr: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(folder: Path, workers: int = 1) -> Iterator[Server]:
    """A published store and ``sentrec serve`` on it, stopped on exit."""
    url = f"sqlite:///{folder / 'store.db'}"
    engine = make_engine(url)
    upgrade(engine)
    set_id = create_set(engine=engine, model_version_id=None, k=3)
    write_recommendations(engine=engine, set_id=set_id, frame=pl.DataFrame(
        [(user, r, f"i{r}", 1.0, None) for user in ("u1", COLD_START_USER) for r in (1, 2, 3)],
        orient="row", schema=["user_id", "rank", "item_id", "score", "reason"]))
    activate_set(engine=engine, set_id=set_id)
    key = create_key(engine=engine, name="probe")
    engine.dispose()
    port = free_port()
    stdout, stderr = folder / "serve.out", folder / "serve.err"
    env = {**os.environ, "SENTREC_HOME": str(folder), "SENTREC_DATABASE_URL": url,
           "COLUMNS": "40"}  # the startup line is one line however narrow the terminal
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", "--port", str(port), "--workers",
             str(workers)], cwd=REPO, env=env, stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, stderr.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not come up in 60 s"
            time.sleep(0.2)
        yield Server(base, port, key, set_id, stdout, stderr)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve")) as running:
        yield running


def exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` on a new connection and read until the server closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(raw)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def head_of(size: int, target: str = "/healthz") -> bytes:
    """A GET whose request line and headers, blank line included, are exactly ``size`` bytes."""
    start = f"GET {target} HTTP/1.1\r\nHost: probe\r\nX-Pad: ".encode()
    end = b"\r\nConnection: close\r\n\r\n"
    return start + b"a" * (size - len(start) - len(end)) + end


def test_a_head_at_the_limit_is_served_and_one_byte_more_gets_431(server: Server) -> None:
    assert exchange(server.port, head_of(MAX_HEAD_BYTES)).startswith(b"HTTP/1.1 200 ")
    refused = exchange(server.port, head_of(MAX_HEAD_BYTES + 1))
    assert refused.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert refused.endswith(b"request header fields longer than 16384 bytes in all")


def test_pipelined_requests_past_the_limit_together_are_each_served(server: Server) -> None:
    """The limit is per request head: 500 small requests in one write (18 KiB) all pass."""
    one = b"GET /healthz HTTP/1.1\r\nHost: p\r\n\r\n"
    last = b"GET /healthz HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n"
    assert len(one * 499 + last) > MAX_HEAD_BYTES
    answer = exchange(server.port, one * 499 + last)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 500


def test_a_request_target_over_its_limit_gets_414(server: Server) -> None:
    at_limit = "/healthz?" + "a" * (MAX_TARGET_BYTES - len("/healthz?"))
    served = exchange(server.port, f"GET {at_limit} HTTP/1.1\r\nHost: p\r\n"
                      "Connection: close\r\n\r\n".encode())
    assert served.startswith(b"HTTP/1.1 200 ")
    refused = exchange(server.port, f"GET {at_limit}a HTTP/1.1\r\nHost: p\r\n"
                       "Connection: close\r\n\r\n".encode())
    assert refused.startswith(b"HTTP/1.1 414 ")
    assert refused.endswith(b"request target longer than 8192 bytes")


def test_huge_headers_are_cut_off_while_other_clients_are_served(server: Server) -> None:
    """Three clients each try to send a 100 MB header; /healthz keeps answering at once."""
    sent: list[int] = []
    outcome: list[str] = []

    def attack() -> None:
        total = 0
        block = b"a" * (1 << 20)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nX-Big: ")
                deadline = time.monotonic() + 20
                while total < 100 * (1 << 20) and time.monotonic() < deadline:
                    s.sendall(block)
                    total += len(block)
                outcome.append(s.recv(200).split(b"\r\n")[0].decode() or "closed")
            except (ConnectionResetError, BrokenPipeError):
                outcome.append("closed")
            except TimeoutError:
                outcome.append("stalled")
        sent.append(total)

    attackers = [threading.Thread(target=attack) for _ in range(3)]
    for attacker in attackers:
        attacker.start()
    # Every health check is answered while the floods run (unbounded heads stalled them).
    for _ in range(10):
        assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200
        time.sleep(0.05)
    for attacker in attackers:
        attacker.join(timeout=60)
    # Refused at once: the 431 when the client reads it before the reset, else a closed socket.
    assert len(outcome) == 3
    assert set(outcome) <= {"closed", "HTTP/1.1 431 Request Header Fields Too Large"}, outcome
    # What the kernel's socket buffers took before the server closed the connection, at most.
    assert max(sent) <= 16 * (1 << 20), sent


def test_serve_prints_one_startup_line(server: Server) -> None:
    lines = server.stdout.read_text().splitlines()
    assert len(lines) == 1
    assert re.fullmatch(
        rf"lookup API on http://127\.0\.0\.1:{server.port}, 1 worker, database sqlite:///\S+"
        rf"/store\.db, recommendation set {server.set_id} active since "
        r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", lines[0]), lines[0]


def test_the_startup_line_never_shows_a_password() -> None:
    line = startup_line(url="postgresql://reader:s3cret@db.internal:5432/sentrec", host="::",
                        port=8000, workers=4, active=None)
    assert line == ("lookup API on http://[::]:8000, 4 workers, database "
                    "postgresql://reader:***@db.internal:5432/sentrec, no recommendation set "
                    "published yet (/readyz answers 503)")


def test_each_request_is_one_access_line_on_stderr(server: Server) -> None:
    before = server.stderr.read_text().count(" ms\n")
    with httpx.Client(base_url=server.base, headers={"X-API-Key": server.key}) as client:
        assert client.get("/v1/users/u1/recommendations", params={"k": 2}).status_code == 200
        assert client.get("/v1/users/nobody/recommendations").status_code == 200
        assert client.get("/v1/alerts", params={"entity": "JetBlue"}).status_code == 200
    deadline = time.monotonic() + 5
    while server.stderr.read_text().count(" ms\n") < before + 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.stderr.read_text()
    lines = [line for line in log.splitlines() if line.endswith(" ms")][before:]
    assert [line.split(" ", 2)[2].rsplit(" ", 2)[0] for line in lines] == [
        "GET /v1/users/u1/recommendations?k=2 200", "GET /v1/users/nobody/recommendations 200",
        "GET /v1/alerts?entity=JetBlue 200"]
    assert server.key not in log


def test_metrics_add_up_every_workers_requests(tmp_path: Path) -> None:
    with running_server(tmp_path, workers=2) as two:
        for _ in range(40):  # a new connection each, so both workers take some
            assert httpx.get(f"{two.base}/v1/users/u1/recommendations",
                             headers={"X-API-Key": two.key}).status_code == 200
        route = ("sentrec_http_requests_total", (("method", "GET"), (
            "route", "/v1/users/{user_id}/recommendations"), ("status", "200")))
        pages = [httpx.get(f"{two.base}/metrics").text for _ in range(6)]
    for page in pages:  # whichever worker answered the scrape
        values = {(s.name, tuple(sorted(s.labels.items()))): s.value
                  for family in text_string_to_metric_families(page) for s in family.samples}
        assert values[route] == 40
        assert values[("sentrec_active_set_id", ())] == two.set_id
    gauges = {s.labels["pid"] for family in text_string_to_metric_families(pages[0])
              for s in family.samples if s.name == "sentrec_item_index_loaded"}
    assert len(gauges) == 2  # one per live worker

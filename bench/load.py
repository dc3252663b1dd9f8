"""Load for the lookup-service benchmark: an open-loop HTTP/1.1 client that measures latency
without coordinated omission, and a flood of endless request headers."""

from __future__ import annotations

import asyncio
import json
import random
import socket
import threading
import time
from typing import Any

import numpy as np


async def load(base: str, key: str, users: int, rate: float, seconds: float,
               connections: int = 64) -> dict[str, Any]:
    """Open loop: request i is due at i / rate whatever happened to the ones before.

    A lean HTTP/1.1 keep-alive client on asyncio streams (httpx costs more CPU per request
    than the service on this machine, and the client shares its cores). Latency counts from
    the moment a request was due, so time spent waiting for a free connection is included
    (no coordinated omission).
    """
    host, port = base.removeprefix("http://").split(":")
    total = int(rate * seconds)
    due: asyncio.Queue[tuple[float, int] | None] = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[str, int] = {}

    def error(kind: str) -> None:
        errors[kind] = errors.get(kind, 0) + 1

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while (job := await due.get()) is not None:
                scheduled, user = job
                writer.write(f"GET /v1/users/u{user}/recommendations?k=10 HTTP/1.1\r\n"
                             f"Host: {host}\r\nX-API-Key: {key}\r\n\r\n".encode())
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
                    length = int(head.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
                    body = await reader.readexactly(length)
                except (TimeoutError, OSError, IndexError, asyncio.IncompleteReadError) as exc:
                    error(type(exc).__name__)
                    return
                status = head.split(b" ", 2)[1].decode()
                if status != "200" or len(json.loads(body)["items"]) != 10:
                    error(status)
                    continue
                latencies.append(time.perf_counter() - scheduled)
        finally:
            writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    rng = random.Random(0)
    start = time.perf_counter()
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due.put_nowait((scheduled, rng.randrange(users)))
    for _ in workers:
        due.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return summarise(latencies, total, errors, elapsed)


def summarise(latencies: list[float], total: int, errors: dict[str, int],
              elapsed: float) -> dict[str, Any]:
    ms = np.asarray(latencies) * 1000 if latencies else np.asarray([np.nan])
    return {"requests": total, "ok": len(latencies), "errors": errors,
            "achieved_rate": total / elapsed, "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(np.max(ms))}


def flood(port: int, seconds: float, clients: int = 3) -> None:
    """Send endless headers to ``port`` for ``seconds`` from ``clients`` threads: each sends a
    header of up to 100 MB, and when the server cuts it off, waits 0.1 s and starts again.
    Prints the number of connections and bytes sent, as JSON."""
    stop = time.monotonic() + seconds
    counts = {"connections": 0, "megabytes_sent": 0}
    block = b"a" * (1 << 20)

    def attack() -> None:
        while time.monotonic() < stop:
            counts["connections"] += 1
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nX-Big: ")
                    for _ in range(100):
                        if time.monotonic() >= stop:
                            break
                        s.sendall(block)
                        counts["megabytes_sent"] += 1
            except OSError:
                time.sleep(0.1)

    threads = [threading.Thread(target=attack) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(counts))

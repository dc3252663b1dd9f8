"""Lookup-service latency under a fixed request rate, beside a plain SQL query of the same rows.

    python -m bench.service [--users 10000] [--k 100] [--rate 500] [--seconds 10]

A SQLite store gets a published set of ``users`` x ``k`` recommendations and an API key; the
service runs as ``sentrec serve`` does (uvicorn, loopback only) in a subprocess. An open-loop
client sends ``rate`` requests/s for ``seconds`` (bounded in count and time) for random known
users, first on a quiet store, then while a second set of the same size is being written and
activated by another process. The baseline is the same top-10 read as a plain parameterised
SQL query on a sqlite3 connection, in this process.

Two more runs at ``rate`` show what the service's protections cost and hold: one while three
clients keep sending 100 MB headers from another process (each cut off at the 16 KiB head
limit, then reconnecting, at most 10 times a second each), and one against a second server
started with ``--no-access-log`` (the access log's own cost). The access lines the main server
wrote are counted against the requests it answered. The previous saved results, if any, are
shown beside the new ones. Writes bench/results/service.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx  # only to wait for the server to come up
import numpy as np
import polars as pl

from bench import common


def ranked(users: int, k: int, tag: str) -> pl.DataFrame:
    user = np.repeat(np.arange(users), k)
    rank = np.tile(np.arange(1, k + 1), users)
    return pl.DataFrame({
        "user_id": [f"u{u}" for u in user], "rank": rank,
        "item_id": [f"{tag}{(u * 31 + r) % 5000}" for u, r in zip(user, rank, strict=True)],
        "score": 1.0 / rank, "reason": [None] * len(rank)},
        schema={"user_id": pl.String, "rank": pl.Int64, "item_id": pl.String,
                "score": pl.Float64, "reason": pl.String})


def publish(url: str, users: int, k: int, tag: str) -> float:
    from storage.engine import make_engine
    from storage.recsets import activate_set, create_set, write_recommendations

    engine = make_engine(url)
    started = time.perf_counter()
    set_id = create_set(engine=engine, model_version_id=None, k=k)
    write_recommendations(engine=engine, set_id=set_id, frame=ranked(users, k, tag))
    activate_set(engine=engine, set_id=set_id)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def sql_baseline(db: Path, users: int, n: int) -> dict[str, Any]:
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    query = ("SELECT r.rank, r.item_id, r.score FROM recommendations r JOIN "
             "recommendation_sets s ON s.id = r.set_id WHERE s.status = 'active' AND "
             "r.user_id = ? ORDER BY r.rank LIMIT 10")
    rng = random.Random(1)
    latencies = []
    for _ in range(n):
        user = f"u{rng.randrange(users)}"
        started = time.perf_counter()
        rows = connection.execute(query, (user,)).fetchall()
        latencies.append(time.perf_counter() - started)
        assert len(rows) == 10
    return summarise(latencies, n, {}, sum(latencies))


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


@contextmanager
def serving(folder: str, url: str, *options: str) -> Iterator[tuple[str, Path]]:
    """``sentrec serve`` on a free port (output to files in ``folder``): its base URL and the
    file its access lines go to."""
    port = free_port()
    env = {**os.environ, "SENTREC_HOME": folder, "SENTREC_DATABASE_URL": url}
    log = Path(folder) / f"serve-{port}.err"
    with log.open("wb") as err, (Path(folder) / f"serve-{port}.out").open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--port",
                                   str(port), *options], cwd=common.REPO, env=env, stdout=out,
                                  stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield base, log
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--headroom", default="1000,2000",
                        help="Further request rates measured on the quiet store (comma list).")
    args = parser.parse_args()
    from storage.apikeys import create_key
    from storage.engine import make_engine
    from storage.migrate import upgrade

    load_before = os.getloadavg()[0]
    previous_file = common.RESULTS / "service.json"
    previous = json.loads(previous_file.read_text()) if previous_file.exists() else None
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "sentrec.db"
        url = f"sqlite:///{db}"
        engine = make_engine(url)
        upgrade(engine)
        first_publish = publish(url, args.users, args.k, "a")
        key = create_key(engine=engine, name="bench")
        env = {**os.environ, "SENTREC_HOME": folder, "SENTREC_DATABASE_URL": url}
        with serving(folder, url, "--workers", str(args.workers)) as (base, access_log):
            answered = asyncio.run(load(base, key, args.users, args.rate, 2))["ok"]  # warm-up
            quiet = asyncio.run(load(base, key, args.users, args.rate, args.seconds))
            publisher = subprocess.Popen(
                [sys.executable, "-c", "from bench.service import publish; "
                 f"print(publish({url!r}, {args.users}, {args.k}, 'b'))"],
                cwd=common.REPO, env=env, stdout=subprocess.PIPE, text=True)
            busy = asyncio.run(load(base, key, args.users, args.rate, args.seconds))
            publish_seconds = float(publisher.communicate(timeout=600)[0].strip())
            flooder = subprocess.Popen(
                [sys.executable, "-c", "from bench.service import flood; "
                 f"flood({int(base.rsplit(':', 1)[1])}, {args.seconds + 1})"],
                cwd=common.REPO, env=env, stdout=subprocess.PIPE, text=True)
            attacked = asyncio.run(load(base, key, args.users, args.rate, args.seconds))
            attacked["attack"] = json.loads(flooder.communicate(timeout=120)[0])
            headroom = {rate: asyncio.run(load(base, key, args.users, rate, args.seconds))
                        for rate in (float(r) for r in args.headroom.split(",") if r)}
            answered += sum(r["ok"] for r in (quiet, busy, attacked, *headroom.values()))
        access_lines = access_log.read_text().count(" ms\n")
        with serving(folder, url, "--workers", str(args.workers), "--no-access-log") as (
                base, _):
            asyncio.run(load(base, key, args.users, args.rate, 2))  # warm-up
            unlogged = asyncio.run(load(base, key, args.users, args.rate, args.seconds))
        baseline = sql_baseline(db, args.users, int(args.rate * args.seconds))
    result = {"users": args.users, "k": args.k, "rate": args.rate, "seconds": args.seconds,
              "workers": args.workers, "first_publish_seconds": first_publish,
              "publish_during_load_seconds": publish_seconds, "service_quiet": quiet,
              "service_while_publishing": busy, "service_under_header_flood": attacked,
              "service_without_access_log": unlogged, "plain_sql": baseline,
              "service_quiet_at_rate": {str(rate): r for rate, r in headroom.items()},
              "requests_answered": answered, "access_lines": access_lines,
              "load_average_1min": [load_before, os.getloadavg()[0]]}
    write_report(args, result, previous)


def write_report(args: argparse.Namespace, result: dict[str, Any],
                 previous: dict[str, Any] | None) -> None:
    """The markdown table (with the previous saved figures beside, where there are some)."""
    rate = f"{args.rate:.0f}/s"
    rows = [(f"service, quiet store, {rate}", "service_quiet", None),
            (f"service, while a new set is published, {rate}", "service_while_publishing", None),
            (f"service, while 3 clients send 100 MB headers, {rate}",
             "service_under_header_flood", None),
            (f"service with --no-access-log, quiet store, {rate}",
             "service_without_access_log", None),
            *[(f"service, quiet store, {float(r):.0f}/s", "service_quiet_at_rate", r)
              for r in result["service_quiet_at_rate"]],
            ("plain SQL query, in process (baseline)", "plain_sql", None)]
    lines = [f"# Lookup latency: {args.users:,} users x {args.k} recommendations, "
             f"{args.seconds:.0f} s per rate on loopback, {args.workers} server worker(s); "
             f"1-minute load average {result['load_average_1min'][0]:.2f} before, "
             f"{result['load_average_1min'][1]:.2f} after", "",
             "| path | requests | errors | achieved rate | p50 ms | p99 ms | max ms | "
             "previous p50 / p99 ms |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, field, at in rows:
        r = result[field] if at is None else result[field][at]
        before = (previous or {}).get(field)
        before = before.get(at) if at is not None and before else before
        was = f"{before['p50_ms']:.2f} / {before['p99_ms']:.2f}" if before else "-"
        lines.append(f"| {name} | {r['requests']:,} | {sum(r['errors'].values())} | "
                     f"{r['achieved_rate']:.0f}/s | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['max_ms']:.2f} | {was} |")
    attack = result["service_under_header_flood"]["attack"]
    quiet, sql = result["service_quiet"], result["plain_sql"]
    lines += ["", f"Publishing {args.users * args.k:,} rows took "
              f"{result['first_publish_seconds']:.1f} s on a quiet store and "
              f"{result['publish_during_load_seconds']:.1f} s under load. p99 ratio "
              f"service/SQL: {quiet['p99_ms'] / sql['p99_ms']:.1f}x. The header flood made "
              f"{attack['connections']:,} connections and sent {attack['megabytes_sent']:,} "
              "MB in all, each cut off at the 16 KiB head limit. The server wrote "
              f"{result['access_lines']:,} access lines for {result['requests_answered']:,} "
              "answered lookups.", "", "\"previous\" is the saved run before this one "
              "(bench/results/service.json as it was), measured on another occasion: compare "
              "ratios within a run first."]
    common.write_results("service", result, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

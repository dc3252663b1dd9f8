"""Lookup-service latency under a fixed request rate, beside a plain SQL query of the same rows.

    python -m bench.service [--users 10000] [--k 100] [--rate 500] [--seconds 10]

A SQLite store gets a published set of ``users`` x ``k`` recommendations and an API key; the
service runs as ``sentrec serve`` does (uvicorn, loopback only) in a subprocess. An open-loop
client sends ``rate`` requests/s for ``seconds`` (bounded in count and time) for random known
users, first on a quiet store, then while a second set of the same size is being written and
activated by another process. The baseline is the same top-10 read as a plain parameterised
SQL query on a sqlite3 connection, in this process. Writes bench/results/service.{json,md}.
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
import time
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

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "sentrec.db"
        url = f"sqlite:///{db}"
        engine = make_engine(url)
        upgrade(engine)
        first_publish = publish(url, args.users, args.k, "a")
        key = create_key(engine=engine, name="bench")
        port = free_port()
        env = {**os.environ, "SENTREC_HOME": folder, "SENTREC_DATABASE_URL": url}
        server = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "serve", "--port", str(port), "--workers",
             str(args.workers)], cwd=common.REPO, env=env)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            asyncio.run(load(base, key, args.users, args.rate, 2))  # warm-up
            quiet = asyncio.run(load(base, key, args.users, args.rate, args.seconds))
            publisher = subprocess.Popen(
                [sys.executable, "-c", "from bench.service import publish; "
                 f"print(publish({url!r}, {args.users}, {args.k}, 'b'))"],
                cwd=common.REPO, env=env, stdout=subprocess.PIPE, text=True)
            busy = asyncio.run(load(base, key, args.users, args.rate, args.seconds))
            publish_seconds = float(publisher.communicate(timeout=600)[0].strip())
            headroom = {rate: asyncio.run(load(base, key, args.users, rate, args.seconds))
                        for rate in (float(r) for r in args.headroom.split(",") if r)}
        finally:
            server.terminate()
            server.wait(timeout=30)
        baseline = sql_baseline(db, args.users, int(args.rate * args.seconds))
    result = {"users": args.users, "k": args.k, "rate": args.rate, "seconds": args.seconds,
              "workers": args.workers, "first_publish_seconds": first_publish,
              "publish_during_load_seconds": publish_seconds, "service_quiet": quiet,
              "service_while_publishing": busy, "plain_sql": baseline,
              "service_quiet_at_rate": {str(rate): r for rate, r in headroom.items()}}
    rows = [(f"service, quiet store, {args.rate:.0f}/s", quiet),
            (f"service, while a new set is published, {args.rate:.0f}/s", busy),
            *[(f"service, quiet store, {rate:.0f}/s", r) for rate, r in headroom.items()],
            ("plain SQL query, in process (baseline)", baseline)]
    lines = [f"# Lookup latency: {args.users:,} users x {args.k} recommendations, "
             f"{args.seconds:.0f} s per rate on loopback, {args.workers} server worker(s)", "",
             "| path | requests | errors | achieved rate | p50 ms | p99 ms | max ms |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['requests']:,} | {sum(r['errors'].values())} | "
                     f"{r['achieved_rate']:.0f}/s | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['max_ms']:.2f} |")
    lines += ["", f"Publishing {args.users * args.k:,} rows took {first_publish:.1f} s on a "
              f"quiet store and {publish_seconds:.1f} s under load. p99 ratio service/SQL: "
              f"{quiet['p99_ms'] / baseline['p99_ms']:.1f}x."]
    common.write_results("service", result, "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

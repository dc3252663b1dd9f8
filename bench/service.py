"""Lookup-service latency under a fixed request rate, beside a plain SQL query of the same rows.

    python -m bench.service [--users 10000] [--k 100] [--rate 500] [--seconds 10]
                            [--workers 1] [--headroom 1000,2000] [--reference REV]

A SQLite store gets a published set of ``users`` x ``k`` recommendations and an API key; the
service runs as ``sentrec serve`` does (uvicorn, loopback only) in a subprocess. An open-loop
client sends ``rate`` requests/s for ``seconds`` (bounded in count and time) for random known
users, first on a quiet store, then while a second set of the same size is being written and
activated by another process. The baseline is the same top-10 read as a plain parameterised
SQL query on a sqlite3 connection, in this process.

At each quiet rate, right after this service, the same load goes to a second server started
with ``--no-access-log`` (the access log's own cost) and, with ``--reference REV``, to the
service of another git revision, all on the same store, so that they meet the same machine
load; each run also records the server's CPU time per answered lookup, which other work on
the machine moves far less than latency. One more run at ``rate`` goes on while three clients
keep sending 100 MB headers from another process (each cut off at the 16 KiB head limit, then
reconnecting, at most 10 times a second each). The access lines the server wrote are counted
against the lookups it answered. The previous saved results, if any, are shown
beside the new ones. Writes bench/results/service.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx  # only to wait for the server to come up
import numpy as np
import polars as pl

from bench import common
from bench.load import load, summarise


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


@dataclass(frozen=True)
class Served:
    """A running ``sentrec serve``: where it answers, where its access lines go, its pid."""

    base: str
    log: Path
    pid: int


@contextmanager
def serving(folder: str, url: str, *options: str, root: Path = common.REPO) -> Iterator[Served]:
    """``sentrec serve`` of the code in ``root`` on a free port, output to files in
    ``folder``."""
    port = free_port()
    env = {**os.environ, "SENTREC_HOME": folder, "SENTREC_DATABASE_URL": url,
           "PYTHONPATH": str(root)}
    log = Path(folder) / f"serve-{port}.err"
    with log.open("wb") as err, (Path(folder) / f"serve-{port}.out").open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--port",
                                   str(port), *options], cwd=root, env=env, stdout=out,
                                  stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        yield Served(base, log, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children so far, from /proc (Linux)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(server: Served, key: str, users: int, rate: float,
            seconds: float) -> dict[str, Any]:
    """``load`` against the server, with the server's CPU time per answered request: a figure
    that other work on the machine changes far less than latency."""
    before = cpu_seconds(server.pid)
    result = asyncio.run(load(server.base, key, users, rate, seconds))
    result["server_cpu_us_per_request"] = (cpu_seconds(server.pid) - before) / max(
        result["ok"], 1) * 1e6
    return result


def checkout(revision: str, folder: str) -> Path:
    """The files of ``revision`` of this repository, unpacked under ``folder``."""
    root = Path(folder) / "reference"
    archive = subprocess.run(["git", "archive", "--format=tar", revision], cwd=common.REPO,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--headroom", default="1000,2000",
                        help="Further request rates measured on the quiet store (comma list).")
    parser.add_argument("--reference", help="A git revision (e.g. main) whose service is "
                        "measured at the quiet rates in the same run.")
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
        rates = [args.rate, *(float(r) for r in args.headroom.split(",") if r)]
        workers = ("--workers", str(args.workers))
        with contextlib.ExitStack() as stack:
            main_server = stack.enter_context(serving(folder, url, *workers))
            others = {"no_access_log": stack.enter_context(serving(folder, url, *workers,
                                                                   "--no-access-log"))}
            if args.reference is not None:
                others["reference"] = stack.enter_context(serving(
                    folder, url, *workers, root=checkout(args.reference, folder)))
            warm_up = measure(main_server, key, args.users, args.rate, 2)["ok"]
            for server in others.values():
                measure(server, key, args.users, args.rate, 2)
            quiet: dict[float, dict[str, Any]] = {}
            beside: dict[str, dict[str, Any]] = {name: {} for name in others}
            for rate in rates:  # each rate on this service, then right after on the others
                quiet[rate] = measure(main_server, key, args.users, rate, args.seconds)
                for name, server in others.items():
                    beside[name][str(rate)] = measure(server, key, args.users, rate,
                                                      args.seconds)
            publisher = subprocess.Popen(
                [sys.executable, "-c", "from bench.service import publish; "
                 f"print(publish({url!r}, {args.users}, {args.k}, 'b'))"],
                cwd=common.REPO, env=env, stdout=subprocess.PIPE, text=True)
            busy = measure(main_server, key, args.users, args.rate, args.seconds)
            publish_seconds = float(publisher.communicate(timeout=600)[0].strip())
            flooder = subprocess.Popen(
                [sys.executable, "-c", "from bench.load import flood; "
                 f"flood({int(main_server.base.rsplit(':', 1)[1])}, {args.seconds + 1})"],
                cwd=common.REPO, env=env, stdout=subprocess.PIPE, text=True)
            attacked = measure(main_server, key, args.users, args.rate, args.seconds)
            attacked["attack"] = json.loads(flooder.communicate(timeout=120)[0])
        # Access lines against answered lookups: the warm-up, every run, the start-up probe.
        answered = warm_up + sum(r["ok"] for r in (busy, attacked, *quiet.values()))
        access_lines = main_server.log.read_text().count(" ms\n") - 1
        baseline = sql_baseline(db, args.users, int(args.rate * args.seconds))
    result = {"users": args.users, "k": args.k, "rate": args.rate, "seconds": args.seconds,
              "workers": args.workers, "first_publish_seconds": first_publish,
              "publish_during_load_seconds": publish_seconds,
              "service_quiet": quiet[args.rate], "service_while_publishing": busy,
              "service_under_header_flood": attacked, "plain_sql": baseline,
              "service_quiet_at_rate": {str(r): quiet[r] for r in rates[1:]},
              "no_access_log_quiet_at_rate": beside["no_access_log"],
              "reference": args.reference,
              "reference_quiet_at_rate": beside.get("reference", {}),
              "requests_answered": answered, "access_lines": access_lines,
              "load_average_1min": [load_before, os.getloadavg()[0]]}
    write_report(args, result, previous)


def write_report(args: argparse.Namespace, result: dict[str, Any],
                 previous: dict[str, Any] | None) -> None:
    """The markdown table, with the previous saved figures beside where there are some."""
    before = previous or {}
    ours = {str(args.rate): result["service_quiet"], **result["service_quiet_at_rate"]}
    was = {str(args.rate): before.get("service_quiet"), **before.get("service_quiet_at_rate",
                                                                      {})}
    rows: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
    for at, r in ours.items():
        rate = f"{float(at):.0f}/s"
        rows.append((f"service, quiet store, {rate}", r, was.get(at)))
        rows.append((f"service with --no-access-log, {rate}",
                     result["no_access_log_quiet_at_rate"][at], None))
        if at in result["reference_quiet_at_rate"]:
            rows.append((f"reference service ({result['reference']}), {rate}",
                         result["reference_quiet_at_rate"][at], None))
    rate = f"{args.rate:.0f}/s"
    rows += [(f"service, while a new set is published, {rate}",
              result["service_while_publishing"], before.get("service_while_publishing")),
             (f"service, while 3 clients send 100 MB headers, {rate}",
              result["service_under_header_flood"], None),
             ("plain SQL query, in process (baseline)", result["plain_sql"],
              before.get("plain_sql"))]
    lines = [f"# Lookup latency: {args.users:,} users x {args.k} recommendations, "
             f"{args.seconds:.0f} s per rate on loopback, {args.workers} server worker(s); "
             f"1-minute load average {result['load_average_1min'][0]:.2f} before, "
             f"{result['load_average_1min'][1]:.2f} after", "",
             "| path | requests | errors | achieved rate | p50 ms | p99 ms | max ms | "
             "server CPU us/request | previous p50 / p99 ms |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r, earlier in rows:
        cpu = r.get("server_cpu_us_per_request")
        cpu_text = "-" if cpu is None else f"{cpu:.0f}"
        was_text = "-" if not earlier else f"{earlier['p50_ms']:.2f} / {earlier['p99_ms']:.2f}"
        lines.append(f"| {name} | {r['requests']:,} | {sum(r['errors'].values())} | "
                     f"{r['achieved_rate']:.0f}/s | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                     f"{r['max_ms']:.2f} | {cpu_text} | {was_text} |")
    attack = result["service_under_header_flood"]["attack"]
    quiet, sql = result["service_quiet"], result["plain_sql"]
    lines += ["", f"Publishing {args.users * args.k:,} rows took "
              f"{result['first_publish_seconds']:.1f} s on a quiet store and "
              f"{result['publish_during_load_seconds']:.1f} s under load. p99 ratio "
              f"service/SQL: {quiet['p99_ms'] / sql['p99_ms']:.1f}x. The header flood made "
              f"{attack['connections']:,} connections and sent {attack['megabytes_sent']:,} "
              "MB in all, each cut off at the 16 KiB head limit. The server wrote "
              f"{result['access_lines']:,} access lines for {result['requests_answered']:,} "
              "answered lookups." + _cpu_ratios(result), "",
              "Server CPU is the service process's user + system time over the lookups it "
              "answered; other work on the machine moves it far less than latency. "
              "\"previous\" is the saved run before this one (bench/results/service.json as "
              "it was), measured on another occasion: compare within a run first."]
    common.write_results("service", result, "\n".join(lines))
    print("\n".join(lines))


def _cpu_ratios(result: dict[str, Any]) -> str:
    """This service's CPU per request over the others', at each rate."""
    ours = {str(result["rate"]): result["service_quiet"], **result["service_quiet_at_rate"]}
    parts = []
    for field, name in (("no_access_log_quiet_at_rate", "--no-access-log"),
                        ("reference_quiet_at_rate", result["reference"])):
        ratios = [ours[at]["server_cpu_us_per_request"] / r["server_cpu_us_per_request"]
                  for at, r in result[field].items()]
        if ratios:
            parts.append(f" CPU per request, this service / {name}: "
                         + ", ".join(f"{x:.2f}x" for x in ratios) + " at the rates above.")
    return "".join(parts)


if __name__ == "__main__":
    main()

"""``sentrec monitor`` on a month of hourly data for 100 entities, in a SQLite store.

The store is seeded with real, redacted customer tweets (airline and TWCS SpotifyCares, through
the product's adapters), re-used across 100 entities with a case number appended so every
document is its own story, written through ``storage.ingest.record_batch`` with sentiment
scores from a registered model version (scoring is not what is timed; ``bench.sentiment_speed``
times it). Hourly volume follows a day curve (quiet nights), ``--per-hour`` documents an hour
per entity on average, 30% negative.

Timed, each on its own copy of the seeded store:

* **cli**: ``sentrec monitor`` in a fresh process (interpreter, imports, the Prefect flow with
  its tasks: topics, detection, alerts, report), the way a person or a scheduler runs it;
* **plain**: the same three steps as plain functions in one process (``refresh_topics``,
  ``run_monitoring``, ``write_report`` with the home's chart store), each timed; the
  difference is Prefect and start-up. Then the same run again with no new data (every chart
  is in the store: the report draws none), and the next run: the scores of the month's last
  hour are held back when seeding and written now, as they would arrive an hour later, and the
  three steps run again (every entity has new documents in that hour, so every chart is
  drawn again).

    nice -n 10 .venv/bin/python -m bench.monitor_speed [--entities 100] [--days 30] [--no-cli]

Writes bench/results/monitor_speed.json and bench/results/monitor_speed.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import select

from bench import common
from bench.datasets import airline_records, support_records
from domain.records import MESSAGE_SCHEMA, Parsed, Stream
from domain.settings import Settings

START = datetime(2024, 3, 1, tzinfo=UTC)
NEGATIVE_SHARE = 0.3
RUNS = ("first", "again, no new data", "next hour")
# Relative volume by UTC hour: nights at a quarter of the afternoon peak.
DAY_CURVE = 0.25 + 0.75 * np.sin(np.pi * np.arange(24) / 24) ** 2


def messages(data_dir: Path, entities: int, days: int, per_hour: float, seed: int
             ) -> pl.DataFrame:
    """Customer messages (``MESSAGE_SCHEMA``) for ``entities`` over ``days`` hourly windows."""
    rng = np.random.default_rng(seed)
    texts = pl.concat([airline_records(data_dir)["text"],
                       support_records(data_dir)["text"]]).drop_nulls().to_numpy()
    hours = np.arange(days * 24)
    rate = per_hour * DAY_CURVE[hours % 24] / DAY_CURVE.mean()
    counts = rng.poisson(np.tile(rate, entities))  # (entities * hours,)
    entity = np.repeat(np.repeat(np.arange(entities), hours.size), counts)
    hour = np.repeat(np.tile(hours, entities), counts)
    n = counts.sum()
    seconds = hour * 3600 + rng.integers(0, 3600, n)
    ids = np.arange(n)
    return pl.DataFrame({
        "source": "bench", "message_id": ids.astype(str), "conversation_id": None,
        "author_role": "customer", "entity": [f"Brand {e:03d}" for e in entity],
        "channel": "twitter",
        "created_at": [START + timedelta(seconds=int(s)) for s in seconds],
        "text": [f"{texts[i]} case {j}" for i, j in zip(rng.integers(0, texts.size, n), ids,
                                                          strict=True)],
    }, schema=MESSAGE_SCHEMA)


def seed_store(home: Path, records: pl.DataFrame, seed: int, *, scored_before: datetime
               ) -> pl.DataFrame:
    """Ingest the messages as one batch and score them with a registered model version; the
    scores of messages from ``scored_before`` on are returned instead of written (they arrive
    with the next run)."""
    from flows.runtime import ready_engine
    from storage.ingest import record_batch
    from storage.registry import register_version
    from storage.schema import Message
    from storage.scores import write_scores

    engine = ready_engine(Settings(home=home))
    parsed = Parsed(stream=Stream.MESSAGES, source="bench", rows_read=records.height,
                    records=records, format="canonical")
    record_batch(engine=engine, parsed=parsed, path=home / "messages.csv", file_sha256="m",
                 format="canonical")
    version = register_version(engine=engine, name="sentiment-fast", eval_set="bench",
                               primary_metric="f1", metrics={"f1": 0.0}, params={},
                               artifact_path="", sha256="").id
    with engine.connect() as connection:
        ids = connection.execute(select(Message.id, Message.message_id)).all()
    known = pl.DataFrame(ids, schema={"doc_id": pl.Int64, "message_id": pl.String},
                         orient="row").join(records.select("message_id", "created_at"),
                                            on="message_id")
    rng = np.random.default_rng(seed)
    p_neg = np.where(rng.random(known.height) < NEGATIVE_SHARE, 0.8, 0.1)
    scores = known.select(
        pl.lit("message").alias("doc_kind"), "doc_id", pl.lit(version).alias("model_version_id"),
        pl.Series("p_negative", p_neg), pl.lit(0.1).alias("p_neutral"),
        pl.Series("p_positive", 0.9 - p_neg), pl.Series("score", 0.9 - 2 * p_neg),
        pl.lit("[]").alias("highlights"), pl.lit(1).alias("sentences"),
        pl.lit(datetime.now(UTC)).alias("scored_at"), "created_at")
    later = pl.col("created_at") >= scored_before
    write_scores(engine=engine, scores=scores.filter(~later).drop("created_at"))
    return scores.filter(later).drop("created_at")


def copy_home(seeded: Path, to: Path) -> Path:
    shutil.copytree(seeded, to)
    return to


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_cli(home: Path) -> tuple[float, float, str]:
    """``sentrec monitor`` in a fresh process: wall time, CPU time (with the Prefect server
    it starts) and its last output line."""
    # On a loaded machine the temporary Prefect server can take longer than the default two
    # minutes to answer; the bench waits for it, and its start counts in the figures.
    env = {**os.environ, "SENTREC_HOME": str(home), "PYTHONPATH": str(common.REPO),
           "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "600", "COLUMNS": "200"}
    env.pop("SENTREC_DATABASE_URL", None)
    cpu = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flows.cli", "monitor"], env=env,
                          capture_output=True, text=True, check=False, cwd=common.REPO)
    if done.returncode != 0:
        raise RuntimeError(f"sentrec monitor failed ({done.returncode}):\n{done.stderr}")
    return (time.perf_counter() - started, _children_cpu() - cpu,
            next(line for line in done.stdout.splitlines() if "new scores" in line).strip())


def time_plain(home: Path, next_hour: pl.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """The monitor flow's three steps as plain functions, wall and CPU seconds of each: the
    first run over the month, then the next run after one more hour of scores arrived."""
    from flows.monitor_sentiment import run_monitoring, write_report
    from flows.report.cache import home_charts
    from flows.runtime import ready_engine
    from flows.topics import refresh_topics
    from storage.scores import write_scores

    settings = Settings(home=home)
    engine = ready_engine(settings)
    charts: dict[str, dict[str, int]] = {}

    def report(run: str) -> None:
        store = home_charts(home)
        write_report(engine=engine, out=home / "reports" / "alerts.html", charts=store)
        charts[run] = {"drawn": store.drawn, "reused": store.reused}

    runs: dict[str, dict[str, dict[str, float]]] = {run: {} for run in RUNS}
    for name, steps in runs.items():
        if name == "next hour":  # scored now, after the first run's watermark
            write_scores(engine=engine, scores=next_hour.with_columns(
                pl.lit(datetime.now(UTC)).alias("scored_at")))
        work = {
            "topics": lambda: refresh_topics(engine=engine, models_dir=home / "models", k=20),
            "detection + alerts": lambda: run_monitoring(
                engine=engine, horizon=timedelta(days=settings.alert_horizon_days)),
            "report": partial(report, name),
        }
        for step, run in work.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            steps[step] = {"wall": time.perf_counter() - wall,
                           "cpu": time.process_time() - cpu}
        steps["report"].update(charts[name])
    return runs


def markdown(result: dict[str, Any]) -> str:
    plain = result["plain_seconds"]
    first = plain["first"]
    wall, cpu = (sum(s[k] for s in first.values()) for k in ("wall", "cpu"))
    cli = result["cli_seconds"] is not None
    lines = [
        f"# `sentrec monitor`: a month of hourly data for {result['entities']} entities "
        "(SQLite)", "",
        f"    nice -n 10 .venv/bin/python -m bench.monitor_speed --entities "
        f"{result['entities']} --days {result['days']} --per-hour {result['per_hour']}"
        + ("" if cli else " --no-cli"), "",
        f"{result['documents']:,} scored customer messages ({result['entities']} entities x "
        f"{result['days']} days x ~{result['per_hour']} an hour), on {result['machine']['cpus']}"
        f" CPUs shared with other work (load average {result['load_before']:.1f} when it "
        "started, so wall times are inflated; CPU seconds are the work done, all threads and "
        "child processes counted). The first run learns the topics and judges the whole "
        "month; the same run again finds no new data (the report reuses every chart from the "
        "home's chart store); the next run finds one more hour of scores for every entity, "
        "so every chart is drawn again. Goal: within a minute.", "",
        "| run | wall s | CPU s | charts drawn / reused |", "|---|---:|---:|---:|"]
    if cli:
        lines += [f"| `sentrec monitor`, first run (fresh process, Prefect flow) | "
                  f"{result['cli_seconds']:.1f} | {result['cli_cpu_seconds']:.1f} | |"]
    for run, steps in plain.items():
        for step, s in steps.items():
            drawn = f"{s['drawn']} / {s['reused']}" if "drawn" in s else ""
            lines.append(f"| plain, {run}: {step} | {s['wall']:.1f} | {s['cpu']:.1f} | "
                         f"{drawn} |")
        lines.append(f"| plain, {run}: total | {sum(s['wall'] for s in steps.values()):.1f} | "
                     f"{sum(s['cpu'] for s in steps.values()):.1f} | |")
    if cli:
        lines += [f"| start-up + Prefect (cli - plain first run) | "
                  f"{result['cli_seconds'] - wall:.1f} | "
                  f"{result['cli_cpu_seconds'] - cpu:.1f} | |",
                  "", f"CLI said: {result['cli_output']}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--entities", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-hour", type=float, default=4.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cli", action="store_true",
                        help="skip timing `sentrec monitor` in a fresh process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sentrec-monitor-speed-") as tmp:
        seeded = Path(tmp) / "seeded"
        seeded.mkdir()
        records = messages(args.data_dir, args.entities, args.days, args.per_hour, args.seed)
        held_back = START + timedelta(days=args.days) - timedelta(hours=1)
        next_hour = seed_store(seeded, records, args.seed, scored_before=held_back)
        load = os.getloadavg()[0]
        cli_seconds, cli_cpu, said = (None, None, None) if args.no_cli else \
            time_cli(copy_home(seeded, Path(tmp) / "cli"))
        plain = time_plain(copy_home(seeded, Path(tmp) / "plain"), next_hour)
    result = {"entities": args.entities, "days": args.days, "per_hour": args.per_hour,
              "documents": records.height, "cli_seconds": cli_seconds, "cli_cpu_seconds": cli_cpu,
              "cli_output": said,
              "plain_seconds": plain, "load_before": load, "machine": common.machine()}
    common.write_results("monitor_speed", result, markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

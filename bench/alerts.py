"""Surge detectors on real streams with injected bursts of real negative documents.

Two streams, replayed in time order with hourly UTC windows:

* Twitter US Airline Sentiment (Feb 2015, ~8 days, six airlines = entities). Each tweet's
  sentiment is its **gold crowd label** (p_negative = 1 for "negative", etc.), so this bench
  measures the detectors, not a sentiment model.
* TWCS support_requests.csv (15,096 customer tweets to SpotifyCares, Oct-Dec 2017). It has no
  sentiment labels, so a TF-IDF + logistic regression trained on the airline gold labels scores
  it (domain transfer; only the stream's realism matters here, not the model's accuracy).

A burst moves k real negative tweets of the same entity, taken from outside the window's
baseline span, into one judged window (natural volume >= min_volume, baseline established,
no natural alert within +-3 windows). Sizes: ``share_x{1.5,2,3}`` inject just enough to lift
that window's negative share to f times its baseline (skipped where f * baseline > 0.95, which
is the case for airlines whose baseline is above 0.48 at f=2); ``neg_volume_x2`` doubles the
window's negative documents whatever the baseline. Each burst is its own replay; all four
detectors see the same replays. False alarms are the episodes each detector raises on the
un-injected streams, per entity per 30 monitored days (days with an established baseline).

    .venv/bin/python -m bench.alerts [--data-dir ../shared/data] [--bursts 25] [--seed 0]

Writes bench/results/alerts.json and bench/results/alerts.md.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from bench import common
from bench.datasets import airline_records, support_records
from domain.detection import DETECTORS, DetectorConfig, score_series
from domain.episodes import find_episodes
from domain.windows import MonitorConfig, aggregate_windows, mark_documents

SIZES = {"share_x1.5": 1.5, "share_x2": 2.0, "share_x3": 3.0, "neg_volume_x2": None}
MAX_DELAY = 3  # windows after the burst window in which a detection still counts
MONITOR = MonitorConfig(window="hour")


def scored_frame(records: pl.DataFrame, p_neg: pl.Expr, p_neu: pl.Expr,
                 p_pos: pl.Expr) -> pl.DataFrame:
    return records.select(
        pl.lit("message").alias("doc_kind"), pl.int_range(pl.len()).cast(pl.Int64).alias("doc_id"),
        "entity", pl.lit(None, pl.String).alias("topic"), "created_at",
        (p_pos - p_neg).alias("score"), p_neg.alias("p_negative"), p_neu.alias("p_neutral"),
        p_pos.alias("p_positive"), "text", pl.lit("[]").alias("highlights"))


def airline_stream(data_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Gold-labelled airline tweets as scored documents, plus the labelled records."""
    labelled = airline_records(data_dir)
    gold = {c: (pl.col("label") == c).cast(pl.Float64) for c in ("negative", "neutral",
                                                                   "positive")}
    return scored_frame(labelled, gold["negative"], gold["neutral"], gold["positive"]), labelled


def twcs_stream(data_dir: Path, airline: pl.DataFrame) -> pl.DataFrame:
    """SpotifyCares tweets scored by TF-IDF + LR trained on the airline gold labels."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(min_df=2, ngram_range=(1, 2), sublinear_tf=True)
    model = LogisticRegression(max_iter=1000, C=2.0)
    strip = r"@\w+|https?://\S+"
    model.fit(vectorizer.fit_transform(airline["text"].str.replace_all(strip, " ")),
              airline["label"])
    records = support_records(data_dir).filter(
        pl.col("created_at") >= pl.datetime(2017, 10, 1, time_zone="UTC"))
    proba = model.predict_proba(vectorizer.transform(
        records["text"].str.replace_all(strip, " ")))
    cols = {c: pl.lit(pl.Series(proba[:, i])) for i, c in enumerate(model.classes_)}
    return scored_frame(records, cols["negative"], cols["neutral"], cols["positive"])


def detect(marked: pl.DataFrame, config: DetectorConfig) -> dict[str, pl.DataFrame]:
    series = aggregate_windows(marked, MONITOR)
    return {name: score_series(series, detector=name, config=config) for name in DETECTORS}


def plan_bursts(entity_docs: pl.DataFrame, clean: dict[str, pl.DataFrame], size: str,
                config: DetectorConfig, rng: np.random.Generator, limit: int
                ) -> list[dict[str, Any]]:
    """Burst windows and the documents to move there, for one entity and one size."""
    base = clean["default"].with_row_index("i")
    fired = np.zeros(base.height, bool)
    for scored in clean.values():
        fired |= scored["fired"].to_numpy()
    near_alarm = np.convolve(fired, np.ones(2 * MAX_DELAY + 1), "same") > 0
    eligible = base.filter(pl.col("volume") >= config.min_volume,
                           pl.col("baseline").is_not_null(),
                           ~pl.Series(near_alarm))
    # Only texts without copies: a moved original would otherwise hand novelty to its copy.
    negatives = entity_docs.filter(pl.len().over("text_key") == 1, pl.col("negative"))
    bursts = []
    for row in eligible.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(1 << 31)))\
            .iter_rows(named=True):
        n, m, p0 = row["volume"], row["negatives"], row["baseline"]
        factor = SIZES[size]
        if factor is None:
            k = m
        else:
            target = factor * p0
            if target > 0.95:  # no window can reach it: the entity is already mostly negative
                continue
            k = math.ceil((target * n - m) / (1 - target))
        far = (pl.col("created_at") - row["window_start"]).abs() > \
            pl.duration(hours=config.baseline_windows + MAX_DELAY + 1)
        pool = negatives.filter(far)
        if k < 1 or pool.height < k:
            continue
        moved = pool.sample(k, seed=int(rng.integers(1 << 31)))
        offsets = rng.integers(0, 3_600_000_000, k)
        bursts.append({"index": row["i"], "window_start": row["window_start"], "k": k,
                       "baseline": p0, "volume": n, "doc_ids": moved["doc_id"],
                       "times": pl.Series([row["window_start"]] * k) +
                       pl.Series(offsets).cast(pl.Duration("us"))})
        if len(bursts) == limit:
            break
    return bursts


def replay(entity_docs: pl.DataFrame, burst: dict[str, Any], config: DetectorConfig
           ) -> dict[str, int | None]:
    """Windows from the burst to each detector's first alarm (None: missed)."""
    moved = entity_docs.filter(pl.col("doc_id").is_in(burst["doc_ids"].implode()))
    order = pl.DataFrame({"doc_id": burst["doc_ids"], "new_time": burst["times"]})
    moved = moved.join(order, on="doc_id").with_columns(pl.col("new_time").alias("created_at"))\
        .drop("new_time")
    stream = pl.concat([entity_docs.filter(~pl.col("doc_id").is_in(burst["doc_ids"].implode())),
                        moved.select(entity_docs.columns)])
    times = entity_docs["created_at"]
    series = aggregate_windows(stream, MONITOR, start=cast(datetime, times.min()),
                               end=cast(datetime, times.max()))
    delays: dict[str, int | None] = {}
    for name in DETECTORS:
        fired = score_series(series, detector=name, config=config)["fired"].to_numpy()
        hits = np.flatnonzero(fired[burst["index"]:burst["index"] + MAX_DELAY + 1])
        delays[name] = int(hits[0]) if hits.size else None
    return delays


def false_alarms(clean: dict[str, pl.DataFrame], config: DetectorConfig
                 ) -> tuple[float, dict[str, int]]:
    """Monitored days and the episodes per detector on an un-injected entity series."""
    days = float(clean["default"]["baseline"].is_not_null().sum()) / 24
    return days, {name: len(find_episodes(scored, detector=name, window="hour",
                                          config=config)) for name, scored in clean.items()}


def bench_stream(name: str, docs: pl.DataFrame, config: DetectorConfig, bursts: int,
                 seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    marked = mark_documents(docs, MONITOR)
    events: list[dict[str, Any]] = []
    alarms: dict[str, int] = dict.fromkeys(DETECTORS, 0)
    natural: list[dict[str, Any]] = []
    monitored_days = 0.0
    for (entity,), entity_docs in marked.group_by(["entity"], maintain_order=True):
        clean = detect(entity_docs, config)
        days, counts = false_alarms(clean, config)
        monitored_days += days
        for detector, count in counts.items():
            alarms[detector] += count
        natural += [{"entity": a.entity, "window_start": a.window_start.isoformat(),
                     "observed": a.observed, "baseline": a.baseline, "z": a.z,
                     "severity": a.severity, "volume": a.volume}
                    for a in find_episodes(clean["default"], detector="default",
                                           window="hour", config=config)]
        for size in SIZES:
            for burst in plan_bursts(entity_docs, clean, size, config, rng, bursts):
                delays = replay(entity_docs, burst, config)
                events.append({"entity": entity, "size": size, "k": burst["k"],
                               "baseline": burst["baseline"], "volume": burst["volume"],
                               "window_start": burst["window_start"].isoformat(),
                               "delays": delays})
        print(f"{name} {entity}: {days:.1f} monitored days, alarms {counts}", flush=True)
    return {"events": events, "alarms": alarms, "monitored_days": monitored_days,
            "entities": marked["entity"].n_unique(), "natural_default_alarms": natural}


def summarise(stream: str, result: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for detector in DETECTORS:
        fa = result["alarms"][detector] / max(result["monitored_days"], 1e-9) * 30
        for size in SIZES:
            delays = [e["delays"][detector] for e in result["events"] if e["size"] == size]
            found = [d for d in delays if d is not None]
            rows.append({
                "stream": stream, "detector": detector, "size": size, "events": len(delays),
                "recall": len(found) / len(delays) if delays else None,
                "first_window": sum(d == 0 for d in found) / len(delays) if delays else None,
                "mean_delay": float(np.mean(found)) if found else None,
                "false_alarms": result["alarms"][detector],
                "fa_per_entity_30d": fa})
    return rows


def topic_ami(data_dir: Path) -> list[dict[str, Any]]:
    """AMI of NMF topics against the 900 labelled support tweets (see models/topics.py)."""
    from sklearn.metrics import adjusted_mutual_info_score as ami

    from models.topics import TopicConfig, TopicModel, kechtel_labels

    labelled = kechtel_labels(data_dir / "customer_support_twitter" / "labeled_kechtel")
    rows = []
    for k in (10, 20, 40):
        model = TopicModel.fit(labelled["text"].to_list(), TopicConfig(k=k, seed=0))
        topics, _ = model.assign(labelled["text"].to_list())
        frame = labelled.with_columns(pl.Series("topic", topics))
        single = frame.filter(pl.col("flags") == 1)
        per_company = [ami(g["label"], g["topic"]) for _, g in single.group_by("company")]
        rows.append({"k": k, "ami_all_900": ami(frame["label"], frame["topic"]),
                     "ami_single_label": ami(single["label"], single["topic"]),
                     "single_label_docs": single.height,
                     "ami_single_within_company": float(np.mean(per_company)),
                     "topics": model.names[:k]})
    return rows


def _counts(events: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for event in events:
        counts[event["entity"]] = counts.get(event["entity"], 0) + 1
    return counts


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown(report: dict[str, Any]) -> str:
    cfg = report["config"]
    lines = [
        "# Surge detectors on replayed real streams with injected negative bursts (same run)",
        "",
        f"Hourly UTC windows; baseline = previous {cfg['baseline_windows']} windows (one day; "
        f"the airline data spans ~8 days), at least {cfg['min_baseline_windows']} judged; "
        f"min volume {cfg['min_volume']} novel docs. Airline sentiment = gold labels (measures "
        "detectors, not a model); TWCS sentiment = TF-IDF+LR trained on airline labels. "
        f"Detected = alarm within {MAX_DELAY} windows of the burst window; delay 0 = the first "
        "window containing the burst. False alarms: episodes on the un-injected stream per "
        "entity per 30 monitored days. Goals: recall >= 0.95 at share_x2, <= 1 false alarm "
        "per entity per 30 days, delay 0.",
        "",
        "| stream | detector | burst | events | recall | in first window | mean delay | "
        "false alarms | FA / entity / 30 d |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(f"| {r['stream']} | {r['detector']} | {r['size']} | {r['events']} | "
                     f"{fmt(r['recall'])} | {fmt(r['first_window'])} | "
                     f"{fmt(r['mean_delay'])} | {r['false_alarms']} | "
                     f"{r['fa_per_entity_30d']:.2f} |")
    lines += ["", "Monitored entity-days: " + ", ".join(
        f"{s} {v['monitored_days']:.1f} ({v['entities']} entities)"
        for s, v in report["streams"].items()), ""]
    lines += [
        "Reading: share_x{f} lifts the burst window's negative share to f x the baseline; it "
        "is impossible where f x baseline > 0.95 (United, US Airways and American sit at "
        "0.6-0.8, so they only get neg_volume_x2 and a few share_x1.5), which is why share_x3 "
        "has few events. neg_volume_x2 doubles the negative documents of the window: on an "
        "entity already 70% negative that moves the share by ~0.1, below hourly noise, so "
        "share-based detectors miss it by design. The file's 'Delta' rows address @JetBlue; "
        "the adapter files them under JetBlue. The alarms on the un-injected airline stream "
        "(below) read as real episodes (a JetBlue complaint storm, Southwest cancellations on "
        "21 Feb), so the false-alarm figure is an upper bound. Virgin America (~3 tweets/hour) "
        "never reaches the minimum volume: it is not monitored, by design.", ""]
    lines += ["Bursts per entity (all sizes): " + "; ".join(
        f"{s}: " + ", ".join(f"{e} {n}" for e, n in sorted(_counts(v["events"]).items()))
        for s, v in report["streams"].items()), "",
        "## Alarms of the default detector on the un-injected streams (counted as false)", "",
        "| stream | entity | window start (UTC) | negative share vs baseline | z | severity | "
        "volume |", "|---|---|---|---:|---:|---:|---:|"]
    for stream, value in report["streams"].items():
        for a in value["natural_default_alarms"]:
            lines.append(f"| {stream} | {a['entity']} | {a['window_start'][:16]} | "
                         f"{a['observed']:.0%} vs {a['baseline']:.0%} | {a['z']:.1f} | "
                         f"{a['severity']} | {a['volume']} |")
    lines += ["", "## Topics (NMF over TF-IDF) against the 900 labelled support tweets", "",
              "| k | AMI all 900 (first flag / none) | AMI single-label docs | "
              "AMI single-label, within company (mean) |", "|---:|---:|---:|---:|"]
    for t in report["topics"]:
        lines.append(f"| {t['k']} | {t['ami_all_900']:.3f} | {t['ami_single_label']:.3f} "
                     f"({t['single_label_docs']}) | {t['ami_single_within_company']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--bursts", type=int, default=25, help="bursts per entity and size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = DetectorConfig()
    started = time.perf_counter()
    airline, labelled = airline_stream(args.data_dir)
    streams = {"airline": airline, "twcs": twcs_stream(args.data_dir, labelled)}
    results = {name: bench_stream(name, docs, config, args.bursts, args.seed)
               for name, docs in streams.items()}
    rows = [row for name, result in results.items() for row in summarise(name, result)]
    report = {
        "config": asdict(config), "monitor": asdict(MONITOR), "max_delay": MAX_DELAY,
        "seed": args.seed, "rows": rows, "topics": topic_ami(args.data_dir),
        "streams": {n: {k: v for k, v in r.items() if k != "events"} | {"events": r["events"]}
                    for n, r in results.items()},
        "seconds": time.perf_counter() - started,
    }
    common.write_results("alerts", report, markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()

"""From fired windows to alerts: episodes, the reason in words, severity, evidence.

An **episode** is the run of windows in which any signal fired for one entity (or entity x
topic), a quiet gap of more than ``cooldown_windows`` ending it; it is one alert with one
dedup key whatever fired, and it names every signal that fired at the window where it was
strongest ("negative mentions 42 vs 10 usual for a Thursday 15:00 (4.2x); negative share 71%
vs 38%").

Severity (0-100) = 100 * min(1, r / 2) * min(1, sqrt(volume / (4 * min_volume))), where r is
the strongest signal over its threshold (r = 1 at the threshold: for the share its statistic
over the threshold, for a count log(p) / log(alpha)): an alert just over the line on the
minimum volume scores 25, one twice over the line on four times the volume scores 100.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import polars as pl

from domain.detection import METRIC, DetectorConfig, DetectorName, Signal, score_series
from domain.keyterms import over_represented_terms, over_represented_topics, word_counts
from domain.windows import MonitorConfig, aggregate_windows, mark_documents

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class AlertRecord:
    """One episode for one entity (and topic), as the ``alerts`` table holds it.

    ``observed``/``baseline``/``z`` are the negative share at the episode's peak share window,
    its baseline and z; ``signals`` has one entry per signal that fired (at its strongest
    window), ``reason`` says them in words.
    """

    dedup_key: str
    entity: str
    topic: str | None
    window: str
    window_start: datetime
    window_end: datetime
    observed: float
    baseline: float
    z: float
    severity: int
    volume: int
    detector: str
    model_version_id: int | None = None
    metric: str = METRIC
    status: str = "open"
    evidence: list[dict[str, Any]] = field(default_factory=list)
    negatives: int = 0
    signals: list[dict[str, Any]] = field(default_factory=list)
    reason: str = ""
    # What changed: words and topics over-represented against the entity's baseline.
    terms: list[dict[str, Any]] = field(default_factory=list)
    topics: list[dict[str, Any]] = field(default_factory=list)


def severity(ratio: float, volume: int, config: DetectorConfig) -> int:
    """0-100 from how far over its threshold a signal is and how many documents it saw."""
    weight = min(1.0, math.sqrt(volume / (4 * config.min_volume)))
    return round(100 * min(1.0, max(ratio, 0.0) / 2) * weight)


def dedup_key(entity: str, topic: str | None, detector: str, start: datetime) -> str:
    """entity|topic|detector|episode start; hashed past the column's 256 characters."""
    key = f"{entity}|{topic or '*'}|{detector}|{start.isoformat()}"
    return key if len(key) <= 256 else f"{key[:200]}#{hashlib.sha1(key.encode()).hexdigest()}"


def find_episodes(scored: pl.DataFrame, *, detector: str, window: str,
                  config: DetectorConfig | None = None,
                  model_version_id: int | None = None) -> list[AlertRecord]:
    """Group fired windows into episodes: a fired window within ``cooldown_windows`` of the
    previous one extends its episode (window_end, peaks, summed volume and negatives)."""
    config = config or DetectorConfig()
    alerts: list[AlertRecord] = []
    for (entity, topic), group in scored.sort("window_start").group_by(
            ["entity", "topic"], maintain_order=True):
        rows = group.with_row_index("i").filter(pl.col("fired")).to_dicts()
        episode: list[dict[str, Any]] = []
        for row in rows:
            if episode and row["i"] - episode[-1]["i"] > config.cooldown_windows:
                alerts.append(_alert(episode, str(entity), topic, detector, window, config,
                                     model_version_id))
                episode = []
            episode.append(row)
        if episode:
            alerts.append(_alert(episode, str(entity), topic, detector, window, config,
                                 model_version_id))
    return alerts


def _alert(rows: list[dict[str, Any]], entity: str, topic: str | None, detector: str,
           window: str, config: DetectorConfig, model_version_id: int | None) -> AlertRecord:
    first = rows[0]
    shared = [r for r in rows if r.get("share_fired")] or rows
    peak = max(shared, key=lambda r: (r["negative_share"] or 0.0, r["z"] or 0.0))
    signals = _signals(rows, window)
    share_baseline = peak["baseline"]
    if share_baseline is None or math.isnan(share_baseline):
        share_baseline = _expected_share(peak)
    return AlertRecord(
        dedup_key=dedup_key(entity, topic, detector, first["window_start"]), entity=entity,
        topic=topic, window=window, window_start=first["window_start"],
        window_end=rows[-1]["window_end"], observed=float(peak["negative_share"] or 0.0),
        baseline=float(share_baseline), z=float(0.0 if peak["z"] is None else peak["z"]),
        severity=max(severity(r["strength"], r["volume"], config) for r in rows),
        volume=sum(r["volume"] for r in rows), negatives=sum(r["negatives"] for r in rows),
        detector=detector, model_version_id=model_version_id, signals=signals,
        reason="; ".join(s["phrase"] for s in signals))


def _expected_share(row: dict[str, Any]) -> float:
    expected = row.get("expected_volume")
    if not expected:
        return float(row["negative_share"] or 0.0)
    return float(min(1.0, (row.get("expected_negatives") or 0.0) / expected))


def _signals(rows: list[dict[str, Any]], window: str) -> list[dict[str, Any]]:
    """Each signal that fired, at the window where it was strongest, with its phrase."""
    found = []
    counts = ((Signal.NEGATIVE_VOLUME, "negatives", "negative mentions"),
              (Signal.VOLUME, "volume", "mentions"))
    for signal, column, noun in counts:
        prefix = "negatives" if signal is Signal.NEGATIVE_VOLUME else "volume"
        fired = [r for r in rows if r.get(f"{prefix}_fired")]
        if not fired:
            continue
        row = min(fired, key=lambda r: r[f"{prefix}_p"])
        observed, expected = float(row[column]), float(row[f"expected_{prefix}"])
        ratio = observed / max(expected, 1e-9)
        found.append({
            "signal": signal.value, "window_start": row["window_start"].isoformat(),
            "observed": observed, "expected": expected, "ratio": ratio,
            "p_value": float(row[f"{prefix}_p"]),
            "phrase": f"{noun} {observed:.0f} vs {expected:.0f} usual for "
                      f"{_slot(row['window_start'], window)} ({ratio:.1f}x)"})
    shared = [r for r in rows if r.get("share_fired")]
    if shared:
        row = max(shared, key=lambda r: r["ratio"])
        found.append({
            "signal": Signal.NEGATIVE_SHARE.value,
            "window_start": row["window_start"].isoformat(),
            "observed": float(row["negative_share"]), "expected": float(row["baseline"]),
            "ratio": float(row["negative_share"]) / max(float(row["baseline"]), 1e-9),
            "z": float(row["z"]),
            "phrase": f"negative share {row['negative_share']:.0%} vs {row['baseline']:.0%}"})
    return found


def _slot(start: datetime, window: str) -> str:
    """"a Thursday 15:00" (hourly windows) or "a Thursday" (daily), in UTC."""
    day = _WEEKDAYS[start.weekday()]
    return f"a {day} {start:%H:%M}" if window == "hour" else f"a {day}"


def collect_evidence(marked: pl.DataFrame, alert: AlertRecord, *, top_n: int = 5
                     ) -> list[dict[str, Any]]:
    """The alert window's documents that best show it: ranked by negativity x novelty
    (p_negative times 1 for a story's first document, 1/2 for its next copy, ...), earliest
    first among equals, each with its highlighted words and its story (first seen, copies).

    ``marked`` comes from ``mark_documents``.
    """
    docs = marked.filter(pl.col("entity") == alert.entity,
                         pl.col("created_at") >= alert.window_start,
                         pl.col("created_at") < alert.window_end)
    if alert.topic is not None:
        docs = docs.filter(pl.col("topic") == alert.topic)
    top = docs.with_columns((pl.col("p_negative") * pl.col("novelty")).alias("_rank")).sort(
        ["_rank", "created_at"], descending=[True, False])
    return [{
        "doc_kind": row["doc_kind"], "doc_id": row["doc_id"],
        "created_at": row["created_at"].isoformat(), "text": row["text"],
        "p_negative": row["p_negative"], "score": row["score"], "novel": row["novel"],
        "novelty": round(float(row["novelty"]), 4), "copies": int(row["copies"]),
        "first_seen": row["first_seen"].isoformat(),
        "highlights": json.loads(row["highlights"] or "[]"),
    } for row in top.head(top_n).iter_rows(named=True)]


@dataclass(frozen=True)
class Detection:
    """What one monitoring pass found: the scored series (for charts), the alerts, and the
    documents marked with their stories (``mark_documents``)."""

    series: pl.DataFrame
    alerts: list[AlertRecord]
    documents: pl.DataFrame


def detect_alerts(scored: pl.DataFrame, *, monitor: MonitorConfig | None = None,
                  detector: str = DetectorName.DEFAULT, config: DetectorConfig | None = None,
                  evidence_top_n: int = 5, model_version_id: int | None = None,
                  start: datetime | None = None, end: datetime | None = None) -> Detection:
    """Scored documents -> window series -> signals -> episodes with evidence."""
    monitor = monitor or MonitorConfig()
    marked = scored if "novel" in scored.columns else mark_documents(scored, monitor)
    series = score_series(aggregate_windows(marked, monitor, start=start, end=end),
                          detector=detector, config=config, window=monitor.window)
    alerts = find_episodes(series, detector=detector, window=monitor.window, config=config,
                           model_version_id=model_version_id)
    prior = word_counts(marked["text"].drop_nulls()) if alerts else {}
    for alert in alerts:
        alert.evidence = collect_evidence(marked, alert, top_n=evidence_top_n)
        alert.terms, alert.topics = what_changed(marked, alert, prior)
    return Detection(series=series, alerts=alerts, documents=marked)


def what_changed(marked: pl.DataFrame, alert: AlertRecord, prior: Mapping[str, int], *,
                 baseline: timedelta = timedelta(days=7)
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The words (log-odds, ``domain.keyterms``) and topics the alert window's documents use
    more than the entity's own documents of the ``baseline`` before it."""
    entity = marked.filter(pl.col("entity") == alert.entity)
    if alert.topic is not None:
        entity = entity.filter(pl.col("topic") == alert.topic)
    inside = entity.filter(pl.col("created_at") >= alert.window_start,
                           pl.col("created_at") < alert.window_end)
    before = entity.filter(pl.col("created_at") >= alert.window_start - baseline,
                           pl.col("created_at") < alert.window_start)
    terms = over_represented_terms(inside["text"].drop_nulls().to_list(),
                                   before["text"].drop_nulls().to_list(), prior)
    topics = over_represented_topics(inside["topic"].to_list(), before["topic"].to_list())
    return terms, topics


def topic_breakdown(marked: pl.DataFrame, alert: Any, *, top_n: int = 6,
                    baseline: timedelta = timedelta(days=7)) -> list[dict[str, Any]]:
    """The alert window's new stories by topic beside the entity's usual mix over the
    ``baseline`` before it: documents, negative share, share of the window, usual share.
    The ``top_n`` largest first; empty when no document has a topic."""
    if "topic" not in marked.columns:
        return []
    entity = marked.filter(pl.col("entity") == alert.entity, pl.col("topic").is_not_null(),
                           pl.col("novel"))
    inside = entity.filter(pl.col("created_at") >= alert.window_start,
                           pl.col("created_at") < alert.window_end)
    before = entity.filter(pl.col("created_at") >= alert.window_start - baseline,
                           pl.col("created_at") < alert.window_start)
    if inside.is_empty():
        return []
    usual = dict(before.group_by("topic").len().iter_rows())
    rows = inside.group_by("topic").agg(pl.len().alias("window"),
                                        pl.col("negative").mean()
                                        .alias("window_negative_share"))
    return sorted(({"topic": row["topic"], "window": int(row["window"]),
                    "window_negative_share": float(row["window_negative_share"]),
                    "window_share": row["window"] / inside.height,
                    "baseline_share": usual.get(row["topic"], 0) / max(before.height, 1)}
                   for row in rows.iter_rows(named=True)),
                  key=lambda t: (-t["window"], str(t["topic"])))[:top_n]

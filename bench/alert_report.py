"""The markdown page of ``bench.alerts``: goals, one table per stream, the un-injected alarms."""

from __future__ import annotations

from typing import Any

from bench.alert_replay import DETECTORS, KINDS, MAX_DELAY

GOAL_KINDS = ("negative_volume_x2", "share_x2", "buzz_x2")
NATURAL_SHOWN = 12  # un-injected product alarms listed per stream


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _rows(report: dict[str, Any], stream: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in report["rows"]
            if r["stream"] == stream["name"] and r["sentiment"] == stream["sentiment"]]


def _label(stream: dict[str, Any]) -> str:
    return f"{stream['name']} ({stream['sentiment']})"


def goals(report: dict[str, Any]) -> list[str]:
    """The product against the goals: recall in the burst window at x2, false alarms."""
    lines = ["## The goals, product detector", "",
             "Recall in the burst window (events); goal >= 0.95. False alarms per entity per 30 "
             "monitored days on the un-injected stream; goal <= 1.", "",
             "| stream | " + " | ".join(GOAL_KINDS) + " | FA / entity / 30 d |",
             "|---|" + "---:|" * (len(GOAL_KINDS) + 1)]
    for stream in report["streams"]:
        cells = {r["kind"]: r for r in _rows(report, stream) if r["detector"] == "product"}
        fa = next(iter(cells.values()))["fa_per_entity_30d"]
        lines.append(f"| {_label(stream)} | " + " | ".join(
            f"{_fmt(cells[k]['recall_in_window'])} ({cells[k]['events']})" for k in GOAL_KINDS)
            + f" | {fa:.2f} |")
    return lines


def stream_table(report: dict[str, Any], stream: dict[str, Any]) -> list[str]:
    """Detectors x burst kinds: recall in the window / within MAX_DELAY windows."""
    rows = _rows(report, stream)
    events = {r["kind"]: r["events"] for r in rows}
    lines = [f"### {_label(stream)}", "",
             f"{stream['documents']:,} documents, {stream['entities']} entities, "
             f"{stream['window']}ly windows, {stream['monitored_days']:.0f} monitored "
             f"entity-days; cells: recall in the burst window / within {MAX_DELAY} windows; "
             "delay: mean windows to detect over the kinds.", "",
             "| detector | " + " | ".join(f"{k} ({events[k]})" for k in KINDS) +
             " | mean delay | false alarms | FA / entity / 30 d |",
             "|---|" + "---:|" * (len(KINDS) + 3)]
    for detector in DETECTORS:
        mine = {r["kind"]: r for r in rows if r["detector"] == detector}
        delays = [r["mean_delay"] for r in mine.values() if r["mean_delay"] is not None]
        first = next(iter(mine.values()))
        lines.append(f"| {detector} | " + " | ".join(
            f"{_fmt(mine[k]['recall_in_window'])} / {_fmt(mine[k]['recall_within'])}"
            for k in KINDS) + f" | {_fmt(sum(delays) / len(delays) if delays else None)} | "
            f"{first['false_alarms']} | {first['fa_per_entity_30d']:.2f} |")
    return lines + [""]


def signals(report: dict[str, Any]) -> list[str]:
    """Which of the product's signals fired in the burst window, per kind (all streams)."""
    lines = ["## What fired in the product, in the burst window (all streams)", "",
             "| burst | events | negative volume | volume | negative share | none |",
             "|---|---:|---:|---:|---:|---:|"]
    for kind in KINDS:
        found = [e["product_signals"] for s in report["streams"] for e in s["events"]
                 if e["kind"] == kind]
        if not found:
            continue
        share = [sum(name in f for f in found) / len(found)
                 for name in ("negatives_fired", "volume_fired", "share_fired")]
        none = sum(not f for f in found) / len(found)
        lines.append(f"| {kind} | {len(found)} | " +
                     " | ".join(f"{v:.2f}" for v in share) + f" | {none:.2f} |")
    return lines + [""]


def natural(report: dict[str, Any]) -> list[str]:
    lines = ["## The product's alarms on the un-injected streams (all counted as false)", ""]
    for stream in report["streams"]:
        found = stream["natural_product_alarms"]
        lines.append(f"**{_label(stream)}**: {len(found)} episodes" +
                     (f", the {NATURAL_SHOWN} most severe:" if len(found) > NATURAL_SHOWN
                      else ":" if found else "."))
        for a in sorted(found, key=lambda a: -a["severity"])[:NATURAL_SHOWN]:
            lines.append(f"- {a['entity']} {a['window_start'][:16]}, severity "
                         f"{a['severity']}, {a['volume']} docs: {a['reason']}")
        lines.append("")
    return lines


def markdown(report: dict[str, Any]) -> str:
    cfg = report["config"]
    lines = [
        "# Alert detectors on replayed real streams with injected bursts (one run)", "",
        "    nice -n 10 .venv/bin/python -m bench.alerts "
        f"--bursts {report['bursts_per_entity_kind']} --seed {report['seed']}", "",
        f"Detectors: **product** = `score_series(detector=\"default\")`, the combined rule "
        "(negative volume, volume, negative share; whatever fired); **zscore / ewma / cusum** "
        "= the product's share detectors of those names, OR the same rule on the negative "
        "count and the total count; **seasonal-naive** = each of the three signals against "
        "the mean of the same window yesterday and last week (3 sigma). Episodes use the "
        f"product's rule (a gap of more than {cfg['cooldown_windows']} quiet windows ends "
        "one). Bursts move real documents of the same entity from other times "
        "(`bench/alert_replay.py`): `negative_volume_xf` multiplies the window's negative "
        "documents by f, `share_xf` adds negatives until the share is f x the usual, "
        f"`buzz_xf` multiplies all its documents by f; windows hold >= {cfg['min_volume']} "
        "novel documents, lie past the first two days and away from any un-injected alarm. "
        f"Bursts per entity and kind: up to {report['bursts_per_entity_kind']}; "
        f"run took {report['seconds']:.0f} s.", ""]
    lines += goals(report) + [""]
    lines += ["## Every detector and burst kind, per stream", ""]
    for stream in report["streams"]:
        lines += stream_table(report, stream)
    lines += signals(report) + natural(report)
    return "\n".join(lines) + "\n"

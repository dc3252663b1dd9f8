"""The markdown page of ``bench.alerts``: goals, one table per stream, the un-injected alarms."""

from __future__ import annotations

from typing import Any

from bench.alert_replay import DETECTORS, KINDS, MAX_DELAY

GOAL_KINDS = ("negative_volume_x2", "share_x2", "buzz_x2")
NATURAL_SHOWN = 12  # un-injected product alarms listed per stream
WINDOW_WORD = {"hour": "hourly", "day": "daily"}
# Bins of what the burst window held before the burst (its negatives for negative-volume
# bursts, its documents otherwise): recall at x2 depends on little else.
SIZE_BINS = ((0, 10), (10, 20), (20, 40), (40, None))
# The reading of the saved run (seed 0, 20 bursts per entity and kind); its figures are in
# the tables above it. The alert-line figures come from domain.counts on the two hourly
# streams' windows with >= 10 documents.
READING = [
    "## Reading", "",
    "- **The goals are not met.** At x2 the product finds 5-7% of negative-volume bursts and "
    "7-10% of buzz bursts in the burst window, and 81-90% of share bursts; it raises 2.9-3.9 "
    "episodes per entity per 30 days on the airline and SpotifyCares streams, 0.30 on the "
    "threads file and 0.00 on the headlines.",
    "- **Why the volume signals miss x2 and x3:** with `alpha = 1e-5` and the "
    "overdispersion these hourly counts show (1/k median 0.2; 0.5 until 24 windows of "
    "history exist), the count that fires sits at a median 5x the usual count (IQR 4-8x) in "
    "windows of >= 10 documents. The count signals are built for storms (American on 22 Feb "
    "2015, 74 negative mentions against ~0 usual), not for doublings. The recall table by "
    "window size shows the dependence: recall grows with what the window held.",
    "- **No detector meets both goals at these volumes.** The baselines find more (z-score: "
    "21-36% of negative-volume x2, 40-50% of buzz x2) at 18-20 false alarms per entity per "
    "30 days. Even for a Poisson count, keeping to one false alarm in 30 days of hourly "
    "windows (p ~ 1/720 per window) needs ~21 documents where 10 are usual, so a doubling "
    "of 10-20 documents cannot be found 95% of the time without paging more; at >= 40 "
    "documents a window it can. The streams hold few such windows (1 negative-volume and 5 "
    "buzz bursts).",
    "- **The false alarms are an upper bound.** American's 22-24 Feb storm and JetBlue's "
    "complaint hours are real episodes of the airline stream; in the threads file every "
    "brand 'surges' at 31 Oct 21:00-22:00 because the file is the first 5,000 rows of TWCS, "
    "which cluster there.",
    "- **Sparse entities page nobody:** 130 tagged companies over 2.5 years of headlines "
    "(~1 headline a day each) raised 13 episodes in 122,590 entity-days, each a day of 6-22 "
    "headlines on one company, and they read as real news days (Boeing on 11 Mar 2019, the "
    "day after the Ethiopian 737 MAX crash; Facebook on 20 Mar 2018, Cambridge Analytica; "
    "Spotify's listing on 3 Apr 2018; the Twitter hack of 15 Jul 2020); only one window "
    "anywhere held >= 10 headlines away from an alarm, and no brand "
    "hour of the threads file did, so those two streams measure false alarms only.",
    "- **Model in the loop vs gold labels** (airline): recall moves by up to 9 points "
    "either way (share_x2 0.90 -> 0.81) and the false alarms drop from 5 to 4 episodes; "
    "the TF-IDF model trained on the "
    "other airlines does not change the picture. Seasonal-naive needs a week of history and "
    "the airline stream spans 7.5 days, so it is nearly blind there.",
    "- **No default was changed.** Lowering `alpha` or `min_ratio` would raise recall on "
    "these streams and the paging rate on every other; that is a product decision to take "
    "with streams of the volumes customers have, not one to fit to these.", ""]


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
             f"{WINDOW_WORD[stream['window']]} windows, {stream['monitored_days']:.0f} monitored "
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
    return [*lines, ""]


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
    return [*lines, ""]


def _size_bin(event: dict[str, Any]) -> str:
    held = event["negatives"] if event["kind"].startswith("negative_volume") \
        else event["volume"]
    for low, high in SIZE_BINS:
        if high is None or held < high:
            return f"{low}+" if high is None else f"{low}-{high - 1}"
    raise AssertionError("the last bin is open")


def by_size(report: dict[str, Any]) -> list[str]:
    """Recall in the burst window at x2 by what the window held before it (all streams)."""
    lines = ["## Recall in the burst window at x2 by what the window held (all streams)", "",
             "Held: the window's negative documents (negative_volume_x2) or its documents "
             "(share_x2, buzz_x2) before the burst.", "",
             "| burst | held | events | " + " | ".join(DETECTORS) + " |",
             "|---|---|---:|" + "---:|" * len(DETECTORS)]
    for kind in GOAL_KINDS:
        events = [e for s in report["streams"] for e in s["events"] if e["kind"] == kind]
        for low, high in SIZE_BINS:
            label = f"{low}+" if high is None else f"{low}-{high - 1}"
            mine = [e for e in events if _size_bin(e) == label]
            if not mine:
                continue
            lines.append(f"| {kind} | {label} | {len(mine)} | " + " | ".join(
                f"{sum(e['delays'][d] == 0 for e in mine) / len(mine):.2f}"
                for d in DETECTORS) + " |")
    return [*lines, ""]


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
        "    nice -n 10 .venv/bin/python -m bench.alerts " + (
            "--quick" if report["quick"] else
            f"--bursts {report['bursts_per_entity_kind']} --seed {report['seed']}"), "",
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
        "Monitored days: each entity's windows after the stream's first two days (the "
        "product judges nothing earlier), summed over entities. "
        f"Bursts per entity and kind: up to {report['bursts_per_entity_kind']}; "
        f"run took {report['seconds']:.0f} s.", ""]
    lines += [*goals(report), ""]
    lines += ["## Every detector and burst kind, per stream", ""]
    for stream in report["streams"]:
        lines += stream_table(report, stream)
    # The reading is of the saved run; a quick run is a smoke test with too few bursts.
    lines += by_size(report) + signals(report) + natural(report)
    lines += [] if report["quick"] else READING
    return "\n".join(lines) + "\n"


SWEEP_KINDS = ("negative_volume_x2", "negative_volume_x3", "buzz_x2", "buzz_x3", "share_x2",
               "share_x3")
FA_GOAL = 1.0  # false alarms per entity per 30 days (issue 11)


def _recall_cells(recall: dict[str, float | None], events: dict[str, int]) -> str:
    return " | ".join(f"{_fmt(recall[k])} ({events[k]})" for k in SWEEP_KINDS)


def sweep_markdown(report: dict[str, Any]) -> str:
    """The alpha sweep: the product's recall in the burst window and false alarms per alpha,
    the baselines beside it on the same bursts, and which alphas keep every stream within the
    false-alarm goal."""
    default = report["config"]["counts"]["alpha"]
    alphas = ",".join(repr(a) for a in report["alphas"])
    lines = [
        "# The count model's tail probability (alpha): recall against false alarms (one run)",
        "", f"    nice -n 10 .venv/bin/python -m bench.alerts --alphas {alphas} --bursts "
        f"{report['bursts_per_entity_kind']} --seed {report['seed']} --budget-minutes "
        f"{report['budget_minutes']:g}", "",
        "`alpha` (`SENTREC_ALERT_ALPHA`) is the upper-tail probability under the count model "
        "below which a window's negative mentions or mentions fire (with the effect floors "
        "`min_ratio` and `min_excess` unchanged); the negative-share signal does not read it. "
        "Every alpha judges the same bursts (real documents moved into a window, "
        "`bench/alert_replay.py`), placed away from any un-injected alarm at any of the "
        "alphas; false alarms are episodes on the un-injected streams. Cells: recall in the "
        f"burst window (bursts). Default alpha: {default!r}. Bursts per entity and kind: up "
        f"to {report['bursts_per_entity_kind']}; run took {report['seconds']:.0f} s.", ""]
    cut = [s["name"] + f" ({s['sentiment']})" for s in report["streams"] if s["cut_short"]]
    if cut:
        lines += [f"**Cut short by the {report['budget_minutes']:g}-minute budget:** no bursts "
                  f"on some entities of {', '.join(cut)} (false alarms counted on all).", ""]
    head = " | ".join(SWEEP_KINDS)
    lines += ["## The product at each alpha", "",
              f"| stream | alpha | {head} | false alarms | FA / entity / 30 d |",
              "|---|---:|" + "---:|" * (len(SWEEP_KINDS) + 2)]
    for row in report["sweep"]:
        mark = " (default)" if row["alpha"] == default else ""
        lines.append(f"| {row['stream']} ({row['sentiment']}) | {row['alpha']:g}{mark} | "
                     f"{_recall_cells(row['recall_in_window'], row['events'])} | "
                     f"{row['false_alarms']} | {row['fa_per_entity_30d']:.2f} |")
    lines += ["", "## Baselines on the same bursts", "",
              f"| stream | detector | {head} | FA / entity / 30 d |",
              "|---|---|" + "---:|" * (len(SWEEP_KINDS) + 1)]
    for stream in report["streams"]:
        rows = _rows(report, stream)
        for detector in DETECTORS[1:]:
            mine = {r["kind"]: r for r in rows if r["detector"] == detector}
            lines.append(f"| {_label(stream)} | {detector} | " + " | ".join(
                f"{_fmt(mine[k]['recall_in_window'])} ({mine[k]['events']})"
                for k in SWEEP_KINDS) + f" | {mine[SWEEP_KINDS[0]]['fa_per_entity_30d']:.2f} |")
    lines += ["", "## Within the false-alarm goal", "",
              f"Streams at <= {FA_GOAL:g} false alarm per entity per 30 days, per alpha:", ""]
    for alpha in report["alphas"]:
        fas = [r["fa_per_entity_30d"] for r in report["sweep"] if r["alpha"] == alpha]
        lines.append(f"- alpha {alpha:g}: {sum(fa <= FA_GOAL for fa in fas)} of {len(fas)} "
                     f"(worst {max(fas):.2f})")
    return "\n".join(lines) + "\n"

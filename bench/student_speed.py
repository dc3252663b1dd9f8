"""Scoring speed of the distilled student beside TF-IDF + LR, in the same run, on CPU.

The 20,000 texts of ``bench.sentiment_speed`` (PhraseBank 50Agree, airline tweets, financial
headlines). Pipelines: TF-IDF + LR (``predict_proba`` on all texts, fitted on the PhraseBank
training portion), and the fast model with each student vocabulary, in float32 and after int8
dynamic quantisation, through ``models.sentiment.predict.score_texts`` (tokenise, windows,
length-bucketed batches, probabilities, top-5 highlights). Speed does not depend on what the
weights learnt, so the students have their trained shapes with fresh weights: "own" with a
WordPiece vocabulary trained on the PhraseBank training portion (4,000 ids), "minilm" with
MiniLM's (30,522 ids) and PCA-initialised embeddings, and the latter with its lexical member
(``models.sentiment.lexical``: the product's distilled model); ``--model`` / ``--sha256`` add
a saved artifact. Pipelines not started within ``--max-minutes`` are left out. Each pipeline is
timed as the best of ``--repeats`` runs after a warm-up on 500 texts. The machine is shared, so
each rate is also given as a multiple of TF-IDF + LR's.

    python -m bench.student_speed [--threads 2] [--repeats 3] [--max-minutes 10]
        [--data-dir ../shared/data]

Writes bench/results/student_speed.json and .md.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from bench import common
from bench.datasets import load_phrasebank
from bench.sentiment_speed import bench_texts, best_rate
from models.sentiment.baseline import train_baseline
from models.sentiment.data import label_ids, stratified_split
from models.sentiment.distil import minilm_vocabulary
from models.sentiment.encoder import SentimentConfig, SentimentEncoder
from models.sentiment.lexical import BUCKETS, LexicalBag
from models.sentiment.predict import TrainedSentiment, load_sentiment, quantized, score_texts
from models.sentiment.tokenizer import train_tokenizer

GOAL = 5000.0  # docs/s of the int8 student at 2 threads (issue 13)


def students(x_train: list[str], args: argparse.Namespace) -> dict[str, TrainedSentiment]:
    """The fast model with each vocabulary (fresh weights), and ``--model`` when given."""
    own = train_tokenizer(x_train, vocab_size=SentimentConfig().vocab_size)
    wordpiece, table = minilm_vocabulary(SentimentConfig().d_model)
    found: dict[str, TrainedSentiment] = {}
    for name, tokenizer in (("own", own), ("minilm", wordpiece)):
        config = SentimentConfig(vocab_size=tokenizer.vocab_size)
        model = SentimentEncoder(config).eval()
        if name == "minilm":
            with torch.no_grad():
                model.tokens.weight.copy_(table)
        found[f"student ({name} vocabulary)"] = TrainedSentiment("distilled", model, tokenizer,
                                                                 config)
    mixed = SentimentEncoder(SentimentConfig(vocab_size=wordpiece.vocab_size)).eval()
    mixed.load_state_dict(found["student (minilm vocabulary)"].model.state_dict())
    mixed.attach_lexical(LexicalBag(wordpiece.vocab_size, BUCKETS, wordpiece.pad_id, chars=True),
                         mix=0.5)
    found["student (minilm vocabulary) + lexical"] = TrainedSentiment(
        "distilled", mixed.eval(), wordpiece, mixed.config)
    if args.model:
        found[f"saved {args.model.name}"] = load_sentiment(args.model, sha256=args.sha256)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--model", type=Path)
    parser.add_argument("--sha256")
    parser.add_argument("--max-minutes", type=float, default=10.0,
                        help="time budget: pipelines not started by then are left out")
    args = parser.parse_args()
    deadline = time.monotonic() + args.max_minutes * 60
    torch.set_num_threads(args.threads)
    texts, sources = bench_texts(args.data_dir)
    pb_texts, pb_names = load_phrasebank(args.data_dir, "50")
    pb_labels = label_ids(pb_names)
    train_rows = stratified_split(pb_labels, test_fraction=0.2, seed=0)[0]
    x_train = [pb_texts[i] for i in train_rows]
    baseline = train_baseline(x_train, [pb_labels[i] for i in train_rows], seed=0)
    load_before = os.getloadavg()[0]
    baseline.predict_proba(texts[:500])
    rows: dict[str, dict[str, Any]] = {"tfidf-lr": {"docs_per_second": best_rate(
        functools.partial(baseline.predict_proba, texts), len(texts), args.repeats)}}
    for name, trained in students(x_train, args).items():
        for label, model in ((name, trained), (f"{name} int8", quantized(trained))):
            if time.monotonic() > deadline:
                print(f"time budget spent: {label} not measured", flush=True)
                continue
            score_texts(model, texts[:500], batch_size=args.batch_size)
            rows[label] = {"docs_per_second": best_rate(functools.partial(
                score_texts, model, texts, batch_size=args.batch_size), len(texts), args.repeats)}
    for label, row in rows.items():
        row["ratio_to_tfidf"] = row["docs_per_second"] / rows["tfidf-lr"]["docs_per_second"]
        print(f"{args.threads} threads {label:40s} {row['docs_per_second']:8,.0f} docs/s "
              f"({row['ratio_to_tfidf']:.2f}x TF-IDF)", flush=True)
    result = {"texts": sources, "threads": args.threads, "batch_size": args.batch_size,
              "repeats": args.repeats, "goal_docs_per_second_int8": GOAL,
              "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
              **common.machine(torch_threads=args.threads), "pipelines": rows}
    command = " ".join(["python -m bench.student_speed", *sys.argv[1:]])
    lines = ["# Student scoring speed", "", f"`{command}`", "",
             __doc__.split("\n\n")[1].replace("\n", " "), "",
             f"CPU, {args.threads} torch thread(s), batch {args.batch_size}, best of "
             f"{args.repeats}. Load average {load_before:.2f} before, "
             f"{result['load_average_after']:.2f} after (the machine is shared).", "",
             "| pipeline | docs/s | x TF-IDF + LR | int8 goal |", "|---|---:|---:|---|"]
    for label, row in rows.items():
        goal = ("met" if row["docs_per_second"] >= GOAL else "**not met**") \
            if label.endswith("int8") else ""
        lines.append(f"| {label} | {row['docs_per_second']:,.0f} | "
                     f"{row['ratio_to_tfidf']:.2f} | {goal} |")
    common.write_results("student_speed", result, "\n".join(lines))


if __name__ == "__main__":
    main()

"""Intent detection on Banking77 (Casanueva et al. 2020): the intent model beside TF-IDF + LR.

Protocol: the published train/test split (10,003 / 3,080 queries, 77 intents), read by the
production adapter. Each model is fitted by ``models.support.intent_train.fit_intent`` on the
training split (its out-of-scope threshold chosen there too) and measured on the test split:
accuracy and macro-F1 of the best intent. Few-shot: ``--shots`` training queries per intent,
drawn with seeds 0..draws-1, mean +- sd over the draws. Out of scope: ``--oos`` intents (seeded)
are removed from training; on the test split, the share of their queries answered None (OOS
recall) and the share of the other queries answered with their right intent (in-scope accuracy
at the threshold). Speed: queries/s of ``IntentModel.predict`` on the whole test split (embed,
TF-IDF, scores), best of ``--repeats``, at ``--threads`` torch threads. Sentence vectors are
computed once per split and shared by the fits; the speed run computes them afresh.

    python -m bench.support_intent [--draws 5] [--shots 10] [--oos 10] [--threads 2]
        [--repeats 3] [--data-dir ../shared/data]

Writes bench/results/support_intent.json and .md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.common import default_data_dir, machine, write_results
from bench.datasets import load_banking77
from models.support.embed import EmbedConfig, SentenceEmbedder
from models.support.intent import IntentConfig, IntentModel
from models.support.intent_train import evaluate_intent, fit_intent

COMMAND = "python -m bench.support_intent"
CONFIGS = {"minilm-tfidf": IntentConfig(),
           "minilm": replace(IntentConfig(), use_tfidf=False),
           "tfidf-lr": replace(IntentConfig(), use_minilm=False)}
ANCHORS = {"BERT fine-tuned (Casanueva et al. 2020)": 0.834,
           "USE+ConveRT (Casanueva et al. 2020)": 0.852}


def _fit_and_score(name: str, texts: list[str], labels: list[str], vectors: np.ndarray,
                   test: tuple[list[str], list[str], np.ndarray], embedder: SentenceEmbedder,
                   seed: int) -> tuple[dict[str, float], IntentModel]:
    config = CONFIGS[name]
    started = time.perf_counter()
    model = fit_intent(texts, labels, config=config, seed=seed, embedder=embedder,
                       vectors=vectors if config.use_minilm else None)
    fit_s = time.perf_counter() - started
    metrics = evaluate_intent(model, test[0], test[1],
                              vectors=test[2] if config.use_minilm else None)
    return {**metrics, "threshold": model.threshold, "fit_s": fit_s}, model


def _draw(labels: list[str], shots: int, seed: int) -> list[int]:
    """``shots`` rows of every intent, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    by_intent: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        by_intent.setdefault(label, []).append(row)
    return sorted(int(r) for intent in sorted(by_intent)
                  for r in rng.choice(by_intent[intent], size=shots, replace=False))


def _speed(model: IntentModel, test_texts: list[str], repeats: int, int8: bool) -> float:
    """Queries/s of ``model.predict`` on the test texts (vectors computed inside) with an int8
    or fp32 encoder, best of ``repeats``."""
    model.featurizer.embedder = SentenceEmbedder(EmbedConfig(int8=int8))
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        model.predict(test_texts)
        best = max(best, len(test_texts) / (time.perf_counter() - started))
    return best


def _oos(train: tuple[list[str], list[str], np.ndarray],
         test: tuple[list[str], list[str], np.ndarray], n_out: int,
         embedder: SentenceEmbedder) -> dict[str, Any]:
    intents = sorted(set(train[1]))
    out = set(np.random.default_rng(0).choice(intents, size=n_out, replace=False).tolist())
    rows = [i for i, label in enumerate(train[1]) if label not in out]
    model = fit_intent([train[0][i] for i in rows], [train[1][i] for i in rows],
                       embedder=embedder, vectors=train[2][rows])
    guesses = model.predict(test[0], vectors=test[2])
    inside = [g.label == t for g, t in zip(guesses, test[1], strict=True) if t not in out]
    outside = [g.label is None for g, t in zip(guesses, test[1], strict=True) if t in out]
    answered = [g.label is not None for g, t in zip(guesses, test[1], strict=True)
                if t not in out]
    return {"held_out_intents": sorted(out), "threshold": model.threshold,
            "oos_recall": float(np.mean(outside)), "in_scope_accuracy": float(np.mean(inside)),
            "in_scope_answered": float(np.mean(answered)), "oos_queries": len(outside),
            "in_scope_queries": len(inside)}


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement of the module docstring."""
    torch.set_num_threads(args.threads)
    data_dir = args.data_dir or default_data_dir()
    train_texts, train_labels = load_banking77(data_dir, "train")
    test_texts, test_labels = load_banking77(data_dir, "test")
    embedder = SentenceEmbedder()
    train = (train_texts, train_labels, embedder.embed(train_texts))
    test = (test_texts, test_labels, embedder.embed(test_texts))
    fitted = {name: _fit_and_score(name, *train, test, embedder, 0) for name in CONFIGS}
    full = {name: metrics for name, (metrics, _) in fitted.items()}
    few: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
    for seed in range(args.draws):
        rows = _draw(train_labels, args.shots, seed)
        for name in CONFIGS:
            few[name].append(_fit_and_score(name, [train_texts[i] for i in rows],
                                            [train_labels[i] for i in rows], train[2][rows],
                                            test, embedder, seed)[0])
    load_before = os.getloadavg()[0]
    product = fitted["minilm-tfidf"][1]
    speed = {"int8": _speed(product, test_texts, args.repeats, int8=True),
             "fp32": _speed(product, test_texts, args.repeats, int8=False)}
    return {"machine": machine(threads=args.threads, load_average_before_speed=load_before,
                               load_average_after=os.getloadavg()[0]),
            "sizes": {"train": len(train_texts), "test": len(test_texts)},
            "full": full, "few_shot": {"shots": args.shots, "draws": few},
            "queries_per_s": speed, "oos": _oos(train, test, args.oos, embedder),
            "anchors": ANCHORS}


def _mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.4f} ± {sd:.4f}"


def render(result: dict[str, Any], args: argparse.Namespace) -> str:
    """The markdown report."""
    full, few, oos, speed = (result["full"], result["few_shot"]["draws"], result["oos"],
                             result["queries_per_s"])
    m = result["machine"]
    lines = [f"# Intent on Banking77\n\n`{COMMAND} --draws {args.draws} --shots {args.shots} "
             f"--oos {args.oos} --threads {args.threads} --repeats {args.repeats}`\n",
             f"{m['cpus']} CPUs ({m['machine']}), torch {m['torch']} at {args.threads} threads; "
             f"load average {m['load_average_before_speed']:.1f} before the speed runs, "
             f"{m['load_average_after']:.1f} at the end (the machine is shared).\n",
             f"## Full training set ({result['sizes']['train']:,} queries), test split "
             f"({result['sizes']['test']:,})\n",
             "| model | accuracy | macro-F1 | threshold | answered at it | fit s |",
             "|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {name} | {r['accuracy']:.4f} | {r['macro_f1']:.4f} | {r['threshold']:.2f} | "
              f"{r['answered']:.3f} | {r['fit_s']:.0f} |" for name, r in full.items()]
    lines += [f"\n## {result['few_shot']['shots']} queries per intent, "
              f"{len(next(iter(few.values())))} draws (mean ± sd)\n",
              "| model | accuracy | macro-F1 |", "|---|---:|---:|"]
    lines += [f"| {name} | {_mean_sd([r['accuracy'] for r in runs])} | "
              f"{_mean_sd([r['macro_f1'] for r in runs])} |" for name, runs in few.items()]
    lines += [f"| {name} (published) | {value:.3f} | |"
              for name, value in result["anchors"].items()]
    lines += ["\n## Speed\n", "| encoder | queries/s (predict, whole test split) |", "|---|---:|",
              *[f"| MiniLM {kind} + TF-IDF + LR | {value:,.0f} |"
                for kind, value in speed.items()],
              f"\n## Out of scope ({len(oos['held_out_intents'])} intents removed from "
              "training)\n",
              f"Threshold {oos['threshold']:.2f} (chosen on the training split). OOS recall "
              f"{oos['oos_recall']:.3f} of {oos['oos_queries']:,} queries; in-scope accuracy "
              f"at the threshold {oos['in_scope_accuracy']:.3f} of {oos['in_scope_queries']:,} "
              f"(answered {oos['in_scope_answered']:.3f}). Removed: "
              f"{', '.join(oos['held_out_intents'])}."]
    goal_full = full["minilm-tfidf"]["accuracy"] >= 0.93 and speed["int8"] >= 500
    goal_few = statistics.mean(r["accuracy"] for r in few["minilm-tfidf"]) > 0.852
    lines += ["\n## Goals\n",
              f"- full set accuracy >= 0.93 at >= 500 queries/s: "
              f"{'met' if goal_full else 'not met'}",
              f"- {result['few_shot']['shots']}/intent above 85.2%: "
              f"{'met' if goal_few else 'not met'}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--shots", type=int, default=10)
    parser.add_argument("--oos", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args()
    result = run(args)
    markdown = render(result, args)
    write_results("support_intent", result, markdown)
    print(markdown)


if __name__ == "__main__":
    main()

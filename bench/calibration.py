"""Calibration of the sentiment profiles: ECE (15 bins) before and after temperature scaling.

Protocol: Financial PhraseBank 50Agree, 80/20 stratified split with seed 0 (DESIGN.md, the one
``bench/sentiment_quality.py`` uses). Each profile trains as ``sentrec train sentiment`` does:
the temperature is fitted on the validation tenth carved from the training portion, never on
the test split, and the test split is scored through the production path (``score_texts``), so
"before" is the model's raw probabilities and "after" what the store, the report and the API
get. TF-IDF + LR is measured in the same run for reference (its probabilities come from logistic
regression, often better calibrated than a network's; Niculescu-Mizil and Caruana 2005). Also
reported: negative log-likelihood, and the mean p(negative) the model gives to test sentences
that are not negative (what a false alert is made of).

    python -m bench.calibration [--profiles fast,accurate] [--fast-minutes 6]
        [--accurate-minutes 14] [--threads 2] [--data-dir ../shared/data]

Writes bench/results/calibration.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import common
from bench.datasets import load_phrasebank
from domain.records import SENTIMENT_LABELS
from domain.settings import available_cores
from models.calibration import ECE_BINS, expected_calibration_error
from models.device import use_threads
from models.sentiment.baseline import train_baseline
from models.sentiment.data import label_ids, stratified_split
from models.sentiment.predict import TrainedSentiment, score_texts
from models.sentiment.train import ACCURATE_FIT, FAST_FIT, train_accurate, train_fast

PROFILES = ("fast", "accurate")
NEGATIVE = SENTIMENT_LABELS.index("negative")


def _figures(probs: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """ECE, NLL, accuracy, and mean p(negative) on sentences that are not negative."""
    picked = np.clip(probs[np.arange(len(truth)), truth], 1e-12, 1.0)
    return {"ece": expected_calibration_error(probs, truth),
            "nll": float(-np.log(picked).mean()),
            "accuracy": float((probs.argmax(1) == truth).mean()),
            "p_negative_on_non_negative": float(probs[truth != NEGATIVE, NEGATIVE].mean())}


def _profile(profile: str, texts: list[str], labels: list[int], minutes: float,
             seed: int) -> TrainedSentiment:
    """One profile trained as the product trains it, within ``minutes``."""
    if profile == "fast":
        return train_fast(texts, labels, seed=seed,
                          fit=dataclasses.replace(FAST_FIT, max_seconds=minutes * 60))
    return train_accurate(texts, labels, seed=seed,
                          fit=dataclasses.replace(ACCURATE_FIT, max_seconds=minutes * 60))


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every requested profile and the TF-IDF reference on the fixed split."""
    texts, names = load_phrasebank(args.data_dir, "50")
    labels = label_ids(names)
    train_rows, test_rows = stratified_split(labels, test_fraction=0.2, seed=0)
    x_train, y_train = [texts[i] for i in train_rows], [labels[i] for i in train_rows]
    x_test = [texts[i] for i in test_rows]
    truth = np.asarray([labels[i] for i in test_rows])
    rows: list[dict[str, Any]] = []
    baseline = train_baseline(x_train, y_train, seed=args.seed)
    rows.append({"model": "TF-IDF + LR", "temperature": None, "stop_reason": None,
                 "before": _figures(baseline.predict_proba(x_test), truth), "after": None})
    for profile in args.profiles:
        start = time.perf_counter()
        minutes = args.fast_minutes if profile == "fast" else args.accurate_minutes
        trained = _profile(profile, x_train, y_train, minutes, args.seed)
        scores = score_texts(trained, x_test, top_k=0)
        raw = scores.probs if scores.raw_probs is None else scores.raw_probs
        rows.append({"model": profile, "temperature": trained.temperature,
                     "stop_reason": trained.run.stop_reason if trained.run else None,
                     "epochs_run": trained.metrics.get("epochs_run"),
                     "train_seconds": round(time.perf_counter() - start, 1),
                     "before": _figures(raw, truth), "after": _figures(scores.probs, truth)})
        logging.warning("%s: T %.3f, ECE %.4f -> %.4f", profile, trained.temperature,
                        rows[-1]["before"]["ece"], rows[-1]["after"]["ece"])
    return {"protocol": "PhraseBank 50Agree, 80/20 stratified, seed 0", "bins": ECE_BINS,
            "n_train": len(x_train), "n_test": len(x_test), "seed": args.seed,
            "machine": common.machine(threads=args.threads), "rows": rows}


def _cell(figures: dict[str, float] | None, key: str) -> str:
    return "" if figures is None else f"{figures[key]:.4f}"


def markdown(result: dict[str, Any], command: str) -> str:
    """The results table, the command that reproduces it at the top."""
    lines = [f"# Calibration: ECE ({result['bins']} bins) before and after temperature scaling",
             "", f"`{command}`", "",
             f"{result['protocol']}: {result['n_train']:,} training sentences (a tenth carved "
             f"for validation fits T), {result['n_test']:,} test sentences. Machine: "
             f"{result['machine']}.", "",
             "| model | T | ECE raw | ECE calibrated | NLL raw | NLL calibrated | accuracy | "
             "mean p(neg) on non-negative raw | calibrated | training stopped by |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for row in result["rows"]:
        before, after = row["before"], row["after"]
        temperature = "" if row["temperature"] is None else f"{row['temperature']:.3f}"
        lines.append(f"| {row['model']} | {temperature} | {_cell(before, 'ece')} | "
                     f"{_cell(after, 'ece')} | {_cell(before, 'nll')} | {_cell(after, 'nll')} | "
                     f"{_cell(before, 'accuracy')} | "
                     f"{_cell(before, 'p_negative_on_non_negative')} | "
                     f"{_cell(after, 'p_negative_on_non_negative')} | "
                     f"{row['stop_reason'] or ''} |")
    lines += ["", "TF-IDF + LR is not rescaled: its row is its own probabilities. Accuracy is "
              "the same before and after (a temperature never changes a prediction)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profiles", type=lambda s: [p for p in s.split(",") if p],
                        default=list(PROFILES))
    parser.add_argument("--fast-minutes", type=float, default=6.0)
    parser.add_argument("--accurate-minutes", type=float, default=14.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=available_cores())
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    args = parser.parse_args()
    unknown = set(args.profiles) - set(PROFILES)
    if unknown:
        parser.error(f"unknown profile(s) {sorted(unknown)}; choose from {PROFILES}")
    use_threads(args.threads)
    torch.manual_seed(args.seed)
    result = run(args)
    command = ("python -m bench.calibration --profiles " + ",".join(args.profiles) +
               f" --fast-minutes {args.fast_minutes:g} --accurate-minutes "
               f"{args.accurate_minutes:g} --threads {args.threads}")
    common.write_results("calibration", result, markdown(result, command))
    print(markdown(result, command))


if __name__ == "__main__":
    main()

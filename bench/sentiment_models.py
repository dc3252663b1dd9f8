"""The sentiment models the explanation and robustness benches probe, trained once.

Each is trained on the training portion of ``bench.sentiment_quality``'s fixed split (80/20,
stratified, seed 0), at most ``MAX_TRAIN`` texts of it (a seeded sample), within a time
budget, and kept as a checkpoint in a cache folder with a
sidecar holding its sha256 and how it was trained, so a second bench (or a rerun) loads it
instead of training again. The test portion is what the benches probe.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.datasets import Labelled, load_airline, load_phrasebank
from models.sentiment.baseline import TfidfBaseline, train_baseline
from models.sentiment.data import label_ids, stratified_split
from models.sentiment.predict import TrainedSentiment, load_sentiment, save_sentiment
from models.sentiment.train import (
    ACCURATE_FIT,
    FAST_FIT,
    train_accurate,
    train_fast,
)

LOADERS: dict[str, Callable[[Path], Labelled]] = {
    "phrasebank-50": lambda d: load_phrasebank(d, "50"),
    "airline": load_airline,
}
PROFILES = ("fast", "accurate")
# All of PhraseBank 50Agree's 3,870 training sentences; a fifth of the airline tweets, so that
# the accurate profile makes more than one pass within minutes of one CPU core.
MAX_TRAIN = {"phrasebank-50": 4000, "airline": 2000}


@dataclass(frozen=True)
class Split:
    """Texts and label ids of one dataset's fixed split."""

    x_train: list[str]
    y_train: list[int]
    x_test: list[str]
    y_test: list[int]


def load_split(dataset: str, data_dir: Path) -> Split:
    """The 80/20 stratified split (seed 0) of ``bench.sentiment_quality``."""
    texts, names = LOADERS[dataset](data_dir)
    labels = label_ids(names)
    train_rows, test_rows = stratified_split(labels, test_fraction=0.2, seed=0)
    return Split([texts[i] for i in train_rows], [labels[i] for i in train_rows],
                 [texts[i] for i in test_rows], [labels[i] for i in test_rows])


def baseline_model(split: Split, *, seed: int = 0) -> TfidfBaseline:
    """TF-IDF + LR on the training portion (seconds: never cached)."""
    return train_baseline(split.x_train, split.y_train, seed=seed)


def trained_model(dataset: str, profile: str, split: Split, *, minutes: float, seed: int,
                  cache: Path) -> tuple[TrainedSentiment, dict[str, Any]]:
    """The cached model for (dataset, profile, seed, budget), trained first if missing, and
    how it was trained (seconds, epochs, validation metrics)."""
    stem = cache / f"{dataset}-{profile}-seed{seed}-{minutes:g}min"
    sidecar = stem.with_suffix(".json")
    recipe = (f"MiniLM vocabulary without links, handles or tickers, lexical member, "
              f"{minutes:g} min budget" if profile == "fast" else
              f"MiniLM, linear probe then fine-tuning, {minutes:g} min budget")
    info: dict[str, Any] = json.loads(sidecar.read_text()) if sidecar.exists() else {}
    if info.get("recipe") == recipe:  # a checkpoint of an older recipe is trained again
        return load_sentiment(stem.with_suffix(".pt"), sha256=info["sha256"]), info
    start = time.perf_counter()
    rows = random.Random(seed).sample(range(len(split.x_train)),
                                      min(MAX_TRAIN[dataset], len(split.x_train)))
    split = Split([split.x_train[i] for i in sorted(rows)],
                  [split.y_train[i] for i in sorted(rows)], split.x_test, split.y_test)
    if profile == "fast":
        trained = train_fast(split.x_train, split.y_train, seed=seed,
                             fit=dataclasses.replace(FAST_FIT, max_seconds=minutes * 60))
    elif profile == "accurate":
        # The product's recipe (LP-FT: the head on the frozen encoder, then everything).
        trained = train_accurate(split.x_train, split.y_train, seed=seed,
                                 fit=dataclasses.replace(ACCURATE_FIT, max_seconds=minutes * 60))
    else:
        raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
    info = {"dataset": dataset, "profile": profile, "seed": seed, "recipe": recipe,
            "train_seconds": round(time.perf_counter() - start, 1),
            "n_train": len(split.x_train),
            "metrics": {k: round(float(v), 4) for k, v in trained.metrics.items()}}
    cache.mkdir(parents=True, exist_ok=True)
    info["sha256"] = save_sentiment(trained, stem.with_suffix(".pt"))
    sidecar.write_text(json.dumps(info, indent=2))
    logging.info("trained %s %s in %.0f s", dataset, profile, info["train_seconds"])
    trained.model.eval()
    return trained, info


def merge_results(previous: Path, fresh: list[dict[str, Any]],
                  key: tuple[str, ...]) -> list[dict[str, Any]]:
    """The entries of a bench's earlier JSON that this run did not measure (by ``key``), then
    this run's: a bench can be run piece by piece within a time budget."""
    if not previous.exists():
        return fresh
    done = {tuple(e.get(k) for k in key) for e in fresh}
    kept = [e for e in json.loads(previous.read_text())["results"]
            if tuple(e.get(k) for k in key) not in done]
    return kept + fresh


def sample(texts: list[str], labels: list[int], n: int) -> tuple[list[str], list[int]]:
    """A seeded sample of ``n`` texts (all when fewer), in their original order."""
    rows = sorted(random.Random(0).sample(range(len(texts)), min(n, len(texts))))
    return [texts[i] for i in rows], [labels[i] for i in rows]

"""Sentiment generalisation: train on one source, test on another the model never saw.

Pairs: Financial PhraseBank 50Agree -> SEntFiN headlines and back, and Twitter US Airline with
each airline of at least 100 tweets held out in turn (trained on the other airlines' tweets).
SEntFiN labels entities, not headlines: a headline counts with a label only when every entity
it names (and every copy of its title) carries the same sentiment, which keeps 9,449 of its
10,686 distinct titles (domain.adapters.sentfin). Data are read with the production adapters.
Model selection sees only the training source: every profile carves its validation set from the
training texts; the target is only scored. Training texts equal to a test text (case and
surrounding space ignored) are dropped. ``--max-train`` samples the training texts (seed 0).

Profiles, all in one run beside TF-IDF + LR trained on the same texts: fast, accurate (teacher)
and two students the accurate model of the same run teaches: distilled, on the training texts
plus ``--transfer`` unlabelled texts of the source side (all of them by default, as in the
product): the dated financial headlines for PhraseBank, SEntFiN's mixed-entity headlines and
the same financial headlines for SEntFiN, inbound support tweets for the airlines; and
distilled-target, on the training texts plus the target's texts without their labels
(transductive): what the product's distillation, which reads every unlabelled text in the
store (``flows/distil.py``), sees once a user has ingested the stream it is to score.
Distillation is the product's recipe (``models.sentiment.distil.distil_within_budget``):
within the per-model budget the teacher's int8 copy labels the transfer texts for its share of
the time, the student trains in the rest.

Goals (issue 13): accurate >= TF-IDF + 0.10 macro-F1 on every pair; fast and distilled above
TF-IDF. Results accumulate per (pair, training size, profile, seed).

    python -m bench.sentiment_transfer [--pairs phrasebank-sentfin,sentfin-phrasebank,airline]
        (one held-out airline alone: --pairs airline-united)
        [--profiles tfidf-lr,fast,accurate,distilled,distilled-target] [--seeds 0]
        [--max-train N] [--minutes-per-model 5] [--max-minutes 60] [--transfer all|N]
        [--data-dir ../shared/data] [--threads 1]

Also ``python -m bench.sentiment_quality --protocol cross-domain ...``. Writes
bench/results/sentiment_transfer.json and .md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import random
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from bench import common
from bench.datasets import (
    airline_records,
    load_headlines,
    load_phrasebank,
    load_support_tweets,
    sentfin_headlines,
)
from bench.transfer_report import markdown, predictions, summarise
from models.sentiment.baseline import train_baseline
from models.sentiment.data import label_ids
from models.sentiment.distil import distil_within_budget
from models.sentiment.evaluate import classification_metrics, evaluate_held_out
from models.sentiment.predict import TrainedSentiment
from models.sentiment.train import (
    ACCURATE_FIT,
    FAST_FIT,
    distillation_pool,
    train_accurate,
    train_fast,
)

log = logging.getLogger("bench.sentiment_transfer")
PROFILES = ("tfidf-lr", "fast", "accurate", "distilled", "distilled-target")
TRANSFER_FROM = {"distilled": "source", "distilled-target": "target-unlabelled"}
PAIRS = ("phrasebank-sentfin", "sentfin-phrasebank", "airline")
MIN_AIRLINE_TWEETS = 100  # an airline held out needs enough tweets for a stable macro-F1
ACCURATE_MARGIN = 0.10  # macro-F1 over TF-IDF + LR the accurate profile must reach


@dataclass(frozen=True)
class Pair:
    """One cross-domain protocol: what is trained on, what is scored, what may be distilled."""

    name: str
    x_train: list[str]
    y_train: list[int]
    x_test: list[str]
    y_test: list[int]
    source_unlabelled: Callable[[], list[str]]


def _phrasebank(data_dir: Path) -> tuple[list[str], list[int]]:
    texts, names = load_phrasebank(data_dir, "50")
    return texts, label_ids(names)


def _sentfin(data_dir: Path) -> tuple[list[str], list[int], list[str]]:
    (texts, names), mixed = sentfin_headlines(data_dir)
    return texts, label_ids(names), mixed


def build_pairs(name: str, data_dir: Path) -> Iterator[Pair]:
    """The pairs of one ``--pairs`` entry (``airline`` is one pair per held-out airline)."""
    if name == "phrasebank-sentfin":
        x, y = _phrasebank(data_dir)
        tx, ty, _ = _sentfin(data_dir)
        yield Pair(name, x, y, tx, ty, lambda: load_headlines(data_dir))
    elif name == "sentfin-phrasebank":
        x, y, mixed = _sentfin(data_dir)
        tx, ty = _phrasebank(data_dir)
        # SEntFiN's own unlabelled titles are few (1,237), so the finance headline pool joins
        # them, as it would sit in the store beside them
        yield Pair(name, x, y, tx, ty, lambda: [*mixed, *load_headlines(data_dir)])
    elif name == "airline" or name.startswith("airline-"):
        records = airline_records(data_dir)
        texts, airlines = records["text"].to_list(), records["entity"].to_list()
        labels = label_ids(records["label"].to_list())
        counts = {a: airlines.count(a) for a in set(airlines)}
        for held in sorted(a for a, n in counts.items() if n >= MIN_AIRLINE_TWEETS):
            if name not in ("airline", _airline_pair(held)):
                continue
            inside = [i for i, a in enumerate(airlines) if a != held]
            out = [i for i, a in enumerate(airlines) if a == held]
            yield Pair(_airline_pair(held),
                       [texts[i] for i in inside], [labels[i] for i in inside],
                       [texts[i] for i in out], [labels[i] for i in out],
                       lambda: load_support_tweets(data_dir))
    else:
        raise ValueError(f"unknown pair {name!r}; choose from {', '.join(PAIRS)}")


def _airline_pair(airline: str) -> str:
    return "airline-" + airline.lower().replace(" ", "-")


def prepared(pair: Pair, max_train: int | None) -> Pair:
    """Training texts minus copies of test texts, sampled down to ``max_train`` (seed 0)."""
    banned = {t.strip().lower() for t in pair.x_test}
    rows = [i for i, t in enumerate(pair.x_train) if t.strip().lower() not in banned]
    if max_train is not None and len(rows) > max_train:
        rows = sorted(random.Random(0).sample(rows, max_train))
    return replace(pair, x_train=[pair.x_train[i] for i in rows],
                   y_train=[pair.y_train[i] for i in rows])


def transfer_texts(pair: Pair, where: str, size: int | None, *, seed: int = 0) -> list[str]:
    """Up to ``size`` (None: all) distinct unlabelled texts for distillation, spread over the
    pool, from the source side (none equals a test text) or the target side (the test texts),
    and augmented copies of the training texts the student of ``seed`` trains on (not its
    validation carve), shuffled with ``seed``: the product's transfer set
    (``models.sentiment.train.distillation_pool``)."""
    if size is not None and size <= 0:
        return []
    if where == "target-unlabelled":
        pool, held = list(dict.fromkeys(pair.x_test)), []
    else:
        banned = {t.strip().lower() for t in pair.x_test}
        pool = [t for t in pair.source_unlabelled()
                if t.strip() and t.strip().lower() not in banned]
        held = pair.x_test
    if size is not None:
        pool = list(dict.fromkeys(pool))
        pool = pool[::max(1, len(pool) // size)][:size]
    return distillation_pool(pool, train_texts=pair.x_train, train_labels=pair.y_train,
                             held_out=held, fit=FAST_FIT, seed=seed)[0]


def _scored(pair: Pair, predicted: list[int]) -> dict[str, Any]:
    """Test metrics, with the predictions the report bootstraps margins from."""
    return classification_metrics(pair.y_test, predicted) | predictions(pair.y_test, predicted)


def train_and_score(profile: str, pair: Pair, *, seed: int, seconds: float,
                    accurate_epochs: int, teacher: TrainedSentiment | None,
                    transfer: list[str]) -> tuple[dict[str, Any], TrainedSentiment | None]:
    """Train one profile on the pair's source within ``seconds``; its scores on the target."""
    x, y = pair.x_train, pair.y_train
    if profile == "tfidf-lr":
        baseline = train_baseline(x, y, seed=seed)
        return _scored(pair, baseline.predict(pair.x_test).tolist()) | {"c": baseline.c}, None
    labelled: dict[str, int] = {}
    if profile == "fast":
        trained = train_fast(x, y, seed=seed, fit=replace(FAST_FIT, max_seconds=seconds))
    elif profile == "accurate":
        fit = replace(ACCURATE_FIT, max_seconds=seconds, max_epochs=accurate_epochs)
        trained = train_accurate(x, y, seed=seed, fit=fit)
    else:
        assert teacher is not None
        taught = distil_within_budget(teacher, x, y, transfer, seed=seed,
                                      fit=replace(FAST_FIT, max_seconds=seconds))
        trained, labelled = taught.student, {"transfer_labelled": len(taught.transfer)}
    scores = _scored(pair, evaluate_held_out(trained, pair.x_test, pair.y_test).predicted.tolist())
    kept = {k: v for k, v in trained.metrics.items()
            if k.startswith("val_") or k in ("train_seconds", "epochs_run", "best_epoch",
                                             "lexical_mix", "lexical_c")}
    return scores | kept | labelled, trained


def run_pair(pair: Pair, args: argparse.Namespace, deadline: float) -> list[dict[str, Any]]:
    """Every requested (seed, profile) on one pair, each saved as soon as it is measured; the
    accurate model of a seed teaches that seed's students (distilled, distilled-target)."""
    entries = []
    for seed in args.seeds:
        transfers = {profile: transfer_texts(pair, where, args.transfer, seed=seed)
                     for profile, where in TRANSFER_FROM.items() if profile in args.profiles}
        teacher, taught_by = None, None
        for profile in args.profiles:
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("time budget spent: %s %s seed %d not run", pair.name, profile, seed)
                continue
            if profile in TRANSFER_FROM and teacher is None:
                log.warning("%s %s seed %d needs the accurate profile in the same run",
                            profile, pair.name, seed)
                continue
            log.info("%s: %s seed %d on %d texts, scored on %d", pair.name, profile, seed,
                     len(pair.x_train), len(pair.x_test))
            start = time.perf_counter()
            scores, trained = train_and_score(
                profile, pair, seed=seed, seconds=min(left, args.minutes_per_model * 60),
                accurate_epochs=args.accurate_epochs, teacher=teacher,
                transfer=transfers.get(profile, []))
            entry = {"pair": pair.name, "n_train": len(pair.x_train), "profile": profile,
                     "seed": seed, "n_test": len(pair.x_test), **scores,
                     "wall_seconds": round(time.perf_counter() - start, 1)}
            if profile in TRANSFER_FROM:
                entry |= {"transfer_from": TRANSFER_FROM[profile],
                          "transfer_texts": len(transfers[profile]),
                          "teacher_macro_f1": taught_by}
            if profile == "accurate":
                teacher, taught_by = trained, entry["macro_f1"]
            entry["command"] = args.command
            entries.append(entry)
            save([entry], threads=args.threads)
            log.info("%s %s seed %d: macro-F1 %.4f, accuracy %.4f (%.0f s)", pair.name,
                     profile, seed, entry["macro_f1"], entry["accuracy"], entry["wall_seconds"])
    return entries


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", default=",".join(PAIRS))
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--max-train", type=int, default=None,
                        help="sample at most this many training texts (seed 0)")
    parser.add_argument("--minutes-per-model", type=float, default=5.0)
    parser.add_argument("--max-minutes", type=float, default=60.0, help="whole-run budget")
    parser.add_argument("--accurate-epochs", type=int, default=1)
    parser.add_argument("--transfer", default="all",
                        help="unlabelled texts for distillation: all (as the product), a number "
                        "N, or 0 (labelled texts only)")
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.transfer != "all" and not args.transfer.isdigit():
        parser.error(f"--transfer {args.transfer!r}: give all or a whole number")
    args.transfer = None if args.transfer == "all" else int(args.transfer)
    args.profiles = [p for p in PROFILES if p in args.profiles.split(",")]
    args.seeds = [int(s) for s in args.seeds.split(",")]
    pairs = [p for p in args.pairs.split(",") if p]
    unknown = {p for p in pairs if p not in PAIRS and not p.startswith("airline-")}
    if unknown:
        parser.error(f"unknown pairs {sorted(unknown)}; choose from {', '.join(PAIRS)}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)
    torch.set_num_threads(args.threads)
    deadline = time.monotonic() + args.max_minutes * 60
    args.command = "python -m bench.sentiment_transfer " + shlex.join(
        sys.argv[1:] if argv is None else argv)
    for name in pairs:
        for pair in build_pairs(name, args.data_dir):
            run_pair(prepared(pair, args.max_train), args, deadline)


def save(entries: list[dict[str, Any]], *, threads: int) -> None:
    """Merge these entries into the JSON (same pair, size, profile and seed replaced) and
    rewrite the table: one row per pair and training size."""
    path = common.RESULTS / "sentiment_transfer.json"
    common.RESULTS.mkdir(parents=True, exist_ok=True)
    # Runs of different pairs may go side by side; the merge must not lose one's entries.
    with (common.RESULTS / ".sentiment_transfer.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _merge(path, entries, threads=threads)


def _merge(path: Path, entries: list[dict[str, Any]], *, threads: int) -> None:
    key = ("pair", "n_train", "profile", "seed")
    old = json.loads(path.read_text())["runs"] if path.exists() else []
    merged = {tuple(e[k] for k in key): e for e in old}
    merged |= {tuple(e[k] for k in key): e for e in entries}
    runs = sorted(merged.values(), key=lambda e: tuple(str(e[k]) for k in key))
    rows = summarise(runs, margin=ACCURATE_MARGIN)
    protocol = __doc__.split("\n\n")[1].replace("\n", " ")
    result = {"protocol": protocol, "machine": common.machine(torch_threads=threads),
              "summary": rows, "runs": runs}
    common.write_results("sentiment_transfer", result,
                         markdown(rows, runs, protocol=protocol, margin=ACCURATE_MARGIN))


if __name__ == "__main__":
    main()

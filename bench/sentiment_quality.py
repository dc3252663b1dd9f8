"""Sentiment quality on fixed public protocols, every profile beside TF-IDF + LR in one run.

Protocols (DESIGN.md): Financial PhraseBank 50Agree and AllAgree, 80/20 stratified split with
seed 0 (FinBERT's protocol, Araci 2019); Twitter US Airline with tweet ids de-duplicated (first
row kept), 80/20 stratified, seed 0. The split stays seed 0 for every run; ``--seeds`` vary only
model training (initialisation, batch order, dropout and the validation carve, which comes from
the training portion: the test split is never used for model selection). Data are read with the
production adapters, so texts are what the store holds (tweets PII-redacted). Identical
PhraseBank sentences get one id from the adapter and are kept once (8 in 50Agree), so no
sentence sits in both train and test.

Distillation (Hinton et al. 2015) trains the fast model on the accurate model's soft targets for
the training texts plus ``--transfer`` unlabelled in-domain texts (financial headlines for
PhraseBank, inbound @SpotifyCares support tweets for the airline set; exact copies of test texts
removed) and up to 10 augmented copies of each text the student trains on, as in the product
(``models.sentiment.train.distillation_pool``). Distillation is the product's recipe
(``models.sentiment.distil.distil_within_budget``): within the run's budget (``--run-minutes``)
the teacher's int8 copy labels transfer texts for its share of the time and the student trains
in the rest, so the distilled profiles need the accurate one in the same run (same seed).

Results accumulate: a run replaces only the (dataset, profile, seed) entries it measured, so the
bench can be run piece by piece within a time budget.

    python -m bench.sentiment_quality [--datasets phrasebank-50,phrasebank-all,airline]
        [--profiles tfidf-lr,fast,accurate,distilled] [--seeds 0,1,2] [--transfer all]
        [--accurate-epochs 2] [--probe-epochs 2]
        [--data-dir ../shared/data] [--max-minutes 60] [--run-minutes 4] [--threads 1]

Writes bench/results/sentiment_quality.json and .md. ``--protocol cross-domain`` runs the
generalisation protocol instead (train on one source, score another: PhraseBank <-> SEntFiN,
airline tweets with one airline held out), with the options of ``bench.sentiment_transfer``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from bench import common, sentiment_transfer
from bench.datasets import (
    Labelled,
    load_airline,
    load_headlines,
    load_phrasebank,
    load_support_tweets,
)
from models.sentiment.baseline import train_baseline
from models.sentiment.data import label_ids, stratified_split
from models.sentiment.distil import distil_within_budget
from models.sentiment.evaluate import classification_metrics, evaluate_texts
from models.sentiment.predict import TrainedSentiment, quantized
from models.sentiment.train import (
    ACCURATE_FIT,
    ACCURATE_PROBE,
    FAST_FIT,
    FitConfig,
    distillation_pool,
    train_accurate,
    train_fast,
)

DATASETS = ("phrasebank-50", "phrasebank-all", "airline")
PROFILES = ("tfidf-lr", "fast", "accurate", "distilled", "distilled-minilm")
# distilled: the student with its own tokenizer; distilled-minilm: with MiniLM's WordPiece
# vocabulary and PCA-projected MiniLM word embeddings (models.sentiment.distil)
LOADERS: dict[str, Callable[[Path], Labelled]] = {
    "phrasebank-50": lambda d: load_phrasebank(d, "50"),
    "phrasebank-all": lambda d: load_phrasebank(d, "All"),
    "airline": load_airline,
}
# Unlabelled in-domain texts the teacher labels for distillation (Tang et al. 2019 show the
# student gains most from such a transfer set); exact copies of test texts are removed.
TRANSFER: dict[str, Callable[[Path], list[str]]] = {
    "phrasebank-50": load_headlines, "phrasebank-all": load_headlines,
    "airline": load_support_tweets,
}


def transfer_set(dataset: str, data_dir: Path, held_out: list[str], size: int | None,
                 x_train: Sequence[str], y_train: Sequence[int], seed: int) -> list[str]:
    """Up to ``size`` (None: all) of the dataset's unlabelled texts, spread over the pool, and
    augmented copies of the texts the student of ``seed`` trains on, none equal to a held-out
    or training text, shuffled with ``seed``: the product's transfer set
    (``models.sentiment.train.distillation_pool``), so a teacher cut short labels a uniform
    sample."""
    if size is not None and size <= 0:
        return []
    pool = TRANSFER[dataset](data_dir)
    if size is not None:
        pool = list(dict.fromkeys(t for t in pool if t.strip()))
        pool = pool[::max(1, len(pool) // size)][:size]
    return distillation_pool(pool, train_texts=x_train, train_labels=y_train,
                             held_out=held_out, fit=FAST_FIT, seed=seed)[0]


def _budget(fit: FitConfig, seconds: float) -> FitConfig:
    return dataclasses.replace(fit, max_seconds=seconds)


def run_dataset(dataset: str, args: argparse.Namespace, deadline: float,
                runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Every requested (seed, profile) of one dataset; appends one entry per run to ``runs``."""
    texts, names = LOADERS[dataset](args.data_dir)
    labels = label_ids(names)
    train_rows, test_rows = stratified_split(labels, test_fraction=0.2, seed=0)
    x_train, y_train = [texts[i] for i in train_rows], [labels[i] for i in train_rows]
    x_test, y_test = [texts[i] for i in test_rows], [labels[i] for i in test_rows]
    info = {"n": len(texts), "n_train": len(x_train), "n_test": len(x_test),
            "labels": {n: names.count(n) for n in sorted(set(names))}}
    needs_transfer = {"distilled", "distilled-minilm"} & set(args.profiles)  # the teacher
    # labels them within the distilled run's budget; the accurate run never reads them
    for seed in args.seeds:
        transfer = transfer_set(dataset, args.data_dir, x_test, args.transfer, x_train,
                                y_train, seed) if needs_transfer else []
        if needs_transfer:
            info[f"n_transfer_seed{seed}"] = len(transfer)
        teacher: TrainedSentiment | None = None
        for profile in args.profiles:
            left = min(deadline - time.monotonic(), args.run_minutes * 60)
            if left <= 0:
                logging.warning("time budget spent: %s %s seed %d not run", dataset, profile,
                                seed)
                continue
            start = time.perf_counter()
            entry: dict[str, Any] = {"dataset": dataset, "profile": profile, "seed": seed}
            if profile == "accurate":
                entry |= {"passes": args.accurate_epochs, "probe_passes": args.probe_epochs}
            if profile in ("distilled", "distilled-minilm"):
                entry["transfer_texts"] = len(transfer)
            if profile == "tfidf-lr":
                baseline = train_baseline(x_train, y_train, seed=seed)
                entry |= classification_metrics(y_test, baseline.predict(x_test).tolist())
                entry["c"] = baseline.c
            elif profile == "fast":
                fast = train_fast(x_train, y_train, seed=seed, fit=_budget(FAST_FIT, left))
                entry |= evaluate_texts(fast, x_test, y_test) | fast.metrics
            elif profile == "accurate":
                fit = dataclasses.replace(ACCURATE_FIT, max_seconds=left,
                                          max_epochs=args.accurate_epochs)
                probe = dataclasses.replace(ACCURATE_PROBE, max_epochs=args.probe_epochs)
                teacher = train_accurate(x_train, y_train, seed=seed, fit=fit, probe=probe)
                entry |= evaluate_texts(teacher, x_test, y_test) | teacher.metrics
                int8 = evaluate_texts(quantized(teacher), x_test, y_test)  # the CPU setting
                entry |= {f"int8_{name}": value for name, value in int8.items()}
            elif teacher is None:
                logging.warning("%s %s seed %d needs the accurate profile in the same run",
                                profile, dataset, seed)
                continue
            else:  # the product's recipe: the teacher labels for its share of the budget
                taught = distil_within_budget(
                    teacher, x_train, y_train, transfer, seed=seed, fit=_budget(FAST_FIT, left),
                    vocabulary="minilm" if profile == "distilled-minilm" else "own")
                entry["transfer_labelled"] = len(taught.transfer)
                entry |= evaluate_texts(taught.student, x_test, y_test) | taught.student.metrics
            entry["wall_seconds"] = round(time.perf_counter() - start, 1)
            runs.append(entry)
            print(f"{dataset:15s} {profile:10s} seed {seed}: acc {entry['accuracy']:.4f} "
                  f"macro-F1 {entry['macro_f1']:.4f} ({entry['wall_seconds']:.0f}s)", flush=True)
    return info


# (profile, dataset) -> minimum accuracy, minimum macro-F1 (or None), literature anchor.
# The fast goals hold for the fast model trained alone and for the distilled one.
GOALS: dict[tuple[str, str], tuple[float, float | None, str]] = {
    ("accurate", "phrasebank-50"): (0.87, 0.85, "FinBERT 0.86 acc / 0.84 F1"),
    ("accurate", "phrasebank-all"): (0.975, None, "FinBERT 0.97"),
    ("accurate", "airline"): (0.87, None, "fine-tuned RoBERTa 0.846-0.869"),
    ("fast", "phrasebank-50"): (0.84, None, "ULMFit 0.83; TF-IDF+LR 0.79 / 0.74"),
    ("fast", "phrasebank-all"): (0.95, None, "TF-IDF+LR 0.89"),
    ("fast", "airline"): (0.83, None, "TF-IDF+LR 0.81-0.82"),
}


def _spread(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None for a single seed)."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and spread over seeds per (dataset, profile), with the goal verdict."""
    rows = []
    for dataset in DATASETS:
        for profile in PROFILES:
            mine = [r for r in runs if r["dataset"] == dataset and r["profile"] == profile]
            if not mine:
                continue
            acc, acc_sd = _spread([r["accuracy"] for r in mine])
            f1, f1_sd = _spread([r["macro_f1"] for r in mine])
            row: dict[str, Any] = {
                "dataset": dataset, "profile": profile, "seeds": sorted(r["seed"] for r in mine),
                "accuracy": acc, "accuracy_std": acc_sd, "macro_f1": f1, "macro_f1_std": f1_sd,
                "seconds_per_epoch": _mean_of(mine, "seconds_per_epoch"),
                "train_seconds": _mean_of(mine, "train_seconds"),
                "int8_accuracy": _mean_of(mine, "int8_accuracy"),
                "int8_macro_f1": _mean_of(mine, "int8_macro_f1")}
            goal = GOALS.get(("fast" if profile.startswith("distilled") else profile, dataset))
            if goal:
                row |= {"goal_accuracy": goal[0], "goal_macro_f1": goal[1], "anchor": goal[2],
                        "meets_goal": acc >= goal[0] and (goal[1] is None or f1 >= goal[1])}
            rows.append(row)
    return rows


def _mean_of(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return statistics.fmean(values) if values else None


def _cell(mean: float, sd: float | None) -> str:
    return f"{mean:.4f}" + (f" ± {sd:.4f}" if sd is not None else "")


def _commands(runs: list[dict[str, Any]]) -> list[str]:
    """The command that measured each row (results accumulate over several runs)."""
    rows: dict[str, list[str]] = {}
    for run in runs:
        rows.setdefault(run.get("command", "(earlier runs, command not recorded)"), []).append(
            f"{run['dataset']} {run['profile']} seed {run['seed']}")
    return [f"- `{command}`: {', '.join(measured)}" for command, measured in rows.items()]


def save(runs: list[dict[str, Any]], infos: dict[str, Any], *, threads: int) -> None:
    """Merge these runs into the JSON (replacing the same dataset/profile/seed) and the table."""
    path = common.RESULTS / "sentiment_quality.json"
    old = json.loads(path.read_text()) if path.exists() else {"runs": [], "datasets": {}}
    command = " ".join(["python -m bench.sentiment_quality", *sys.argv[1:]])
    for run in runs:
        run["command"] = command
    merged = {(r["dataset"], r["profile"], r["seed"]): r for r in old["runs"]}
    merged |= {(r["dataset"], r["profile"], r["seed"]): r for r in runs}
    all_runs = sorted(merged.values(), key=lambda r: (r["dataset"], r["profile"], r["seed"]))
    summary = summarise(all_runs)
    result = {
        "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
        "machine": common.machine(torch_threads=threads),
        "datasets": old["datasets"] | {name: old["datasets"].get(name, {}) | info
                                       for name, info in infos.items()},
        "summary": summary, "runs": all_runs}
    lines = ["# Sentiment quality", "", *_commands(all_runs), "", result["protocol"], "",
             f"Training on CPU, {threads} torch thread(s). Mean ± sample std over the seeds "
             "listed (no ± with one seed). Test split: 20% stratified, seed 0.", "",
             "| dataset | profile | seeds | accuracy | macro-F1 | goal (acc) | met | anchor |",
             "|---|---|---|---|---|---|---|---|"]
    for row in summary:
        goal = row.get("goal_accuracy")
        goal_text = "" if goal is None else f">= {goal}" + (
            f", F1 >= {row['goal_macro_f1']}" if row.get("goal_macro_f1") else "")
        met = "" if goal is None else ("yes" if row["meets_goal"] else "**no**")
        lines.append(f"| {row['dataset']} | {row['profile']} | {len(row['seeds'])} | "
                     f"{_cell(row['accuracy'], row['accuracy_std'])} | "
                     f"{_cell(row['macro_f1'], row['macro_f1_std'])} | {goal_text} | {met} | "
                     f"{row.get('anchor', '')} |")
    lines += ["", "Distillation vs the fast model alone, same seeds (accuracy / macro-F1):", ""]
    for dataset in DATASETS:
        by_seed = {(r["profile"], r["seed"]): r for r in all_runs if r["dataset"] == dataset}
        seeds = sorted(s for p, s in by_seed if p == "distilled" and ("fast", s) in by_seed)
        if seeds:
            gain = [statistics.fmean(by_seed["distilled", s][k] - by_seed["fast", s][k]
                                     for s in seeds) for k in ("accuracy", "macro_f1")]
            lines.append(f"- {dataset}: {gain[0]:+.4f} / {gain[1]:+.4f} (seeds {seeds})")
    lines += ["", "Accurate profile after int8 dynamic quantisation (its CPU inference setting), "
              "accuracy / macro-F1:", ""]
    lines += [f"- {r['dataset']}: {r['int8_accuracy']:.4f} / {r['int8_macro_f1']:.4f}"
              for r in summary if r["profile"] == "accurate" and r["int8_accuracy"] is not None]
    common.write_results("sentiment_quality", result, "\n".join(lines))


def main() -> None:
    head = argparse.ArgumentParser(add_help=False)
    head.add_argument("--protocol", choices=("in-domain", "cross-domain"), default="in-domain",
                      help="cross-domain: bench.sentiment_transfer, with its own options")
    known, rest = head.parse_known_args()
    if known.protocol == "cross-domain":
        sentiment_transfer.main(rest)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], parents=[head])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--transfer", default="all",
                        help="unlabelled in-domain texts for distillation: all, or a number "
                        "(0: labelled only)")
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--max-minutes", type=float, default=60.0)
    parser.add_argument("--run-minutes", type=float, default=float("inf"),
                        help="time budget of each training run (within --max-minutes)")
    parser.add_argument("--accurate-epochs", type=int, default=ACCURATE_FIT.max_epochs)
    parser.add_argument("--probe-epochs", type=int, default=ACCURATE_PROBE.max_epochs)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the markdown from the saved JSON")
    args = parser.parse_args()
    args.datasets = [d for d in args.datasets.split(",") if d]
    args.profiles = [p for p in PROFILES if p in args.profiles.split(",")]
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.transfer = None if args.transfer == "all" else int(args.transfer)
    unknown = set(args.datasets) - set(DATASETS)
    if unknown:
        parser.error(f"unknown datasets {sorted(unknown)}; choose from {', '.join(DATASETS)}")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("models").setLevel(logging.INFO)  # per-epoch validation progress
    torch.set_num_threads(args.threads)
    deadline = time.monotonic() + args.max_minutes * 60
    runs: list[dict[str, Any]] = []
    infos = {} if args.render else {d: run_dataset(d, args, deadline, runs)
                                     for d in args.datasets}
    save(runs, infos, threads=args.threads)


if __name__ == "__main__":
    main()

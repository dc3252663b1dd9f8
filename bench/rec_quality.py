"""Next-item recommendation quality: SASRec (full softmax) beside MostPop, recent popularity,
item-kNN and EASE, all on the same leave-one-out split, ranked over the full catalogue.

Protocol (DESIGN.md; SASRec, Kang & McAuley 2018): per user, last item = test, second-to-last =
validation, rest = training; every item ranked, history items masked; HR@10, NDCG@10,
coverage@10. Baseline settings and SASRec's stopping epoch are chosen on validation only.

    python bench/rec_quality.py [--datasets ml-1m,beauty] [--max-minutes 15] [--threads 1]
                                [--data-dir ../shared/data]

Writes bench/results/rec_quality.json and bench/results/rec_quality.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl
import torch

from domain.adapters.events import parse_events
from domain.sequences import (
    LeaveOneOutSplit,
    Sequences,
    leave_one_out,
    load_sequence_file,
    sequences_from_events,
)
from flows.recommend import DEFAULT_KINDS
from models.rec_baselines import EASE, ItemKNN, MostPop, RecentPop
from models.rec_eval import RankingReport, Scorer, evaluate_split
from models.rec_recipes import recipe_for
from models.rec_train import SASRecScorer, train_sasrec
from models.sasrec import SASRecConfig
from models.training import TrainConfig

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
K = 10


@dataclass(frozen=True)
class Dataset:
    """Where a dataset lives and what is published on it. SASRec's settings come from
    ``models.rec_recipes`` (the data's history lengths), as in ``sentrec train recommender``."""

    path: str
    sources: str
    anchors: list[str] = field(default_factory=list)


DATASETS: dict[str, Dataset] = {
    "ml-1m": Dataset(
        path="ml_1m_seq/ml-1m.txt",
        sources="SASRec ML-1M file (6,040 users, 3,416 items, 999,611 interactions)",
        anchors=[
            "original SASRec (BCE, 1 negative): NDCG@10 0.126-0.134, HR@10 0.24-0.25 "
            "(gSASRec README checkpoint 0.1259 / 0.2392)",
            "gSASRec (Petrov & Macdonald, RecSys 2023): NDCG@10 0.173, HR@10 0.300",
            "SASRec+ full softmax (Klenitskiy & Vasilev, RecSys 2023): NDCG@10 0.186, "
            "HR@10 0.316",
            "HSTU-large (Zhai et al., ICML 2024): NDCG@10 0.189, HR@10 0.329",
        ],
    ),
    "beauty": Dataset(
        path="amazon_seq/Beauty.txt",
        sources="Amazon Beauty, S3-Rec/ICLRec 5-core file (22,363 users, 12,101 items)",
        anchors=["ICLRec's released checkpoint (not SASRec; ICLRec README): NDCG@10 0.0403, "
                 "HR@10 0.0744"],
    ),
    "ml-100k": Dataset(
        path="movielens_100k/u.data",
        sources="MovieLens-100k u.data through the events adapter (943 users, 1,682 items), "
                "ordered by timestamp then file row",
    ),
    "uci-retail": Dataset(
        path="uci_online_retail/online_retail.csv.gz",
        sources="UCI Online Retail through the events adapter: purchases of 4,335 customers "
                "and 3,659 products (returns, lines without a customer and non-products left "
                "out; lines of one invoice share a time and keep file order)",
    ),
}


def load(name: str, data_dir: Path) -> Sequences:
    """Sequences of a dataset. Files with real clocks go through the events adapter, as
    ``sentrec ingest events`` reads them: rejects dropped, repeated event ids kept once, the
    kinds ``sentrec train recommender`` uses by default (returns left out)."""
    path = data_dir / DATASETS[name].path
    if name in ("ml-1m", "beauty"):
        return load_sequence_file(path)
    events = parse_events(path).records.unique("event_id", keep="first", maintain_order=True)
    return sequences_from_events(events.filter(pl.col("kind").is_in(DEFAULT_KINDS)))


def _report(report: RankingReport) -> dict[str, float | None]:
    return {"hr": report.hit_rate, "ndcg": report.ndcg, "coverage": report.coverage}


def run_baseline(split: LeaveOneOutSplit, name: str,
                 grid: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Fit each setting, keep the best on validation NDCG@10, report its test figures."""
    best: dict[str, Any] = {}
    start = time.perf_counter()
    for params, make in grid.items():
        fit_start = time.perf_counter()
        model = make().fit(split.train, split.n_items)
        fit_seconds = time.perf_counter() - fit_start
        valid = evaluate_split(model.score, split, "valid", k=K, with_coverage=False)
        logging.info("%s %s: valid NDCG@10 %.4f (fit %.1fs)", name, params, valid.ndcg,
                     fit_seconds)
        if not best or valid.ndcg > best["valid"]["ndcg"]:
            best = {"model": name, "params": params, "valid": _report(valid),
                    "fit_seconds": fit_seconds, "scorer": model.score}
    scorer: Scorer = best.pop("scorer")
    best["test"] = _report(evaluate_split(scorer, split, "test", k=K))
    best["tuning_seconds"] = time.perf_counter() - start
    return best


def run_sasrec(split: LeaveOneOutSplit, max_minutes: float, seed: int,
               bf16_loss: bool, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train SASRec within the budget, early-stopping on validation NDCG@10.

    ``overrides`` replace the recipe's model settings (for trying a shape on validation).
    """
    recipe = recipe_for(split)
    model_config = SASRecConfig(n_items=split.n_items, **(recipe.model | (overrides or {})))
    train_config = TrainConfig(max_epochs=1000, max_seconds=max_minutes * 60, seed=seed,
                               **recipe.train)
    model, result = train_sasrec(split, model_config, train_config,
                                 batch_size=recipe.batch_size, bf16_matmul=bf16_loss)
    scorer = SASRecScorer(model)
    return {
        "model": "SASRec (full softmax)", "params": asdict(model_config) | {
            "batch_size": recipe.batch_size, "loss_matmul": "bf16" if bf16_loss else "fp32",
            "regime": recipe.regime, **recipe.train},
        "valid": _report(evaluate_split(scorer, split, "valid", k=K)),
        "test": _report(evaluate_split(scorer, split, "test", k=K)),
        "train_seconds_total": result.seconds_total,
        "seconds_per_epoch": result.seconds_per_epoch,
        "seconds_to_best": result.seconds_to_best,
        "epochs_run": result.epochs_run, "best_epoch": result.best_epoch,
        "stop_reason": result.stop_reason,
        "history": [(log.epoch, round(log.loss, 4), log.metric) for log in result.history],
    }


def baseline_grids() -> dict[str, dict[str, Callable[[], Any]]]:
    """Small validation grids around each method's usual setting."""
    return {
        "MostPop": {"-": MostPop},
        "RecentPop": {f"fraction={f}": partial(RecentPop, f) for f in (0.05, 0.2)},
        "ItemKNN": {f"k={k}": partial(ItemKNN, k) for k in (50, 200)},
        "EASE": {f"lambda={x:g}": partial(EASE, x) for x in (10.0, 50.0, 200.0, 1000.0)},
    }


def markdown(results: dict[str, Any]) -> str:
    """One table per dataset, with the published anchors under it."""
    lines = ["# Next-item recommendation quality (full ranking, leave-one-out)", "",
             "Test figures. Baselines are tuned and SASRec early-stopped on validation "
             "NDCG@10. SASRec's train total includes its validation runs; s/epoch excludes "
             "them. Produced by `python bench/rec_quality.py`.", ""]
    for name, block in results["datasets"].items():
        lines += [f"## {name}: {block['source']}", ""]
        if "run" in block:
            run = block["run"]
            lines += [f"Run {run['finished']}: {run['machine']}, torch threads "
                      f"{run['threads']}, SASRec budget {run['max_minutes']} min, loss matmul "
                      f"{run['loss_precision']}; load average {run['load_start']:.1f} at start, "
                      f"{run['load_end']:.1f} at end (the 2 cores are shared).", ""]
        lines += ["| model | HR@10 | NDCG@10 | coverage@10 | train total s | s/epoch "
                  "| s to best | setting |", "|---|---:|---:|---:|---:|---:|---:|---|"]
        for row in block["models"]:
            test = row["test"]
            if "seconds_per_epoch" in row:
                times = (f"{row['train_seconds_total']:.0f} | {row['seconds_per_epoch']:.1f} | "
                         f"{row['seconds_to_best']:.0f}")
                setting = (f"{row['epochs_run']} epochs, best {row['best_epoch']} "
                           f"({row['stop_reason']})")
            else:
                times = f"{row['fit_seconds']:.1f} (fit) | - | -"
                setting = row["params"]
            lines.append(f"| {row['model']} | {test['hr']:.4f} | {test['ndcg']:.4f} | "
                         f"{test['coverage']:.3f} | {times} | {setting} |")
        anchors = DATASETS[block.get("dataset", name)].anchors
        if anchors:
            lines += ["", "Published full-ranking anchors on the same file:", ""]
            lines += [f"- {anchor}" for anchor in anchors]
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="ml-1m,beauty",
                        help=f"comma-separated, from {', '.join(DATASETS)}")
    parser.add_argument("--max-minutes", type=float, default=15.0,
                        help="SASRec training budget per dataset (minutes)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads; on a shared 2-core machine 2 threads made steps "
                        "10-60x slower whenever another process held a core (OpenMP barriers)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss-precision", choices=("bf16", "fp32"), default="bf16",
                        help="inputs of the full-softmax matrix products on CPU (softmax is "
                        "always fp32); bf16 is ~4x faster on AVX512-BF16 CPUs")
    parser.add_argument("--validation-users", type=int, default=None,
                        help="validate on this many users only; the others' second-to-last "
                        "items join the training data of every model (default: all users "
                        "validate and no model trains on a validation item)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override one SASRec model setting of the recipe, e.g. "
                        "d_model=128 (repeatable); the run is stored under its own name")
    parser.add_argument("--data-dir", type=Path, default=REPO / ".." / "shared" / "data")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.set_num_threads(args.threads)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in SASRecConfig.__dataclass_fields__ or key == "n_items" or not value:
            parser.error(f"--set {item!r}: expected NAME=VALUE with NAME a SASRec setting")
        overrides[key] = float(value) if "." in value else int(value)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {unknown}; choose from {list(DATASETS)}")
    # Datasets not run this time keep their last figures, so one can be refreshed alone.
    out = RESULTS / "rec_quality.json"
    results: dict[str, Any] = {"k": K, "datasets": {}}
    if out.exists():
        results["datasets"] = json.loads(out.read_text()).get("datasets", {})
    for name in names:
        load_start = os.getloadavg()[0]
        seqs = load(name, args.data_dir.resolve())
        split = leave_one_out(seqs, validation_users=args.validation_users)
        print(f"{name}: {len(seqs.user_ids)} users, {seqs.n_items} items, "
              f"{seqs.n_interactions} interactions, {len(split.users)} evaluated")
        rows = [run_baseline(split, model, grid)
                for model, grid in baseline_grids().items()]
        rows.append(run_sasrec(split, args.max_minutes, args.seed,
                               args.loss_precision == "bf16", overrides))
        for row in rows:
            print(f"  {row['model']:<24} test HR@10 {row['test']['hr']:.4f} "
                  f"NDCG@10 {row['test']['ndcg']:.4f} cov {row['test']['coverage']:.3f}")
        run = {"finished": time.strftime("%Y-%m-%d %H:%M"), "threads": args.threads,
               "machine": f"{platform.machine()}, torch {torch.__version__}",
               "max_minutes": args.max_minutes, "loss_precision": args.loss_precision,
               "seed": args.seed, "load_start": load_start, "load_end": os.getloadavg()[0]}
        key, source = name, DATASETS[name].sources
        if overrides:
            key += ", " + ", ".join(f"{k}={v}" for k, v in overrides.items())
            source += f"; SASRec settings changed from the recipe: {overrides}"
        if args.validation_users is not None:
            key += f", validation on {args.validation_users:,} users"
            source += (f"; validation on {args.validation_users:,} users, the other users' "
                       "second-to-last items in every model's training data")
        results["datasets"][key] = {"dataset": name, "source": source, "run": run,
                                     "models": rows}
        RESULTS.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=2))
        (RESULTS / "rec_quality.md").write_text(markdown(results))


if __name__ == "__main__":
    main()

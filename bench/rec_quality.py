"""Next-item recommendation quality: SASRec (full softmax) beside MostPop, recent popularity,
item-kNN and EASE, all on the same leave-one-out split, ranked over the full catalogue.

Protocol (DESIGN.md; SASRec, Kang & McAuley 2018): per user, last item = test, second-to-last =
validation, rest = training; every item ranked, history items masked; HR@10, NDCG@10,
coverage@10. Baseline settings and SASRec's stopping epoch are chosen on validation only.

    python -m bench.rec_quality [--datasets ml-1m,beauty] [--max-minutes 15] [--threads 1]
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
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import torch

from bench.common import RESULTS, default_data_dir, write_results
from bench.datasets import SEQUENCE_DATASETS as DATASETS
from bench.datasets import load_sequences
from domain.sequences import LeaveOneOutSplit, leave_one_out
from models.recommender.baselines import EASE, ItemKNN, MostPop, RecentPop
from models.recommender.evaluate import RankingReport, SASRecScorer, Scorer, evaluate_split
from models.recommender.sasrec import SASRecConfig
from models.recommender.train import train_with_recipe

K = 10


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
    run = train_with_recipe(split, max_seconds=max_minutes * 60, seed=seed,
                            bf16_matmul=bf16_loss, overrides=overrides)
    scorer, result = SASRecScorer(run.model), run.result
    return {
        "model": "SASRec (full softmax)", "params": asdict(run.config) | {
            "loss_matmul": "bf16" if bf16_loss else "fp32", **run.recipe.training_params()},
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
             "them. Produced by `python -m bench.rec_quality`.", ""]
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
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
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
        seqs = load_sequences(name, args.data_dir.resolve())
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
        write_results("rec_quality", results, markdown(results))


if __name__ == "__main__":
    main()

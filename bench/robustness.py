"""Robustness of the sentiment models to small changes (CheckList, Ribeiro et al. 2020).

On each dataset's test split (``bench.sentiment_models``: the fixed 80/20 split, models trained
within a budget and cached), every invariance perturbation of ``bench.perturbations`` (typos,
upper case, a neutral emoji, a URL, an @mention, a company swap) is applied to every test text
it fits; the table gives, on those texts, the accuracy before and after and the share of
predictions that flip. The gold label stays the label: none of these changes the sentiment.
Negation is a direction test: on the positive and negative test texts with an auxiliary verb
to negate, the share whose probability of their own class went down when "not" was inserted
(higher is better; the label of a negated sentence is not known, so no accuracy). TF-IDF + LR
runs beside the fast and accurate profiles on the same texts. Models score through the
product path (``score_texts``). ``--n`` caps the test texts (a seeded sample) when the
accurate profile is too slow for the whole split on the machine at hand; TF-IDF + LR always
runs on the same texts. Results accumulate by (dataset, model, test texts), so the bench can
be run piece by piece.

    python -m bench.robustness [--datasets phrasebank-50,airline] [--profiles fast,accurate]
        [--n 100000] [--fast-minutes 3] [--accurate-minutes 6] [--threads 2]
        [--cache-dir /tmp/sentrec-sentiment-probe] [--data-dir ../shared/data]

Writes bench/results/robustness.json and .md.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench import common
from bench.perturbations import INVARIANT, Perturbation, negate
from bench.sentiment_models import (
    LOADERS,
    PROFILES,
    Split,
    baseline_model,
    load_split,
    merge_results,
    sample,
    trained_model,
)
from models.sentiment.predict import score_texts

Predict = Callable[[Sequence[str]], np.ndarray]  # texts -> probabilities (N, 3)


def perturbed(texts: list[str], perturbation: Perturbation, *, seed: int
              ) -> tuple[list[int], list[str]]:
    """Indices of the texts the perturbation fits, and their perturbed forms."""
    rng = random.Random(seed)
    rows, out = [], []
    for i, text in enumerate(texts):
        changed = perturbation(text, rng)
        if changed is not None and changed != text:
            rows.append(i)
            out.append(changed)
    return rows, out


def invariance(predict: Predict, split: Split, *, seed: int) -> dict[str, dict[str, Any]]:
    """Accuracy before and after, and the flip share, for every invariance perturbation."""
    gold = np.array(split.y_test)
    before = predict(split.x_test).argmax(1)
    found: dict[str, dict[str, Any]] = {}
    for name, perturbation in INVARIANT.items():
        rows, texts = perturbed(split.x_test, perturbation, seed=seed)
        if not rows:
            found[name] = {"n": 0}
            continue
        after = predict(texts).argmax(1)
        was = before[rows]
        found[name] = {"n": len(rows),
                       "accuracy_before": round(float(np.mean(was == gold[rows])), 4),
                       "accuracy_after": round(float(np.mean(after == gold[rows])), 4),
                       "flipped": round(float(np.mean(after != was)), 4)}
    return found


def negation(predict: Predict, split: Split, *, seed: int) -> dict[str, Any]:
    """On polar test texts that can be negated: the share whose own-class probability fell."""
    polar = [i for i, y in enumerate(split.y_test) if y != 1]
    rows, texts = perturbed([split.x_test[i] for i in polar], negate, seed=seed)
    if not rows:
        return {"n": 0}
    label = np.array([split.y_test[polar[r]] for r in rows])
    before = predict([split.x_test[polar[r]] for r in rows])[np.arange(len(rows)), label]
    after = predict(texts)[np.arange(len(rows)), label]
    return {"n": len(rows), "own_class_fell": round(float(np.mean(after < before)), 4),
            "mean_change": round(float(np.mean(after - before)), 4)}


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    """One table of invariance (accuracy before -> after, flips) and one of negation."""
    lines = [
        "# Sentiment robustness (CheckList, Ribeiro et al. 2020)", "",
        f"`python -m bench.robustness --n {args.n} --fast-minutes {args.fast_minutes:g} "
        f"--accurate-minutes {args.accurate_minutes:g} --threads {args.threads}` (the rows "
        "may come from runs of one dataset or profile at a time; n per row)", "",
        "Invariance: accuracy on the texts a perturbation fits, before -> after, and the share "
        "of predictions that flip (lower is better).", "",
        "| dataset | test texts | model | perturbation | n | accuracy before | after | change "
        "| flipped |", "|---|---|---|---|---|---|---|---|---|"]
    for entry in results:
        head = f"| {entry['dataset']} | {entry['n_test']} | {entry['model']}"
        for name, row in entry["invariance"].items():
            if row["n"] == 0:
                lines.append(f"{head} | {name} | 0 | | | | |")
                continue
            lines.append(
                f"{head} | {name} | {row['n']} | "
                f"{row['accuracy_before']:.3f} | {row['accuracy_after']:.3f} | "
                f"{row['accuracy_after'] - row['accuracy_before']:+.3f} | {row['flipped']:.1%} |")
    lines += ["", "Negation (direction): positive and negative test texts with an auxiliary "
              "verb, \"not\" inserted after it; the share whose own-class probability fell "
              "(higher is better) and the mean change of that probability.", "",
              "| dataset | test texts | model | n | own class fell | mean change |",
              "|---|---|---|---|---|---|"]
    for entry in results:
        row = entry["negation"]
        lines.append(f"| {entry['dataset']} | {entry['n_test']} | {entry['model']} | {row['n']} | "
                     f"{row.get('own_class_fell', float('nan')):.1%} | "
                     f"{row.get('mean_change', float('nan')):+.3f} |")
    lines += ["", "Models:", ""]
    lines += [f"- {e['dataset']} {e['model']}: " + (
        f"{e['info'].get('recipe', 'from scratch')}, {e['info']['train_seconds']:.0f} s on "
        f"{e['info']['n_train']} texts"
        if e["info"] else "TF-IDF + LR, C by cross-validation") for e in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(LOADERS))
    parser.add_argument("--profiles", default=",".join(PROFILES))
    parser.add_argument("--n", type=int, default=100_000, help="test texts per dataset")
    parser.add_argument("--fast-minutes", type=float, default=3.0)
    parser.add_argument("--accurate-minutes", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=Path("/tmp/sentrec-sentiment-probe"))
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    args = parser.parse_args()
    args.datasets = [d for d in args.datasets.split(",") if d in LOADERS]
    args.profiles = [p for p in args.profiles.split(",") if p in PROFILES]
    torch.set_num_threads(args.threads)
    results = []
    for dataset in args.datasets:
        split = load_split(dataset, args.data_dir)
        split = Split(split.x_train, split.y_train, *sample(split.x_test, split.y_test, args.n))
        baseline = baseline_model(split)
        models: list[tuple[str, Predict, dict[str, Any] | None]] = [
            ("tfidf-lr", lambda t, b=baseline: b.predict_proba(list(t)), None)]
        for profile in args.profiles:
            minutes = args.fast_minutes if profile == "fast" else args.accurate_minutes
            trained, info = trained_model(dataset, profile, split, minutes=minutes, seed=0,
                                          cache=args.cache_dir)
            models.append((profile, lambda t, m=trained: score_texts(m, t, top_k=0).probs,
                           info))
        for name, predict, info in models:
            entry = {"dataset": dataset, "model": name, "info": info,
                     "n_test": len(split.x_test),
                     "invariance": invariance(predict, split, seed=0),
                     "negation": negation(predict, split, seed=0)}
            results.append(entry)
            print(dataset, name, {k: v.get("flipped") for k, v in entry["invariance"].items()},
                  entry["negation"], flush=True)
    results = merge_results(common.RESULTS / "robustness.json", results,
                            ("dataset", "model", "n_test"))
    common.write_results("robustness", {"machine": common.machine(threads=args.threads),
                                        "results": results}, render(results, args))


if __name__ == "__main__":
    main()

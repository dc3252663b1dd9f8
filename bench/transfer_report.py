"""The table of ``bench.sentiment_transfer``: one row per pair and training size, macro-F1 and
accuracy per profile (means over seeds), each model's margin over TF-IDF + LR trained on the
same texts, and whether the issue-13 goals are met."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from domain.bootstrap import MarginInterval, macro_f1, paired_bootstrap
from domain.records import SENTIMENT_LABELS

MODELS = ("fast", "accurate", "distilled", "distilled-target")
COLUMNS = {"tfidf-lr": "TF-IDF + LR", "fast": "fast", "accurate": "accurate",
           "distilled": "distilled", "distilled-target": "distilled on the target's texts"}
RESAMPLES = 1000  # of the test documents, for each margin's interval
LEVEL = 0.95


def _mean(runs: list[dict[str, Any]], profile: str, key: str) -> float | None:
    values = [r[key] for r in runs if r["profile"] == profile]
    return statistics.fmean(values) if values else None


def predictions(truth: list[int], predicted: list[int]) -> dict[str, str]:
    """What a run stores to have its margins bootstrapped: the test labels and its predicted
    classes, one digit per document."""
    return {"truth": "".join(map(str, truth)), "predicted": "".join(map(str, predicted))}


def _digits(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8).astype(np.int64) - ord("0")


def margin_interval(model: list[dict[str, Any]], baseline: list[dict[str, Any]]
                    ) -> MarginInterval | None:
    """Paired bootstrap over the test documents of the macro-F1 margin of ``model`` over
    ``baseline``, averaged over their seeds (each seed's model against that seed's baseline,
    every seed on the same resample); None unless every run of both kept its predictions."""
    by_seed = {r["seed"]: r for r in baseline}
    if not model or any("predicted" not in r or "predicted" not in by_seed.get(r["seed"], {})
                        for r in model):
        return None
    truth = _digits(model[0]["truth"])
    pairs = [(_digits(r["predicted"]), _digits(by_seed[r["seed"]]["predicted"]))
             for r in model]
    k = len(SENTIMENT_LABELS)

    def statistic(rows: np.ndarray) -> float:
        found = truth[rows]
        return statistics.fmean(macro_f1(found, a[rows], k) - macro_f1(found, b[rows], k)
                                for a, b in pairs)

    return paired_bootstrap(statistic, len(truth), resamples=RESAMPLES, level=LEVEL,
                            unit="documents")


def _paired_gain(runs: list[dict[str, Any]], profile: str, base_mean: float) -> float:
    """Mean over ``profile``'s seeds of its macro-F1 minus TF-IDF + LR's of the same seed (of
    TF-IDF's mean where that seed has no baseline run): a seed measured for one model only
    never shifts its margin."""
    baseline = {r["seed"]: r["macro_f1"] for r in runs if r["profile"] == "tfidf-lr"}
    return statistics.fmean(r["macro_f1"] - baseline.get(r["seed"], base_mean)
                            for r in runs if r["profile"] == profile)


def summarise(runs: list[dict[str, Any]], *, margin: float) -> list[dict[str, Any]]:
    """Per (pair, training size): the profiles measured, their margins and goal verdicts
    (accurate: at least ``margin`` macro-F1 over TF-IDF; fast and distilled: above it)."""
    rows = []
    for pair, n_train in dict.fromkeys((r["pair"], r["n_train"]) for r in runs):
        mine = [r for r in runs if r["pair"] == pair and r["n_train"] == n_train]
        row: dict[str, Any] = {"pair": pair, "n_train": n_train, "n_test": mine[0]["n_test"]}
        for profile in ("tfidf-lr", *MODELS):
            f1 = _mean(mine, profile, "macro_f1")
            if f1 is None:
                continue
            row[profile] = {"macro_f1": f1, "accuracy": _mean(mine, profile, "accuracy"),
                            "seeds": sorted(r["seed"] for r in mine if r["profile"] == profile)}
        base = row.get("tfidf-lr")
        for profile in MODELS:
            if profile in row and base is not None:
                gain = _paired_gain(mine, profile, base["macro_f1"])
                row[profile]["margin"] = gain
                row[profile]["meets_goal"] = gain >= margin if profile == "accurate" \
                    else gain > 0
                interval = margin_interval(
                    [r for r in mine if r["profile"] == profile],
                    [r for r in mine if r["profile"] == "tfidf-lr"])
                if interval is not None:
                    row[profile]["margin_low"] = interval.low
                    row[profile]["margin_high"] = interval.high
        rows.append(row)
    return rows


def _cell(row: dict[str, Any], profile: str) -> str:
    found = row.get(profile)
    if found is None:
        return "-"
    text = f"{found['macro_f1']:.4f} / {found['accuracy']:.4f}"
    if "margin" in found:
        span = (f", {found['margin_low']:+.4f} to {found['margin_high']:+.4f}"
                if "margin_low" in found else "")
        text += f" ({found['margin']:+.4f}{span}{'' if found['meets_goal'] else ' **miss**'})"
    return text


def _labelled(run: dict[str, Any]) -> str:
    """How many transfer texts the teacher labelled within its share of the budget, for runs
    of the product's recipe (older runs labelled them all, outside the budget)."""
    if "transfer_labelled" not in run:
        return "all of "
    return f"{run['transfer_labelled']:,} labelled of "


def markdown(rows: list[dict[str, Any]], runs: list[dict[str, Any]], *, protocol: str,
             margin: float) -> str:
    """The commands that produced the figures, then the protocol and the table."""
    commands = list(dict.fromkeys(r["command"] for r in runs if "command" in r))
    lines = ["```", *commands, "```", "", "# Sentiment generalisation (cross-domain)", "",
             protocol, "",
             "Cells: macro-F1 / accuracy on the target, mean over the seeds run; in brackets "
             f"the macro-F1 margin over TF-IDF + LR on the same training texts (goal: accurate "
             f">= +{margin:.2f}, fast and distilled > 0; **miss** where it falls short), then, for "
             f"runs that kept their predictions, the margin's {LEVEL:.0%} interval from a "
             f"paired bootstrap over the test documents ({RESAMPLES:,} resamples, seeds "
             "averaged on each resample): a margin whose interval holds 0 is within noise. "
             "Training budgets are wall-clock (`--minutes-per-model`): on a busy machine a "
             "model trains fewer steps within them; the JSON has each run's epochs and "
             "seconds.", "",
             "| pair | train | test | " + " | ".join(COLUMNS.values()) + " |",
             "|---|---|---|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append(f"| {row['pair']} | {row['n_train']:,} | {row['n_test']:,} | "
                     + " | ".join(_cell(row, profile) for profile in COLUMNS) + " |")
    distilled = [r for r in runs if r["profile"].startswith("distilled")]
    if distilled:
        lines += ["", "Distillation transfer sets: " + "; ".join(
            f"{r['pair']} ({r['n_train']:,}): {_labelled(r)}{r['transfer_texts']:,} texts from "
            f"{r['transfer_from']}" for r in distilled) + "."]
    return "\n".join(lines)

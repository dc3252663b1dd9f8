"""The cross-domain sentiment bench: what it trains on, what it distils on, how it judges."""

from __future__ import annotations

from typing import Any

from bench.sentiment_transfer import Pair, prepared, transfer_texts
from bench.transfer_report import markdown, predictions, summarise
from models.sentiment.evaluate import classification_metrics


def pair() -> Pair:
    return Pair("a-b", x_train=["Profit rose", " profit ROSE ", "Sales fell", "Costs flat"],
                y_train=[2, 2, 0, 1], x_test=["Profit rose", "Shares slid"], y_test=[2, 0],
                source_unlabelled=lambda: ["Shares slid", "Rates held", "Rates held", "Oil up"])


def test_training_texts_equal_to_a_test_text_are_dropped() -> None:
    kept = prepared(pair(), None)
    assert (kept.x_train, kept.y_train) == (["Sales fell", "Costs flat"], [0, 1])
    assert prepared(pair(), 1).x_train == ["Costs flat"]


def test_transfer_texts_come_from_the_side_asked_for_with_copies_of_the_training_texts(
        ) -> None:
    from models.sentiment.train import FAST_FIT, fitted_rows

    x_train = [f"up{i} gain{i} rise{i}" for i in range(10)] + [
        f"down{i} loss{i} fall{i}" for i in range(10)] + [f"flat{i} same{i}" for i in range(10)]
    y_train = [2] * 10 + [0] * 10 + [1] * 10
    wide = Pair("a-b", x_train=x_train, y_train=y_train, x_test=["Profit rose", "Shares slid"],
                y_test=[2, 0], source_unlabelled=pair().source_unlabelled)
    source = transfer_texts(wide, "source", None)
    target = transfer_texts(wide, "target-unlabelled", None)
    copies = set(source) - {"Rates held", "Oil up"}
    assert {"Rates held", "Oil up"} <= set(source) and "Shares slid" not in source
    assert {"Profit rose", "Shares slid"} <= set(target)
    assert copies and copies == set(target) - {"Profit rose", "Shares slid"}
    assert not copies & set(x_train)
    trained = set(fitted_rows(y_train, fit=FAST_FIT, seed=0))
    validation = {w for i, t in enumerate(x_train) if i not in trained for w in t.split()}
    assert validation and not {w for c in copies for w in c.split()} & validation
    assert len(source) == len(set(source)) and source == transfer_texts(wide, "source", None)
    assert transfer_texts(wide, "source", None, seed=1) != source  # another carve
    assert {"Rates held", "Oil up"} & set(transfer_texts(wide, "source", 1)) in (
        {"Rates held"}, {"Oil up"})
    assert transfer_texts(wide, "source", 0) == []


def run(profile: str, f1: float) -> dict[str, Any]:
    return {"pair": "a-b", "n_train": 100, "n_test": 50, "profile": profile, "seed": 0,
            "macro_f1": f1, "accuracy": f1 + 0.05}


def test_goals_are_margins_over_tfidf_on_the_same_texts() -> None:
    rows = summarise([run("tfidf-lr", 0.60), run("fast", 0.60), run("accurate", 0.695),
                      run("distilled", 0.61)], margin=0.10)
    assert len(rows) == 1
    row = rows[0]
    assert row["fast"]["meets_goal"] is False  # a tie is not above the baseline
    assert row["accurate"]["meets_goal"] is False  # +0.095 < +0.10
    assert row["distilled"]["meets_goal"] is True
    assert round(row["accurate"]["margin"], 4) == 0.095


def scored(profile: str, seed: int, truth: list[int], predicted: list[int]) -> dict[str, Any]:
    f1 = classification_metrics(truth, predicted)["macro_f1"]
    return run(profile, f1) | {"seed": seed, "n_test": len(truth)} | predictions(truth, predicted)


def test_margins_carry_a_paired_bootstrap_interval_over_the_test_documents() -> None:
    truth = [0, 1, 2] * 100
    baseline = [(t + 1) % 3 if i % 4 == 0 else t for i, t in enumerate(truth)]  # 75% right
    better = [(t + 1) % 3 if i % 20 == 0 else t for i, t in enumerate(truth)]  # 95% right
    tied = [*baseline[:296], truth[296], *baseline[297:]]  # one more document right
    runs = [scored("tfidf-lr", 0, truth, baseline), scored("accurate", 0, truth, better),
            scored("distilled", 0, truth, tied) | {"transfer_from": "source",
                                                   "transfer_texts": 10},
            scored("tfidf-lr", 1, truth, baseline), scored("accurate", 1, truth, better),
            run("fast", 0.9)]
    row = summarise(runs, margin=0.10)[0]
    accurate, distilled = row["accurate"], row["distilled"]
    assert accurate["margin_low"] > 0.10 and accurate["meets_goal"]
    assert accurate["margin_low"] < accurate["margin"] < accurate["margin_high"]
    assert distilled["margin"] > 0 and distilled["meets_goal"]  # above, but within noise:
    assert distilled["margin_low"] <= 0 < distilled["margin_high"]
    assert "margin_low" not in row["fast"]  # a run without its predictions has no interval
    table = markdown([row], runs, protocol="p", margin=0.10)
    assert f"({distilled['margin']:+.4f}, {distilled['margin_low']:+.4f} to " in table


def test_a_margin_compares_each_seed_with_the_baseline_of_the_same_seed() -> None:
    runs = [run("tfidf-lr", 0.70) | {"seed": 0}, run("tfidf-lr", 0.60) | {"seed": 1},
            run("distilled", 0.72) | {"seed": 0}, run("accurate", 0.75) | {"seed": 0},
            run("accurate", 0.64) | {"seed": 1}]
    row = summarise(runs, margin=0.10)[0]
    assert round(row["tfidf-lr"]["macro_f1"], 4) == 0.65  # the baseline's cell: all its seeds
    assert round(row["distilled"]["margin"], 4) == 0.02  # seed 0 against seed 0, not 0.65
    assert round(row["accurate"]["margin"], 4) == 0.045  # (0.05 + 0.04) / 2


def test_the_student_taught_on_the_target_texts_has_its_own_column_and_margin() -> None:
    truth = [0, 1, 2] * 100
    baseline = [(t + 1) % 3 if i % 4 == 0 else t for i, t in enumerate(truth)]
    better = [(t + 1) % 3 if i % 10 == 0 else t for i, t in enumerate(truth)]
    runs = [scored("tfidf-lr", 0, truth, baseline),
            scored("distilled", 0, truth, baseline) | {"transfer_from": "source",
                                                       "transfer_texts": 10},
            scored("distilled-target", 0, truth, better) | {
                "transfer_from": "target-unlabelled", "transfer_texts": 30}]
    row = summarise(runs, margin=0.10)[0]
    assert round(row["distilled"]["margin"], 4) == 0.0 and not row["distilled"]["meets_goal"]
    target = row["distilled-target"]
    assert target["meets_goal"] and target["margin_low"] > 0
    table = markdown([row], runs, protocol="p", margin=0.10).splitlines()
    header = next(line for line in table if line.startswith("| pair"))
    cells = [c.strip() for c in table[table.index(header) + 2].split("|")]
    assert header.split("|")[-2].strip() == "distilled on the target's texts"
    assert cells[-2].startswith(f"{target['macro_f1']:.4f} / ")
    assert "a-b (100): all of 30 texts from target-unlabelled" in table[-1]

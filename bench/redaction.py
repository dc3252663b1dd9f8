"""Redaction quality and speed, beside a reference regex redactor measured in the same run.

Quality: precision and recall per kind of PII (email, phone, card, IBAN) on the hand-labelled
set in tests/data (redaction_cases.jsonl, written first and used to correct the code, and
redaction_cases_heldout.jsonl, written afterwards and left as it scored). Speed: texts/s of
``redact_series`` on 100,000 real tweets (the 29,736 airline and support tweets cycled), as
they are and made distinct by a trailing word so that no redactor gains from repeats.
Also: how many placeholders each redactor puts into the 29,736 real tweets.

    python -m bench.redaction [--data-dir ../shared/data] [--texts 100000] [--repeats 3]

Writes bench/results/redaction.json and .md. The redaction of main before this change is
shown from bench/results/redaction_main.json, recorded by running this script with
``--record-main COMMIT`` in a checkout of that commit (it then measures only that checkout's
``redact`` and ``redact_series``, with their defaults).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from bench import common
from bench.datasets import raw_tweet_texts
from domain.redaction import CARD, EMAIL, IBAN, PHONE, redact, redact_series
from domain.redaction_metrics import KINDS, load_cases, score_redaction

CASES = common.REPO / "tests" / "data"
SUBSETS = {"tuned": "redaction_cases.jsonl", "held-out": "redaction_cases_heldout.jsonl"}
MAIN_RECORD = common.RESULTS / "redaction_main.json"

# The reference regex redactor (the baseline): one pattern per kind, as in many scrubbing
# scripts, run by polars in this order. No checksum, no numbering plan, no context.
REFERENCE_PATTERNS = [
    (EMAIL, r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"),
    (IBAN, r"\b[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]{4}){2,7}(?:[ \-]?[A-Za-z0-9]{1,3})?\b"),
    (CARD, r"\b(?:[0-9][ .\-]?){12,18}[0-9]\b"),
    (PHONE, r"(?:\+[0-9]{1,3}[ .\-]?|\b)\(?[0-9]{2,4}\)?[ .\-]?[0-9]{3,4}[ .\-]?[0-9]{3,4}\b"),
]

Redactor = Callable[[pl.Series], pl.Series]


def reference_regex_series(texts: pl.Series) -> pl.Series:
    """The baseline over a column."""
    for placeholder, pattern in REFERENCE_PATTERNS:
        texts = texts.str.replace_all(pattern, placeholder, literal=False)
    return texts


def quality(redactor: Redactor) -> dict[str, Any]:
    """Per subset and over all cases: per-kind counts, precision, recall, exact outputs."""
    subsets = {name: load_cases(CASES / file) for name, file in SUBSETS.items()}
    subsets["all"] = [case for cases in subsets.values() for case in cases]
    out: dict[str, Any] = {}
    for name, cases in subsets.items():
        redacted = dict(zip((case.text for case in cases),
                            redactor(pl.Series([case.text for case in cases])).to_list(),
                            strict=True))
        scored = score_redaction(cases, redacted.__getitem__)
        out[name] = {"cases": scored.total, "exact": scored.exact, "kinds": {
            kind: {"tp": score.true_positives, "fp": score.false_positives,
                   "fn": score.false_negatives, "precision": round(score.precision, 4),
                   "recall": round(score.recall, 4)} for kind, score in scored.kinds.items()},
            "wrong": [{"group": case.group, "text": case.text, "expected": case.expected,
                       "output": output} for case, output in scored.wrong]}
    return out


def throughput(redactor: Redactor, texts: list[str], repeats: int) -> float:
    """Best texts/s of ``repeats`` runs over the whole column."""
    series = pl.Series(texts, dtype=pl.String)
    redactor(series.head(100))  # first-use set-up (regex compilation, tables) is not timed
    best = float("inf")
    for _ in range(repeats):
        _forget_judged_numbers()
        started = time.perf_counter()
        redactor(series)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def placeholders(redactor: Redactor, texts: list[str]) -> dict[str, int]:
    """How many of each placeholder the redactor puts into the real tweets."""
    redacted = redactor(pl.Series(texts, dtype=pl.String))
    return {kind: int(redacted.str.count_matches(kind, literal=True).sum()) for kind in KINDS}


def workloads(data_dir: Path, size: int) -> dict[str, list[str]]:
    """``size`` real tweets cycled, and the same made distinct by a trailing word."""
    real = raw_tweet_texts(data_dir)
    cycled = [real[index % len(real)] for index in range(size)]
    return {"cycled": cycled,
            "distinct": [f"{text} {_letters(index)}" for index, text in enumerate(cycled)]}


def measure(redactor: Redactor, data_dir: Path, size: int, repeats: int) -> dict[str, Any]:
    texts = workloads(data_dir, size)
    return {"quality": quality(redactor),
            "texts_per_s": {name: throughput(redactor, batch, repeats)
                            for name, batch in texts.items()},
            "real_placeholders": placeholders(redactor, raw_tweet_texts(data_dir))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record-main", metavar="COMMIT",
                        help="measure this checkout's redaction only, as main's record")
    args = parser.parse_args()
    if args.record_main:
        record = {"commit": args.record_main,
                  "machine": common.machine(load_average=os.getloadavg()),
                  **measure(redact_series, args.data_dir, args.texts, args.repeats)}
        MAIN_RECORD.write_text(json.dumps(record, indent=2) + "\n")
        print(f"recorded main ({args.record_main}) in {MAIN_RECORD}")
        return
    from domain.phones import DEFAULT_PHONE_REGIONS

    with_india = (*DEFAULT_PHONE_REGIONS, "IN")
    redactors: dict[str, Redactor] = {
        "sentrec": redact_series,
        "sentrec, regions + IN": lambda texts: redact_series(texts, regions=with_india),
        "reference regex (baseline)": reference_regex_series,
    }
    results = {name: measure(redactor, args.data_dir, args.texts, args.repeats)
               for name, redactor in redactors.items()}
    main_record = json.loads(MAIN_RECORD.read_text()) if MAIN_RECORD.exists() else None
    data = {"machine": common.machine(load_average=os.getloadavg()), "texts": args.texts,
            "repeats": args.repeats, "regions": list(DEFAULT_PHONE_REGIONS),
            "results": results, "main_recorded": main_record}
    markdown = render(data)
    print(markdown)
    common.write_results("redaction", data, markdown)
    assert all(redact(text) == out for text, out in zip(
        raw_tweet_texts(args.data_dir)[:2000],
        redact_series(pl.Series(raw_tweet_texts(args.data_dir)[:2000])).to_list(),
        strict=True)), "redact and redact_series disagree"


def render(data: dict[str, Any]) -> str:
    """The markdown report."""
    rows: dict[str, dict[str, Any]] = dict(data["results"])
    main_record = data["main_recorded"]
    if main_record is not None:
        rows[f"main {main_record['commit'][:7]} (recorded)"] = main_record
    baseline = data["results"]["reference regex (baseline)"]
    all_cases = baseline["quality"]["all"]["cases"]
    lines = [
        "# Redaction: precision/recall per kind and texts/s, beside a reference regex redactor",
        "",
        f"Labelled set: {all_cases} hand-written cases (tests/data), "
        f"{baseline['quality']['tuned']['cases']} written first and used to correct the code, "
        f"{baseline['quality']['held-out']['cases']} written afterwards and left as scored. "
        "A placeholder counts as found only where the expected one is, with the text on both "
        "sides right (a span too short or too long is a miss and a false alarm). Default "
        f"phone regions: {', '.join(data['regions'])}. Speed: `redact_series` on "
        f"{data['texts']:,} real tweets (airline + support, cycled), best of "
        f"{data['repeats']}; 'distinct' appends a word to each so repeats cannot be reused. "
        "The reference regex redactor ran in this run; main's figures were recorded by running "
        "this script in a checkout of main on the same machine just before (a separate run; "
        "load averages "
        f"{_load(main_record)} there, {_load(data)} here: the machine is shared, so speed "
        "ratios move by some 30% between runs).",
        "",
        "## Precision / recall per kind, all cases",
        "",
        "| redactor | exact | " + " | ".join(f"{kind} P | {kind} R" for kind in KINDS) + " |",
        "|---|---:|" + "---:|---:|" * len(KINDS),
    ]
    for name, result in rows.items():
        scored = result["quality"]["all"]
        cells = [f"{scored['kinds'][kind]['precision']:.3f} | {scored['kinds'][kind]['recall']:.3f}"
                 for kind in KINDS]
        lines.append(f"| {name} | {scored['exact']}/{scored['cases']} | " + " | ".join(cells)
                     + " |")
    lines += ["", "## sentrec by subset", "",
              "| subset | exact | " + " | ".join(f"{kind} P | {kind} R" for kind in KINDS)
              + " |", "|---|---:|" + "---:|---:|" * len(KINDS)]
    for subset in ("tuned", "held-out"):
        scored = data["results"]["sentrec"]["quality"][subset]
        cells = [f"{scored['kinds'][kind]['precision']:.3f} | {scored['kinds'][kind]['recall']:.3f}"
                 for kind in KINDS]
        lines.append(f"| {subset} | {scored['exact']}/{scored['cases']} | " + " | ".join(cells)
                     + " |")
    base_speed = baseline["texts_per_s"]
    lines += ["", "## Speed and placeholders in the 29,736 real tweets", "",
              "| redactor | texts/s | ratio to baseline | texts/s, distinct | ratio | "
              + " | ".join(KINDS) + " |", "|---|---:|---:|---:|---:|" + "---:|" * len(KINDS)]
    for name, result in rows.items():
        speed = result["texts_per_s"]
        counts = " | ".join(f"{result['real_placeholders'][kind]:,}" for kind in KINDS)
        lines.append(f"| {name} | {speed['cycled']:,.0f} | "
                     f"{speed['cycled'] / base_speed['cycled']:.2f}x | "
                     f"{speed['distinct']:,.0f} | "
                     f"{speed['distinct'] / base_speed['distinct']:.2f}x | {counts} |")
    lines += ["", "## What sentrec still gets wrong (default regions)", ""]
    for wrong in data["results"]["sentrec"]["quality"]["all"]["wrong"]:
        lines.append(f"- {wrong['group']}: `{wrong['text']}` -> `{wrong['output']}` "
                     f"(expected `{wrong['expected']}`)")
    return "\n".join(lines)


def _load(record: dict[str, Any] | None) -> str:
    if record is None:
        return "-"
    return "/".join(f"{value:.1f}" for value in record["machine"].get("load_average", ()))


def _forget_judged_numbers() -> None:
    """Empty the per-process caches of judged digit runs, so that no run reuses another's.

    Main's redaction has none (and no domain.phones); within one run they count, as they do
    when a batch repeats numbers.
    """
    try:
        from domain.payments import is_card
        from domain.phones import is_phone
    except ImportError:
        return
    is_card.cache_clear()
    is_phone.cache_clear()


def _letters(index: int) -> str:
    """A word of letters only, different for every index (no digits: nothing to redact)."""
    word = ""
    while True:
        word += "abcdefghijklmnopqrstuvwxyz"[index % 26]
        index //= 26
        if not index:
            return "zq" + word


if __name__ == "__main__":
    main()

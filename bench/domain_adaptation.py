"""Does adapting MiniLM to the store's text (masked-language modelling, Gururangan et al. 2020)
help the accurate sentiment profile? Fine-tuned with and without adaptation, same seed, same
budget, in one run, beside TF-IDF + LR.

Unlabelled texts: what the store would hold, read through the production adapters: financial
headlines (CNBC, Reuters, Guardian), inbound support tweets (TWCS), and the training texts of
both protocols below without their labels; every test text is left out (exact copies too), so
adaptation never reads a text it is scored on. A seeded sample of ``--adapt-texts`` of them is
adapted on (5% held out for the MLM loss, ``models.sentiment.adapt``).

Protocols: in-domain, Financial PhraseBank 50Agree, 80/20 stratified split seeded 0 (FinBERT's),
trained on a seeded stratified ``--train-size`` of the 80%; cross-domain, Twitter US Airline
with one airline held out (``--held-out-airline``): trained on ``--train-size`` tweets of the
others, tested on every tweet of the held-out one (tweet ids de-duplicated).

    python -m bench.domain_adaptation [--train-size 2000] [--adapt-texts 4000]
        [--adapt-minutes 3] [--finetune-minutes 3] [--held-out-airline "Virgin America"]
        [--seed 0] [--max-minutes 25] [--threads 1] [--data-dir ../shared/data]

Writes bench/results/domain_adaptation.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import random
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import torch

from bench import common
from bench.datasets import airline_records, load_headlines, load_phrasebank, load_support_tweets
from models.sentiment.adapt import adapt_encoder
from models.sentiment.baseline import train_baseline
from models.sentiment.data import label_ids, stratified_split
from models.sentiment.evaluate import classification_metrics, evaluate_texts
from models.sentiment.train import ACCURATE_FIT, train_accurate

Split = tuple[list[str], list[int], list[str], list[int]]  # train texts/labels, test texts/labels


def _subsample(texts: list[str], labels: list[int], size: int) -> tuple[list[str], list[int]]:
    """A stratified, seeded ``size`` of the texts (all of them when there are fewer)."""
    if size >= len(texts):
        return texts, labels
    kept, _ = stratified_split(labels, test_fraction=1 - size / len(texts), seed=0)
    return [texts[i] for i in kept], [labels[i] for i in kept]


def phrasebank_split(data_dir: Path, size: int) -> Split:
    """PhraseBank 50Agree, FinBERT's 80/20 split seeded 0; ``size`` of the 80% trained on."""
    texts, names = load_phrasebank(data_dir, "50")
    labels = label_ids(names)
    train_rows, test_rows = stratified_split(labels, test_fraction=0.2, seed=0)
    x, y = _subsample([texts[i] for i in train_rows], [labels[i] for i in train_rows], size)
    return x, y, [texts[i] for i in test_rows], [labels[i] for i in test_rows]


def airline_split(data_dir: Path, airline: str, size: int) -> Split:
    """Tweets of every other airline to train on, all of ``airline``'s to test on."""
    records = airline_records(data_dir)
    known = sorted(records["entity"].drop_nulls().unique().to_list())
    if airline not in known:
        raise SystemExit(f"unknown airline {airline!r}; choose one of {', '.join(known)}")
    held = records["entity"] == airline
    test, train = records.filter(held), records.filter(~held)
    x, y = _subsample(train["text"].to_list(), label_ids(train["label"].to_list()), size)
    return x, y, test["text"].to_list(), label_ids(test["label"].to_list())


def unlabelled_pool(data_dir: Path, splits: dict[str, Split], size: int) -> list[str]:
    """A seeded ``size`` of the distinct unlabelled texts, no test text among them."""
    banned = {t.strip().lower() for split in splits.values() for t in split[2]}
    pool = [*load_headlines(data_dir), *load_support_tweets(data_dir),
            *(t for split in splits.values() for t in split[0])]
    distinct = sorted({t for t in pool if t.strip() and t.strip().lower() not in banned})
    return sorted(random.Random(0).sample(distinct, min(size, len(distinct))))


def finetune(split: Split, *, seed: int, seconds: float,
             encoder_state: dict[str, torch.Tensor] | None) -> dict[str, Any]:
    """The accurate profile under ``seconds`` (probe included), scored on the test texts."""
    x, y, x_test, y_test = split
    start = time.perf_counter()
    trained = train_accurate(x, y, seed=seed, encoder_state=encoder_state,
                             fit=dataclasses.replace(ACCURATE_FIT, max_seconds=seconds))
    found = evaluate_texts(trained, x_test, y_test)
    return found | {"steps": trained.metrics["steps"], "epochs_run":
                    trained.metrics["epochs_run"], "stop_reason": trained.run.stop_reason
                    if trained.run else "unknown",
                    "wall_seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--adapt-texts", type=int, default=4000)
    parser.add_argument("--adapt-minutes", type=float, default=3.0)
    parser.add_argument("--finetune-minutes", type=float, default=3.0)
    parser.add_argument("--held-out-airline", default="Virgin America")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=25.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("models").setLevel(logging.INFO)
    torch.set_num_threads(args.threads)
    deadline = time.monotonic() + args.max_minutes * 60
    splits = {"phrasebank-50": phrasebank_split(args.data_dir, args.train_size),
              f"airline-without-{args.held_out_airline}": airline_split(
                  args.data_dir, args.held_out_airline, args.train_size)}
    texts = unlabelled_pool(args.data_dir, splits, args.adapt_texts)
    adapted = adapt_encoder(texts, seed=args.seed, max_seconds=args.adapt_minutes * 60)
    state = {k: v.clone() for k, v in adapted.encoder.state_dict().items()}
    print(f"adapted on {len(texts):,} texts: held-out MLM loss "
          f"{adapted.metrics['mlm_loss_before']:.4f} -> {adapted.metrics['mlm_loss_after']:.4f}"
          f" ({int(adapted.metrics['steps'])} steps)", flush=True)
    rows: list[dict[str, Any]] = []
    for name, split in splits.items():
        baseline = train_baseline(split[0], split[1], seed=args.seed)
        rows.append({"protocol": name, "model": "tfidf-lr", "n_train": len(split[0]),
                     "n_test": len(split[2])} | classification_metrics(
                         split[3], baseline.predict(split[2]).tolist()))
        for label, encoder in (("accurate (MiniLM)", None), ("accurate (adapted)", state)):
            if time.monotonic() > deadline:
                logging.warning("time budget spent: %s %s not run", name, label)
                continue
            found = finetune(split, seed=args.seed, seconds=args.finetune_minutes * 60,
                             encoder_state=encoder)
            rows.append({"protocol": name, "model": label, "n_train": len(split[0]),
                         "n_test": len(split[2])} | found)
            print(f"{name:28s} {label:20s} acc {found['accuracy']:.4f} macro-F1 "
                  f"{found['macro_f1']:.4f} ({found['wall_seconds']:.0f}s)", flush=True)
    save(args, adapted.metrics, rows)


def save(args: argparse.Namespace, adapt_metrics: dict[str, float],
         rows: list[dict[str, Any]]) -> None:
    command = "python -m bench.domain_adaptation " + shlex.join(sys.argv[1:])
    gains = []
    for protocol in dict.fromkeys(r["protocol"] for r in rows):
        mine = {r["model"]: r for r in rows if r["protocol"] == protocol}
        if {"accurate (MiniLM)", "accurate (adapted)"} <= set(mine):
            gains.append({"protocol": protocol, **{
                k: mine["accurate (adapted)"][k] - mine["accurate (MiniLM)"][k]
                for k in ("accuracy", "macro_f1")}})
    result = {"command": command, "protocol": __doc__.split("\n\n")[1].replace("\n", " "),
              "machine": common.machine(torch_threads=args.threads), "args": vars(args) | {
                  "data_dir": str(args.data_dir)},
              "adaptation": adapt_metrics, "rows": rows, "gains": gains}
    m = adapt_metrics
    lines: list[str] = [
        f"`{command}`", "", "# Domain adaptation of the accurate sentiment encoder", "",
        str(result["protocol"]), "", __doc__.split("\n\n")[2].replace("\n", " "), "",
        f"CPU, {args.threads} torch thread(s), seed {args.seed}; fine-tuning "
        f"{args.finetune_minutes:g} min per model (probe included), adaptation "
        f"{args.adapt_minutes:g} min.", "",
        f"Adaptation: {int(m['n_texts']):,} texts ({int(m['n_val'])} held out), "
        f"{int(m['head_steps'])} head warm-up steps, {int(m['steps'])} encoder steps; "
        f"held-out MLM loss {m['mlm_loss_initial']:.4f} (untrained head) -> "
        f"{m['mlm_loss_before']:.4f} (MiniLM, head warmed up) -> {m['mlm_loss_after']:.4f} "
        f"(adapted); perplexity {m['perplexity_before']:.2f} -> "
        f"{m['perplexity_after']:.2f}.", "",
        "| protocol | model | train | test | accuracy | macro-F1 | steps | stopped by |",
        "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        steps = f"{int(r['steps'])}" if "steps" in r else ""
        lines.append(f"| {r['protocol']} | {r['model']} | {r['n_train']:,} | {r['n_test']:,} | "
                     f"{r['accuracy']:.4f} | {r['macro_f1']:.4f} | {steps} | "
                     f"{r.get('stop_reason', '')} |")
    lines += ["", "Gain of adaptation (adapted minus MiniLM, same seed and budget), accuracy / "
              "macro-F1:", ""]
    lines += [f"- {g['protocol']}: {g['accuracy']:+.4f} / {g['macro_f1']:+.4f}" for g in gains]
    lines += ["", "Reading: both fine-tunes run under the same wall-clock budget, so on a shared "
              "machine they can take different numbers of steps (column `steps`); with a few "
              "dozen steps a difference of a few steps moves the figures as much as the "
              "encoder does, and one seed gives no spread. A gain counts only when the "
              "adaptation itself ran long enough to lower the held-out MLM loss clearly."]
    common.write_results("domain_adaptation", result, "\n".join(lines))


if __name__ == "__main__":
    main()

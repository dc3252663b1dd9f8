"""Similar resolved cases: ranking held-out agent replies, beside BM25 and TF-IDF (same run).

    nice -n 10 python -m bench.support [--holdout 0.2] [--threads 2] [--tune-minutes 8]

Reads the TWCS threads file through the product's adapter and pairing
(``domain.conversations.pair_turns``), splits the threads by time (the latest ``--holdout``
share of threads, by their first turn, is held out), and for every held-out customer turn ranks
the held-out agent replies, all of them and the same brand's, by:

- ``bm25``: BM25 (bm25s, Lucene variant, English stop words) of the turn against each reply;
- ``tfidf``: TF-IDF cosine (word 1-2 grams, fitted on the training threads);
- ``minilm``: MiniLM cosine of the turn and the reply;
- ``minilm-cases``: the replies of the turn's most similar past turns (the case index),
  softmax-weighted by similarity, each compared with the candidate reply by MiniLM cosine;
- ``minilm+cases``: the sum of the two;
- ``minilm+bm25``: MiniLM cosine and BM25, each z-scored per turn, summed;
- ``minilm-tuned*``: the same with MiniLM fine-tuned contrastively on the past pairs
  (``models.support.tune``; the latest 10% of past pairs decide when to stop).

R@1, R@5 and MRR are over held-out turns (the true reply is the one that answered the turn).
``template@3``: the share of held-out turns whose true reply's template
(``domain.conversations.reply_template``) is among the top-3 suggestions drawn from the past
cases of the same brand: the product's ``models.support.cases.suggest`` for MiniLM, and the
replies of the BM25 / TF-IDF nearest past turns for the baselines.
Writes bench/results/support.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from bench import common

THREADS_FILE = ("customer_support_twitter_threads", "twcs_first5000.csv")
CASES_TOP = 10  # past turns whose replies vote in ``minilm-cases``
CASES_TEMPERATURE = 0.05  # softmax temperature over their cosine similarities


def split_by_time(pairs: pl.DataFrame, holdout: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Past and held-out pairs: whole threads, the latest by their first turn held out."""
    starts = pairs.group_by("source", "conversation_id").agg(pl.col("turn_at").min())\
        .sort("turn_at", "conversation_id")
    cut = round(starts.height * (1 - holdout))
    held = starts[cut:].select("source", "conversation_id")
    test = pairs.join(held, on=["source", "conversation_id"], how="semi")
    train = pairs.join(held, on=["source", "conversation_id"], how="anti")
    return train, test


def rank_metrics(scores: np.ndarray, brands: list[str]) -> dict[str, float]:
    """R@1, R@5, MRR of the diagonal (turn i's reply is candidate i), over all candidates
    and over the same brand's."""
    out: dict[str, float] = {}
    same = np.asarray(brands)[:, None] == np.asarray(brands)[None, :]  # (Q, Q)
    for name, allowed in (("all", np.ones_like(same)), ("brand", same)):
        masked = np.where(allowed, scores, -np.inf)
        truth = np.diag(masked)[:, None]
        rank = 1 + (masked > truth).sum(axis=1)  # ties count in the true reply's favour
        out |= {f"{name}_r@1": float((rank <= 1).mean()), f"{name}_r@5": float((rank <= 5).mean()),
                f"{name}_mrr": float((1.0 / rank).mean()),
                f"{name}_candidates": float(allowed.sum(axis=1).mean())}
    return out


def bm25_scores(queries: list[str], docs: list[str]) -> np.ndarray:
    """(Q, D) BM25 scores of each query against each document."""
    import bm25s

    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(docs, stopwords="en", show_progress=False),
                    show_progress=False)
    tokens = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
    return np.stack([retriever.get_scores(t) for t in tokens])


def tfidf_scores(fit_on: list[str]) -> Callable[[list[str], list[str]], np.ndarray]:
    """Cosine of TF-IDF vectors (word 1-2 grams, sublinear tf) fitted on ``fit_on``."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True).fit(fit_on)

    def score(queries: list[str], docs: list[str]) -> np.ndarray:
        return (vectorizer.transform(queries) @ vectorizer.transform(docs).T).toarray()
    return score


def case_votes(sim_turns: np.ndarray, sim_replies: np.ndarray) -> np.ndarray:
    """(Q, D): each candidate's similarity to the replies of the query's nearest past turns,
    weighted by a softmax over those turns' similarity to the query."""
    top = np.argpartition(-sim_turns, CASES_TOP, axis=1)[:, :CASES_TOP]  # (Q, m)
    near = np.take_along_axis(sim_turns, top, axis=1) / CASES_TEMPERATURE
    weights = np.exp(near - near.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)  # (Q, m)
    return np.einsum("qm,qmd->qd", weights, sim_replies[top])


def template_hits(neighbours: Callable[[int], list[int]], train: pl.DataFrame,
                  test: pl.DataFrame) -> float:
    """Share of held-out turns whose true template is among the first 3 distinct templates
    of the past replies ``neighbours(i)`` lists (nearest first)."""
    from domain.conversations import reply_template

    past = [reply_template(t) for t in train["reply_text"]]
    hits = 0
    for i, reply in enumerate(test["reply_text"]):
        seen: list[str] = []
        for row in neighbours(i):
            if past[row] not in seen:
                seen.append(past[row])
            if len(seen) == 3:
                break
        hits += reply_template(reply) in seen
    return hits / max(1, test.height)


def lexical_neighbours(sim: np.ndarray, train: pl.DataFrame,
                       test: pl.DataFrame) -> Callable[[int], list[int]]:
    """Past turns of the same brand, most similar first, by a (Q, N) similarity."""
    brands = train["entity"].to_numpy()
    wanted = test["entity"].to_list()

    def near(i: int) -> list[int]:
        rows = np.flatnonzero(brands == wanted[i])
        return rows[np.argsort(-sim[i, rows], kind="stable")].tolist()
    return near


def zscored(scores: np.ndarray) -> np.ndarray:
    """Each query's scores on one scale (mean 0, sd 1), so two methods can be added."""
    return (scores - scores.mean(axis=1, keepdims=True)) / (
        scores.std(axis=1, keepdims=True) + 1e-9)


def minilm_rows(encoder: Any, train: pl.DataFrame, test: pl.DataFrame, *, prefix: str,
                bm25: np.ndarray) -> dict[str, dict[str, float]]:
    """The MiniLM methods with ``encoder``; template@3 from the product's case index."""
    from models.support.cases import build_case_index, suggest

    turns, replies = test["customer_text"].to_list(), test["reply_text"].to_list()
    brands = test["entity"].to_list()
    index = build_case_index(encoder, train, model_version_id=0)
    q, r = encoder.encode(turns), encoder.encode(replies)  # (Q, 384), (Q, 384)
    past_replies = encoder.encode(train["reply_text"].to_list())  # (N, 384)
    past_turns = np.vstack([index.index.reconstruct(i) for i in range(train.height)])
    direct = q @ r.T
    votes = case_votes(q @ past_turns.T, past_replies @ r.T)
    by_index = {row: i for i, row in enumerate(index.item_ids)}
    suggested = [[by_index[c.case_id] for s in suggest(index, q[i], k=3, entity=brands[i])
                  for c in s.cases] for i in range(len(turns))]
    hit = template_hits(lambda i: suggested[i], train, test)
    return {f"{prefix}{name}": rank_metrics(scores, brands) | {"template@3": hit}
            for name, scores in (("", direct), ("-cases", votes), ("+cases", direct + votes),
                                 ("+bm25", zscored(direct) + zscored(bm25)))}


def tuned_encoder(train: pl.DataFrame, minutes: float) -> tuple[Any, dict[str, Any]]:
    """MiniLM fine-tuned on the past pairs, the latest 10% of them held out for stopping."""
    from models.support.encoder import load_turn_encoder
    from models.support.tune import tune_encoder
    from models.training import TrainConfig

    fit, valid = split_by_time(train, 0.1)
    encoder = load_turn_encoder()
    result = tune_encoder(encoder, fit["customer_text"].to_list(), fit["reply_text"].to_list(),
                          valid=(valid["customer_text"].to_list(),
                                 valid["reply_text"].to_list()),
                          config=TrainConfig(lr=2e-5, max_epochs=10, patience=2,
                                             device="cpu", max_seconds=minutes * 60,
                                             weight_decay=0.01, warmup_steps=10))
    return encoder, {"epochs": result.epochs_run, "best_epoch": result.best_epoch,
                     "valid_mrr": result.best_metric, "stop": result.stop_reason,
                     "seconds_per_epoch": result.seconds_per_epoch,
                     "valid_mrr_by_epoch": [h.metric for h in result.history]}


def evaluate(train: pl.DataFrame, test: pl.DataFrame, *, threads: int,
             tune_minutes: float) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    import torch

    from models.support.encoder import load_turn_encoder

    torch.set_num_threads(threads)
    turns, replies = test["customer_text"].to_list(), test["reply_text"].to_list()
    brands = test["entity"].to_list()
    past_texts = train["customer_text"].to_list()
    tfidf = tfidf_scores(past_texts + train["reply_text"].to_list())
    lexical = {"bm25": (bm25_scores(turns, replies), bm25_scores(turns, past_texts)),
               "tfidf": (tfidf(turns, replies), tfidf(turns, past_texts))}
    results: dict[str, dict[str, float]] = {}
    for name, (scores, past) in lexical.items():
        results[name] = rank_metrics(scores, brands) | {
            "template@3": template_hits(lexical_neighbours(past, train, test), train, test)}
    bm25 = lexical["bm25"][0]
    results |= minilm_rows(load_turn_encoder(), train, test, prefix="minilm", bm25=bm25)
    tuning: dict[str, Any] = {}
    if tune_minutes > 0:
        encoder, tuning = tuned_encoder(train, tune_minutes)
        results |= minilm_rows(encoder, train, test, prefix="minilm-tuned", bm25=bm25)
    return results, tuning


def markdown(data: dict[str, Any]) -> str:
    rows = data["results"]
    best = max((n for n in rows if n.startswith("minilm")), key=lambda n: rows[n]["all_mrr"])
    lines = ["# Similar resolved cases: held-out reply ranking", "",
             f"`{data['command']}`", "",
             f"{data['pairs']['train']:,} past pairs ({data['threads']['train']:,} threads), "
             f"{data['pairs']['test']:,} held-out pairs ({data['threads']['test']:,} threads, "
             f"first turn from {data['split_at']}), {data['brands']} brands; "
             f"{data['machine']['cpus']} CPUs, torch {data['machine']['torch']}.", "",
             "| method | all R@1 | all R@5 | all MRR | brand R@1 | brand R@5 | brand MRR | "
             "template@3 |", "|---|---|---|---|---|---|---|---|"]
    for name, m in rows.items():
        lines.append(f"| {name} | {m['all_r@1']:.3f} | {m['all_r@5']:.3f} | "
                     f"{m['all_mrr']:.3f} | {m['brand_r@1']:.3f} | {m['brand_r@5']:.3f} | "
                     f"{m['brand_mrr']:.3f} | {m['template@3']:.3f} |")
    ratio = rows[best]["all_mrr"] / rows["bm25"]["all_mrr"]
    brand_ratio = rows[best]["brand_mrr"] / rows["bm25"]["brand_mrr"]
    tuning = data["tuning"]
    if tuning:
        lines += ["", f"Fine-tuning (`minilm-tuned*`): {tuning['epochs']} epochs of "
                  f"{tuning['seconds_per_epoch']:.0f} s, best epoch {tuning['best_epoch']} "
                  f"(validation MRR by epoch: "
                  f"{', '.join(f'{m:.3f}' for m in tuning['valid_mrr_by_epoch'])}; stopped: "
                  f"{tuning['stop']})."]
    lines += ["", f"Candidates per turn: {rows['bm25']['all_candidates']:.0f} (all), "
              f"{rows['bm25']['brand_candidates']:.1f} on average (same brand).", "",
              f"Best MiniLM method `{best}`: MRR {ratio:.2f}x BM25 over all replies, "
              f"{brand_ratio:.2f}x over the same brand's (goal 1.3x)."]
    return "\n".join(lines)


def main() -> None:
    from bench.datasets import support_pairs

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=common.default_data_dir())
    parser.add_argument("--holdout", type=float, default=0.2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tune-minutes", type=float, default=8.0,
                        help="Budget of contrastive fine-tuning; 0 skips it.")
    args = parser.parse_args()
    pairs = support_pairs(args.data_dir.joinpath(*THREADS_FILE))
    train, test = split_by_time(pairs, args.holdout)
    data: dict[str, Any] = {
        "command": "python -m bench.support " + " ".join(sys.argv[1:]),
        "pairs": {"train": train.height, "test": test.height},
        "threads": {"train": train["conversation_id"].n_unique(),
                    "test": test["conversation_id"].n_unique()},
        "split_at": str(test["turn_at"].min()), "brands": pairs["entity"].n_unique(),
        "machine": common.machine()}
    data["results"], data["tuning"] = evaluate(train, test, threads=args.threads,
                                               tune_minutes=args.tune_minutes)
    text = markdown(data)
    common.write_results("support", data, text)
    print(text)


if __name__ == "__main__":
    main()

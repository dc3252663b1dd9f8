"""The real datasets the benches read, through the product's own adapters, so a bench sees the
texts and events the store would hold (tweets redacted, rejects dropped)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from domain.adapters.events import parse_events
from domain.adapters.messages import parse_messages
from domain.adapters.news import parse_news
from domain.sequences import (
    DEFAULT_EVENT_WEIGHTS,
    Sequences,
    load_sequence_file,
    sequences_from_events,
    with_event_weights,
)

Labelled = tuple[list[str], list[str]]  # texts and their sentiment label names


def load_phrasebank(data_dir: Path, level: str) -> Labelled:
    """PhraseBank sentences and labels, one row per distinct sentence."""
    path = data_dir / "financial_phrasebank" / f"Sentences_{level}Agree.txt"
    parsed = parse_news(path, fmt="phrasebank")
    records = parsed.records.unique(subset=["news_id"], keep="first", maintain_order=True)
    joined = records.join(parsed.labels, left_on="news_id", right_on="doc_id", how="inner")
    return joined["headline"].to_list(), joined["label"].to_list()


def sentfin_headlines(data_dir: Path) -> tuple[Labelled, list[str]]:
    """SEntFiN headlines, one per distinct title: those with a document label (every entity
    and copy agrees) with it, and the unlabelled rest (entities disagree)."""
    parsed = parse_news(data_dir / "sentfin" / "SEntFiN-v1.1_LF.csv", fmt="sentfin")
    records = parsed.records.unique(subset=["news_id"], keep="first", maintain_order=True)
    joined = records.join(parsed.labels, left_on="news_id", right_on="doc_id", how="left")
    labelled = joined.filter(pl.col("label").is_not_null())
    rest = joined.filter(pl.col("label").is_null())["headline"].to_list()
    return (labelled["headline"].to_list(), labelled["label"].to_list()), rest


def airline_records(data_dir: Path) -> pl.DataFrame:
    """Airline tweets, de-duplicated on tweet id (first row kept), with a ``label`` column."""
    parsed = parse_messages(data_dir / "twitter_airline_sentiment" / "Tweets.csv",
                            fmt="airline-tweets")
    records = parsed.records.unique(subset=["message_id"], keep="first", maintain_order=True)
    return records.join(parsed.labels.select(pl.col("doc_id").alias("message_id"), "label"),
                        on="message_id", how="inner")


def load_airline(data_dir: Path) -> Labelled:
    """Airline tweets and their labels (``airline_records``)."""
    records = airline_records(data_dir)
    return records["text"].to_list(), records["label"].to_list()


def load_headlines(data_dir: Path) -> list[str]:
    """Dated financial headlines (CNBC, Reuters, Guardian), in file order."""
    folder = data_dir / "financial_news_headlines"
    texts: list[str] = []
    for name in ("cnbc_headlines.csv", "reuters_headlines.csv", "guardian_headlines.csv"):
        texts += parse_news(folder / name, fmt="headlines").records["headline"].to_list()
    return texts


def support_records(data_dir: Path) -> pl.DataFrame:
    """Inbound customer-support tweets (TWCS @SpotifyCares) as message records."""
    parsed = parse_messages(data_dir / "customer_support_twitter" / "support_requests.csv",
                            fmt="twcs")
    return parsed.records.filter(pl.col("author_role") == "customer")


def load_banking77(data_dir: Path, split: str) -> tuple[list[str], list[str]]:
    """Texts and intents of a Banking77 split (``train`` or ``test``), every row of the file
    in order, read by the production adapter (texts trimmed and redacted as stored)."""
    parsed = parse_messages(data_dir / "banking77" / f"{split}.csv", fmt="banking77")
    intents = dict(zip(parsed.labels["doc_id"], parsed.labels["label"], strict=True))
    return parsed.records["text"].to_list(), [intents[i] for i in parsed.records["message_id"]]


def raw_tweet_texts(data_dir: Path) -> list[str]:
    """The unredacted texts of the airline and the support tweets (29,736), in file order.

    Read straight from the files, not through the adapters (which redact): what a redactor
    sees on its way into the store.
    """
    texts: list[str] = []
    for folder, name in (("twitter_airline_sentiment", "Tweets.csv"),
                         ("customer_support_twitter", "support_requests.csv")):
        column = pl.read_csv(data_dir / folder / name, infer_schema=False)["text"]
        texts += column.drop_nulls().to_list()
    return texts


def load_support_tweets(data_dir: Path) -> list[str]:
    """The texts of ``support_records``, unlabelled."""
    return support_records(data_dir)["text"].to_list()


@dataclass(frozen=True)
class SequenceDataset:
    """Where a behaviour dataset lives and what is published on it."""

    path: str
    sources: str
    anchors: list[str] = field(default_factory=list)
    sequence_file: bool = False  # one line per user; else an events file for the adapter


SEQUENCE_DATASETS: dict[str, SequenceDataset] = {
    "ml-1m": SequenceDataset(
        path="ml_1m_seq/ml-1m.txt", sequence_file=True,
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
    "beauty": SequenceDataset(
        path="amazon_seq/Beauty.txt", sequence_file=True,
        sources="Amazon Beauty, S3-Rec/ICLRec 5-core file (22,363 users, 12,101 items)",
        anchors=["ICLRec's released checkpoint (not SASRec; ICLRec README): NDCG@10 0.0403, "
                 "HR@10 0.0744"],
    ),
    "ml-100k": SequenceDataset(
        path="movielens_100k/u.data",
        sources="MovieLens-100k u.data through the events adapter (943 users, 1,682 items), "
                "ordered by timestamp then file row",
    ),
    "uci-retail": SequenceDataset(
        path="uci_online_retail/online_retail.csv.gz",
        sources="UCI Online Retail through the events adapter: purchases of 4,335 customers "
                "and 3,659 products (returns, lines without a customer and non-products left "
                "out; lines of one invoice share a time and keep file order)",
    ),
}


def load_sequences(name: str, data_dir: Path) -> Sequences:
    """Sequences of a dataset. Events files go through the events adapter, as ``sentrec
    ingest events`` reads them: rejects dropped, repeated event ids kept once, the kinds and
    weights ``sentrec train recommender`` uses by default (returns left out)."""
    dataset = SEQUENCE_DATASETS[name]
    path = data_dir / dataset.path
    if dataset.sequence_file:
        return load_sequence_file(path)
    events = parse_events(path).records.unique("event_id", keep="first", maintain_order=True)
    return sequences_from_events(with_event_weights(events, DEFAULT_EVENT_WEIGHTS))


def support_pairs(path: Path) -> pl.DataFrame:
    """(customer turn, agent reply) pairs of a TWCS threads file, as the store would pair them
    (``domain.conversations.pair_turns`` on the adapter's redacted records)."""
    from domain.conversations import pair_turns

    return pair_turns(parse_messages(path, fmt="twcs").records)

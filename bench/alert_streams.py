"""The real streams ``bench.alerts`` replays, as scored documents (``SCORED_SCHEMA``).

Each stream comes through the product's own adapters (texts redacted, rejects dropped, the
entity the adapter gives, news entities from ``domain.entities`` tagging, one row per
headline and entity as ``storage.scores.scored_documents`` gives them). Sentiment is either the
**gold label** (p = 1 for the labelled class) or the product's **TF-IDF + LR baseline**
(``models.sentiment.baseline``) trained on data other than the stream it scores, as the
product would score text it has never seen:

* airline tweets: gold labels, and the model trained on the other half of the airlines
  (two folds by airline: each airline is scored by a model that never saw its tweets);
* TWCS SpotifyCares and the TWCS threads file (no sentiment labels): the model trained on
  all airline gold labels;
* the three headline files (no labels): the model trained on Financial PhraseBank
  (sentences with at least 50% agreement).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from bench.datasets import airline_records, load_phrasebank, support_records
from domain.adapters.messages import parse_messages
from domain.adapters.news import parse_news
from domain.records import SENTIMENT_LABELS
from domain.windows import SCORED_SCHEMA
from models.sentiment.baseline import BaselineConfig, TfidfBaseline, train_baseline

# The TWCS files hold a few tweets from years before; the streams start where they are dense.
TWCS_START = pl.datetime(2017, 10, 1, time_zone="UTC")
HEADLINE_FILES = ("cnbc_headlines.csv", "reuters_headlines.csv", "guardian_headlines.csv")


@dataclass(frozen=True)
class Stream:
    """One replayed stream: its scored documents, window length and where sentiment came from."""

    name: str
    documents: pl.DataFrame  # SCORED_SCHEMA
    window: str  # "hour" or "day"
    sentiment: str  # "gold" or the model that scored it


def scored_frame(records: pl.DataFrame, proba: np.ndarray) -> pl.DataFrame:
    """Records (``entity``, ``created_at``, ``text``) with probabilities (N, 3) in
    ``SENTIMENT_LABELS`` order as scored documents; ``doc_id`` is the row number."""
    neg, neu, pos = (pl.Series(proba[:, i], dtype=pl.Float64) for i in range(3))
    return records.select(
        pl.lit("message").alias("doc_kind"), pl.int_range(pl.len()).cast(pl.Int64).alias("doc_id"),
        "entity", pl.lit(None, pl.String).alias("topic"), "created_at",
        pl.lit(pos - neg).alias("score"), pl.lit(neg).alias("p_negative"),
        pl.lit(neu).alias("p_neutral"), pl.lit(pos).alias("p_positive"), "text",
        pl.lit("[]").alias("highlights")).cast(pl.Schema(SCORED_SCHEMA))


def _label_ids(labels: pl.Series) -> list[int]:
    return [SENTIMENT_LABELS.index(label) for label in labels.to_list()]


def _gold_proba(labels: pl.Series) -> np.ndarray:
    return np.eye(len(SENTIMENT_LABELS))[_label_ids(labels)]


def _train(texts: list[str], labels: list[int], quick: bool) -> TfidfBaseline:
    # C is fixed at 3 (the middle of the product's grid) to keep the run short on two shared
    # cores; quick runs also leave out the char n-grams: a smoke test of the path.
    config = BaselineConfig(c_grid=(3.0,), char_ngrams=(0, 0) if quick else (2, 5))
    return train_baseline(texts, labels, config=config)


def airline_streams(data_dir: Path, *, quick: bool = False
                    ) -> tuple[Stream, Stream, TfidfBaseline]:
    """Airline tweets with gold labels, the same tweets scored by a model that never saw the
    airline (two folds), and a model trained on all of them (for the TWCS streams)."""
    records = airline_records(data_dir).filter(pl.col("entity").is_not_null())
    entities = sorted(records["entity"].unique().to_list())
    fold = records["entity"].is_in(entities[::2]).to_numpy()
    proba = np.zeros((records.height, len(SENTIMENT_LABELS)))
    texts, labels = records["text"].to_list(), _label_ids(records["label"])
    for held_out in (fold, ~fold):
        train = np.flatnonzero(~held_out)
        model = _train([texts[i] for i in train], [labels[i] for i in train], quick)
        rows = np.flatnonzero(held_out)
        proba[rows] = model.predict_proba([texts[i] for i in rows])
    everything = _train(texts, labels, quick)
    gold = Stream("airline", scored_frame(records, _gold_proba(records["label"])), "hour",
                  "gold")
    scored = Stream("airline", scored_frame(records, proba), "hour",
                    "TF-IDF+LR trained on the other airlines (2 folds)")
    return gold, scored, everything


def _by_model(records: pl.DataFrame, model: TfidfBaseline) -> pl.DataFrame:
    return scored_frame(records, model.predict_proba(records["text"].to_list()))


def spotify_stream(data_dir: Path, model: TfidfBaseline) -> Stream:
    """Inbound tweets to @SpotifyCares from October 2017, scored by the airline model."""
    records = support_records(data_dir).filter(pl.col("created_at") >= TWCS_START,
                                               pl.col("entity").is_not_null())
    return Stream("twcs-spotify", _by_model(records, model), "hour",
                  "TF-IDF+LR trained on airline gold labels")


def threads_stream(data_dir: Path, model: TfidfBaseline) -> Stream:
    """Customer tweets of the TWCS threads file (the brand each addresses) from October 2017."""
    parsed = parse_messages(data_dir / "customer_support_twitter_threads" /
                            "twcs_first5000.csv", fmt="twcs")
    records = parsed.records.filter(pl.col("author_role") == "customer",
                                    pl.col("created_at") >= TWCS_START,
                                    pl.col("entity").is_not_null())
    return Stream("twcs-threads", _by_model(records, model), "hour",
                  "TF-IDF+LR trained on airline gold labels")


def headline_stream(data_dir: Path, *, quick: bool = False) -> Stream:
    """CNBC, Reuters and Guardian headlines, one row per tagged entity, by day, scored by a
    model trained on Financial PhraseBank."""
    texts, labels = load_phrasebank(data_dir, "50")
    model = _train(texts, [SENTIMENT_LABELS.index(label) for label in labels], quick)
    folder = data_dir / "financial_news_headlines"
    news = pl.concat([parse_news(folder / name, fmt="headlines").records
                      for name in HEADLINE_FILES])
    records = news.filter(pl.col("published_at").is_not_null()).select(
        pl.col("entities").alias("entity"), pl.col("published_at").alias("created_at"),
        pl.col("headline").alias("text")).explode("entity").drop_nulls("entity")
    return Stream("headlines", _by_model(records, model), "day",
                  "TF-IDF+LR trained on Financial PhraseBank (50% agreement)")

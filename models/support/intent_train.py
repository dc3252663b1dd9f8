"""Fitting an intent model, choosing its out-of-scope threshold, and measuring it.

The threshold is chosen on the training data alone, by pretending part of it is unknown: a
seeded tenth of the intents (``IntentConfig.oos_share``) is set aside, a model is fitted on
80% of the rest's texts (stratified), and the remaining 20% plus every text of the set-aside
intents are scored. The threshold is the one that maximises the mean of two shares: known
texts answered with their right intent, and set-aside texts answered None (balanced accuracy
of "answer or abstain"; held-out-class calibration as in Larson et al. 2019, "An Evaluation
Dataset for Intent Classification and Out-of-Scope Prediction"). The model that is kept is
then fitted on all the training texts and every intent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from models.support.embed import SentenceEmbedder
from models.support.intent import (
    Featurizer,
    IntentConfig,
    IntentHead,
    IntentModel,
    new_tfidf,
)

MIN_INTENTS = 3  # fewer cannot spare one as "unknown" and still leave a choice to make
THRESHOLDS = np.round(np.arange(0.0, 1.0, 0.01), 2)


def fit_intent(texts: Sequence[str], labels: Sequence[str], *, config: IntentConfig | None = None,
               seed: int = 0, embedder: SentenceEmbedder | None = None,
               vectors: NDArray[np.float32] | None = None) -> IntentModel:
    """An intent model on every text, with the threshold chosen as the module says;
    ``vectors`` are the texts' sentence vectors when already computed (by ``embedder``)."""
    config = config or IntentConfig()
    if len(set(labels)) < MIN_INTENTS:
        raise ValueError(f"{len(set(labels))} intents: an intent model needs at least "
                         f"{MIN_INTENTS}")
    embedder = embedder or (SentenceEmbedder(config.embed) if config.use_minilm else None)
    if vectors is None and embedder is not None:
        vectors = embedder.embed(texts)
    threshold = choose_threshold(texts, labels, vectors, config=config, seed=seed,
                                 embedder=embedder)
    model = _fit(texts, labels, vectors, config=config, seed=seed, embedder=embedder)
    model.threshold = threshold
    return model


def choose_threshold(texts: Sequence[str], labels: Sequence[str],
                     vectors: NDArray[np.float32] | None, *, config: IntentConfig, seed: int,
                     embedder: SentenceEmbedder | None) -> float:
    """The confidence under which the model answers None (see the module docstring)."""
    intents = sorted(set(labels))
    rng = np.random.default_rng(seed)
    n_unknown = max(1, round(config.oos_share * len(intents)))
    unknown = set(rng.choice(intents, size=n_unknown, replace=False).tolist())
    known_rows = [i for i, label in enumerate(labels) if label not in unknown]
    unknown_rows = [i for i, label in enumerate(labels) if label in unknown]
    fit_rows, check_rows = train_test_split(
        known_rows, test_size=0.2, random_state=seed,
        stratify=[labels[i] for i in known_rows])
    model = _fit([texts[i] for i in fit_rows], [labels[i] for i in fit_rows],
                 None if vectors is None else vectors[fit_rows], config=config, seed=seed,
                 embedder=embedder)
    known = _best(model, [texts[i] for i in check_rows],
                  None if vectors is None else vectors[check_rows])
    right = np.array([model.intents[j] == labels[i] for i, j in zip(check_rows, known[0],
                                                                    strict=True)])
    unknown_conf = _best(model, [texts[i] for i in unknown_rows],
                         None if vectors is None else vectors[unknown_rows])[1]
    scores = [(np.mean(right & (known[1] >= t)) + np.mean(unknown_conf < t)) / 2
              for t in THRESHOLDS]
    return float(THRESHOLDS[int(np.argmax(scores))])


def evaluate_intent(model: IntentModel, texts: Sequence[str], labels: Sequence[str], *,
                    vectors: NDArray[np.float32] | None = None) -> dict[str, float]:
    """Accuracy and macro-F1 of the best intent, and the share answered (not None) and
    answered right at the model's threshold."""
    probs = model.predict_proba(texts, vectors=vectors)
    guessed = [model.intents[i] for i in probs.argmax(axis=1)]
    answered = probs.max(axis=1) >= model.threshold
    right = np.array([g == t for g, t in zip(guessed, labels, strict=True)])
    return {"accuracy": float(accuracy_score(labels, guessed)),
            "macro_f1": float(f1_score(labels, guessed, average="macro", zero_division=0)),
            "answered": float(answered.mean()),
            "answered_right": float((right & answered).mean())}


def _best(model: IntentModel, texts: Sequence[str], vectors: NDArray[np.float32] | None
          ) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
    """Per text, the index of the best intent and its probability."""
    probs = model.predict_proba(texts, vectors=vectors)
    return probs.argmax(axis=1), probs.max(axis=1)


def _fit(texts: Sequence[str], labels: Sequence[str], vectors: NDArray[np.float32] | None, *,
         config: IntentConfig, seed: int, embedder: SentenceEmbedder | None) -> IntentModel:
    """TF-IDF vocabulary and logistic regression on these texts; threshold 0 until chosen."""
    tfidf = new_tfidf(config).fit(texts) if config.use_tfidf else None
    featurizer = Featurizer(config, tfidf, embedder)
    features = featurizer.transform(texts, vectors)
    regression = LogisticRegression(C=config.c, max_iter=config.max_iter, random_state=seed)
    regression.fit(features, list(labels))
    head = IntentHead(features.shape[1], len(regression.classes_))
    head.linear.weight.data = _tensor(regression.coef_)
    head.linear.bias.data = _tensor(regression.intercept_)
    return IntentModel(config=config, intents=[str(c) for c in regression.classes_], head=head,
                       featurizer=featurizer, threshold=0.0)


def _tensor(values: NDArray[np.float64]) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))

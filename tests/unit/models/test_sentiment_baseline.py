"""The TF-IDF + logistic regression baseline on a small hand-made corpus."""

from __future__ import annotations

import numpy as np
import pytest

from models.sentiment.baseline import BaselineConfig, train_baseline

NEGATIVE = ["profit fell sharply", "sales dropped and losses widened", "shares plunged today",
            "the outlook was cut", "revenue declined again", "costs rose and margins fell"]
NEUTRAL = ["the meeting is in helsinki", "the company has offices in espoo",
           "the report was published on monday", "the board has five members",
           "the plant is located in finland", "the contract covers three years"]
POSITIVE = ["profit rose sharply", "sales grew and margins improved", "shares jumped today",
            "the outlook was raised", "revenue increased again", "orders surged to a record"]
TEXTS = NEGATIVE + NEUTRAL + POSITIVE
LABELS = [0] * 6 + [1] * 6 + [2] * 6
SMALL = BaselineConfig(min_df=1, val_fraction=0.5, c_grid=(1.0, 10.0))


def test_baseline_fits_the_training_texts_and_returns_probabilities() -> None:
    model = train_baseline(TEXTS, LABELS, config=SMALL)
    assert model.predict(TEXTS).tolist() == LABELS
    probs = model.predict_proba(["profit rose", "the meeting is monday", "profit fell"])
    assert probs.shape == (3, 3)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs.argmax(axis=1).tolist() == [2, 1, 0]
    assert model.c in SMALL.c_grid


def test_baseline_cannot_tell_tickers_apart() -> None:
    model = train_baseline(TEXTS, LABELS, config=SMALL)
    aapl, msft = model.predict_proba(["$AAPL profit rose 5%", "$MSFT profit rose 17%"])
    assert np.array_equal(aapl, msft)


def test_baseline_is_reproducible() -> None:
    first = train_baseline(TEXTS, LABELS, seed=3, config=SMALL).predict_proba(TEXTS)
    again = train_baseline(TEXTS, LABELS, seed=3, config=SMALL).predict_proba(TEXTS)
    assert np.array_equal(first, again)


def test_baseline_needs_every_class() -> None:
    with pytest.raises(ValueError, match="every class"):
        train_baseline(NEGATIVE + POSITIVE, [0] * 6 + [2] * 6, config=SMALL)

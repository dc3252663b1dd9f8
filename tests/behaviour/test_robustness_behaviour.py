"""Directions, not magnitudes (CheckList, Ribeiro et al. 2020), of the fast model trained once
on real airline tweets for two passes: a URL or @mention does not flip a clear prediction,
shouting in capitals changes no answer, a neutral emoji or two typos flip few, "not" lowers
p(positive) of clearly positive sentences, swapping the airline changes little. Every
threshold is one a model that ignored the text (or guessed) would miss; the perturbations are
the robustness bench's (``bench.perturbations``).
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import torch

from bench.datasets import load_airline
from bench.perturbations import (
    AIRLINES,
    add_emoji,
    add_mention,
    add_typos,
    add_url,
    negate,
    swap_company,
    upper_case,
)
from models.sentiment.data import label_ids
from models.sentiment.predict import TrainedSentiment, score_texts
from models.sentiment.train import FAST_FIT, train_fast
from tests.helpers import data_file

N_TRAIN = 3000  # tweets the model learns from; the rest of the file is unseen
POSITIVE = ["the crew was great", "the flight was amazing", "the crew were awesome",
            "the flight attendants were great", "the service was great thanks",
            "you guys are awesome", "the upgrade was amazing", "the staff were wonderful",
            "the flight was great", "the crew is the best", "your team is awesome",
            "the agent was great thanks"]


@pytest.fixture(scope="module")
def airline() -> tuple[TrainedSentiment, list[str], list[int]]:
    """The fast model (two passes, one thread) and the tweets it never saw. Passes, not
    seconds, end the training, so that a busy machine gets the same model; the time budget
    is only a backstop."""
    texts, names = load_airline(data_file("twitter_airline_sentiment", "Tweets.csv").parent
                                .parent)
    labels = label_ids(names)
    torch.set_num_threads(1)
    fit = dataclasses.replace(FAST_FIT, max_epochs=2, max_seconds=300, device="cpu")
    model = train_fast(texts[:N_TRAIN], labels[:N_TRAIN], seed=0, fit=fit)
    return model, texts[N_TRAIN:N_TRAIN + 2000], labels[N_TRAIN:N_TRAIN + 2000]


def _clear(model: TrainedSentiment, texts: list[str], labels: list[int]
           ) -> tuple[list[str], np.ndarray]:
    """The 200 unseen tweets the model is surest of (two passes leave it far from p = 0.99),
    and its labels for them; it must be right on most, or the invariance below would prove
    nothing."""
    probs = score_texts(model, texts, top_k=0).probs
    margin = np.sort(probs, axis=1)[:, -1] - np.sort(probs, axis=1)[:, -2]
    sure = np.argsort(-margin, kind="stable")[:200]
    predicted = probs.argmax(1)[sure]
    assert float(np.mean(predicted == np.array(labels)[sure])) >= 0.8
    return [texts[i] for i in sure], predicted


@pytest.mark.parametrize("perturb", [add_url, add_mention], ids=["url", "mention"])
def test_a_url_or_mention_does_not_flip_a_clear_prediction(
        airline: tuple[TrainedSentiment, list[str], list[int]], perturb: object) -> None:
    model, texts, labels = airline
    sure, predicted = _clear(model, texts, labels)
    rng = random.Random(0)
    changed = [perturb(t, rng) for t in sure]  # type: ignore[operator]
    after = score_texts(model, changed, top_k=0).probs.argmax(1)
    assert float(np.mean(after != predicted)) <= 0.02


def test_swapping_the_airline_changes_little(
        airline: tuple[TrainedSentiment, list[str], list[int]]) -> None:
    model, texts, _ = airline
    named = [t for t in texts if swap_company(t, random.Random(0)) is not None][:300]
    templates = [f"{a} {s}" for a in AIRLINES for s in ("lost my bag again",
                                                        "flight 123 boards at gate 5",
                                                        "thanks for a lovely trip")]
    original = named + templates
    swapped = [str(swap_company(t, random.Random(0))) for t in original]
    assert len(named) >= 100 and swapped != original
    before = score_texts(model, original, top_k=0)
    after = score_texts(model, swapped, top_k=0)
    # The WordPiece trainer's vocabulary differs from process to process (tokenizers issue
    # #1794), so the same seed gives a different model: two runs agreed on 0.939 and 0.982 of
    # these labels. A model that keyed on the airline's name would fall well below 0.90.
    assert float(np.mean(before.probs.argmax(1) == after.probs.argmax(1))) >= 0.90
    assert float(np.mean(np.abs(before.score - after.score))) < 0.05


def test_shouting_in_capitals_changes_no_answer(
        airline: tuple[TrainedSentiment, list[str], list[int]]) -> None:
    model, texts, _ = airline
    before = score_texts(model, texts, top_k=0).probs
    after = score_texts(model, [str(upper_case(t, random.Random(0))) for t in texts],
                        top_k=0).probs
    assert np.array_equal(before.argmax(1), after.argmax(1))


@pytest.mark.parametrize(("perturb", "most"), [(add_emoji, 0.02), (add_typos, 0.05)],
                         ids=["emoji", "typos"])
def test_an_emoji_or_two_typos_flip_few_clear_predictions(
        airline: tuple[TrainedSentiment, list[str], list[int]], perturb: object,
        most: float) -> None:
    model, texts, labels = airline
    sure, predicted = _clear(model, texts, labels)
    rng = random.Random(0)
    changed = [perturb(t, rng) or t for t in sure]  # type: ignore[operator]
    assert sum(c != t for c, t in zip(changed, sure, strict=True)) >= 150
    after = score_texts(model, changed, top_k=0).probs.argmax(1)
    assert float(np.mean(after != predicted)) <= most


def test_not_lowers_the_positive_probability_of_clearly_positive_sentences(
        airline: tuple[TrainedSentiment, list[str], list[int]]) -> None:
    model = airline[0]
    negated = [str(negate(t, random.Random(0))) for t in POSITIVE]
    assert all(" not " in t for t in negated)
    before = score_texts(model, POSITIVE, top_k=0).probs[:, 2]
    after = score_texts(model, negated, top_k=0).probs[:, 2]
    assert float(np.mean(before > 0.5)) >= 0.75  # the model reads them as positive at all
    assert float(np.mean(after < before)) >= 0.9

"""The intent classifier on a small hand-written set: it names a known intent with
confidence, answers None (unknown / out of scope) to gibberish and to other domains, and a
saved model loads back only while its file is the one that was saved."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from models.checkpoint import ChecksumMismatchError
from models.support.intent import IntentModel
from models.support.intent_train import fit_intent

DATA = Path(__file__).resolve().parents[2] / "data" / "intents.csv"
QUERIES = ["When will my new card arrive?", "I lost my card on the bus",
           "asdkjh qwpoeiru zxcmvn", "What's the weather in Paris tomorrow?",
           "recommend me a good pizza recipe"]


@pytest.fixture(scope="module")
def model() -> IntentModel:
    frame = pl.read_csv(DATA)
    return fit_intent(frame["text"].to_list(), frame["category"].to_list(), seed=0)


def test_a_known_intent_is_named_and_other_text_is_unknown(model: IntentModel) -> None:
    assert model.intents == ["card_arrival", "change_pin", "exchange_rate",
                             "lost_or_stolen_card", "top_up_failed"]
    assert 0.0 < model.threshold < 1.0
    guesses = model.predict(QUERIES)
    assert [g.label for g in guesses] == ["card_arrival", "lost_or_stolen_card", None, None,
                                          None]
    assert all(g.confidence >= model.threshold for g in guesses[:2])
    assert all(g.confidence < model.threshold for g in guesses[2:])
    assert model.predict([]) == []


def test_a_saved_model_answers_the_same_and_refuses_a_changed_file(model: IntentModel,
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "intent.pt"
    sha256 = model.save(path)
    loaded = IntentModel.load(path, sha256=sha256, embedder=model.featurizer.embedder)
    assert (loaded.intents, loaded.threshold) == (model.intents, model.threshold)
    assert loaded.predict(QUERIES) == model.predict(QUERIES)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ChecksumMismatchError, match="was changed or replaced"):
        IntentModel.load(path, sha256=sha256)

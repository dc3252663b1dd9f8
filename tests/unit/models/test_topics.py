"""Topics: a tiny corpus splits along its themes, deterministically, and survives save/load;
on the 900 labelled support tweets the topics agree with the labels well above chance."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from domain.errors import NotReadyError
from models.topics import UNASSIGNED, TopicConfig, TopicModel

THEMES = {
    "delivery": ["my package delivery is late again", "the courier lost my package delivery",
                 "delivery driver left the package outside", "package delivery never arrived",
                 "where is my package, delivery was promised today"],
    "battery": ["iphone battery drains after the update", "battery dies fast on my iphone",
                "the update killed my iphone battery", "iphone battery at 20 percent by noon",
                "battery health dropped on this iphone"],
    "music": ["my playlist songs will not play", "songs vanished from my playlist",
              "shuffle plays the same songs in my playlist", "playlist songs skip randomly",
              "cannot add songs to a shared playlist"],
}
TEXTS = [text for texts in THEMES.values() for text in texts]
TRUTH = [theme for theme, texts in THEMES.items() for _ in texts]
CONFIG = TopicConfig(k=3, seed=0, min_df=2, max_df=0.9)


def test_tiny_corpus_splits_along_its_themes() -> None:
    model = TopicModel.fit(TEXTS, CONFIG)
    topics, weights = model.assign(TEXTS)
    assert adjusted_mutual_info_score(TRUTH, topics) == pytest.approx(1.0)
    assert np.all((weights > 0.5) & (weights <= 1.0))
    named = {TRUTH[i]: model.names[topics[i]] for i in range(len(TEXTS))}
    assert "delivery" in named["delivery"] and "package" in named["delivery"]
    assert "battery" in named["battery"] and "playlist" in named["music"]


def test_fitting_twice_gives_the_same_topics_and_assignments() -> None:
    first, second = TopicModel.fit(TEXTS, CONFIG), TopicModel.fit(TEXTS, CONFIG)
    assert first.names == second.names
    assert np.array_equal(first.assign(TEXTS)[0], second.assign(TEXTS)[0])
    assert np.array_equal(first.components, second.components)


def test_save_and_load_round_trip_assigns_identically(tmp_path: Path) -> None:
    model = TopicModel.fit(TEXTS, CONFIG)
    path = tmp_path / "topics.json"
    digest = model.save(path)
    loaded = TopicModel.load(path)
    assert len(digest) == 64 and loaded.names == model.names
    assert loaded.config == model.config and loaded.vocabulary == model.vocabulary
    for got, want in zip(loaded.assign(TEXTS), model.assign(TEXTS), strict=True):
        assert np.array_equal(got, want)


def test_a_changed_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "topics.json"
    TopicModel.fit(TEXTS, CONFIG).save(path)
    document = json.loads(path.read_text())
    document["model"]["components"][0][0] += 1.0
    path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="does not match"):
        TopicModel.load(path)


def test_a_text_without_known_words_is_unassigned() -> None:
    model = TopicModel.fit(TEXTS, CONFIG)
    topics, weights = model.assign(["https://t.co/x @someone 12345", "package delivery"])
    assert topics[0] == UNASSIGNED and weights[0] == 0.0
    assert topics[1] != UNASSIGNED


def test_too_few_terms_for_k_is_explained() -> None:
    # Not ready, not a bug: monitoring skips topics with this warning and goes on.
    with pytest.raises(NotReadyError, match="cannot learn 50 topics"):
        TopicModel.fit(TEXTS, TopicConfig(k=50, min_df=2, max_df=0.9))

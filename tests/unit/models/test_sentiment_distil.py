"""The transfer set distillation learns from (``models.sentiment.distil.transfer_set``)."""

from __future__ import annotations

import torch

from models.sentiment.distil import transfer_set
from models.sentiment.predict import TrainedSentiment

POOL = ["Shares fall", "Profit rises", "shares  FALL", "  ", "Sales flat", "Bank fined",
        "Profit rises", "Oil steady"]


def test_keeps_every_distinct_text_once_and_no_held_out_text() -> None:
    chosen = transfer_set(POOL, held_out=["SALES flat", "Bank  fined"], seed=0)
    assert sorted(chosen) == ["Oil steady", "Profit rises", "Shares fall"]


def test_the_order_is_a_shuffle_fixed_by_the_seed() -> None:
    texts = [f"headline {i}" for i in range(50)]
    first = transfer_set(texts, held_out=[], seed=3)
    assert first == transfer_set(reversed(texts), held_out=[], seed=3)
    assert sorted(first) == sorted(texts) and first != sorted(texts)
    assert transfer_set(texts, held_out=[], seed=4) != first


def test_the_teacher_labels_with_its_int8_copy_and_stays_float() -> None:
    from torch import nn

    from models.sentiment.data import encode_for_model
    from models.sentiment.distil import teacher_logits
    from models.sentiment.encoder import SentimentConfig, SentimentEncoder
    from models.sentiment.evaluate import predict_logits
    from models.sentiment.predict import TrainedSentiment, quantized
    from models.sentiment.tokenizer import train_tokenizer

    texts = ["Profit rose sharply", "Shares fell after the warning", "Sales were flat"] * 3
    tokenizer = train_tokenizer(texts, vocab_size=200, min_frequency=1)
    torch.manual_seed(0)
    config = SentimentConfig(vocab_size=tokenizer.vocab_size, max_len=16, d_model=32,
                             n_heads=2, n_layers=1, d_ff=64, dropout=0.0)
    teacher = TrainedSentiment("accurate", SentimentEncoder(config).eval(), tokenizer, config)
    seqs = encode_for_model(tokenizer, texts, 16)
    int8 = predict_logits(quantized(teacher).model, seqs, pad_id=tokenizer.pad_id)
    float32 = predict_logits(teacher.model, seqs, pad_id=tokenizer.pad_id)

    found = teacher_logits(teacher, texts)
    assert torch.equal(found, int8) and not torch.equal(found, float32)
    assert torch.allclose(found, float32, atol=0.05)
    assert isinstance(teacher.model.head, nn.Linear)  # the teacher itself is not quantised


def test_augmented_copies_are_masked_swapped_or_cut_neighbours_of_the_texts() -> None:
    from models.sentiment.distil import augmented_copies

    texts = ["operating profit rose to eur 13 mn", "net sales fell sharply in the quarter",
             "the board will meet in june"]
    copies = augmented_copies(texts, copies=20, seed=0, mask="[MASK]")
    assert copies == augmented_copies(texts, copies=20, seed=0, mask="[MASK]")
    assert copies != augmented_copies(texts, copies=20, seed=1, mask="[MASK]")
    assert 30 <= len(copies) <= 60 and len(set(copies)) == len(copies)
    assert not set(copies) & set(texts)
    words = {w for t in texts for w in t.split()} | {"[MASK]"}
    assert all(set(c.split()) <= words for c in copies)  # nothing from outside the texts
    assert any("[MASK]" in c for c in copies)
    assert any(len(c.split()) <= 5 for c in copies)  # n-gram cuts
    assert augmented_copies(["", "   "], copies=5, seed=0, mask="[MASK]") == []


# Labelled headlines of three classes, and transfer texts with words they lack.
TEXTS = [f"{w} profit rose" for w in "abcdefgh"] + [f"{w} shares fell" for w in "abcdefgh"] \
    + [f"{w} sales were flat" for w in "abcdefgh"]
LABELS = [2] * 8 + [0] * 8 + [1] * 8
MARGINS = [f"{w} margins {v}" for w in "ijklmn" for v in ("grew", "shrank")]


def _tiny_teacher(texts: list[str]) -> TrainedSentiment:
    from models.sentiment.encoder import SentimentConfig, SentimentEncoder
    from models.sentiment.tokenizer import train_tokenizer

    tokenizer = train_tokenizer(texts, vocab_size=200, min_frequency=1)
    torch.manual_seed(0)
    config = SentimentConfig(vocab_size=tokenizer.vocab_size, max_len=16, d_model=32,
                             n_heads=2, n_layers=1, d_ff=64, dropout=0.0)
    return TrainedSentiment("accurate", SentimentEncoder(config).eval(), tokenizer, config)


def test_distillation_labels_the_pool_within_the_teachers_share_of_the_budget() -> None:
    from dataclasses import replace

    from models.sentiment.distil import distil_within_budget
    from models.sentiment.encoder import SentimentEncoder
    from models.sentiment.lexical import BUCKETS
    from models.sentiment.train import FAST_FIT

    texts, labels, pool = list(TEXTS), list(LABELS), list(MARGINS)
    teacher = _tiny_teacher(texts + pool)
    fit = replace(FAST_FIT, max_epochs=1)

    unbounded = distil_within_budget(teacher, texts, labels, pool, fit=fit, vocabulary="own")
    assert unbounded.transfer == pool
    assert unbounded.student.metrics["n_transfer"] == len(pool)
    student = unbounded.student  # with time left, a lexical member mixed on validation
    assert isinstance(student.model, SentimentEncoder) and student.model.lexical is not None
    assert student.config.lexical_buckets == BUCKETS
    assert student.metrics["lexical_mix"] == float(student.model.mix)

    spent = distil_within_budget(teacher, texts, labels, pool, vocabulary="own",
                                 fit=replace(fit, max_seconds=0.0))
    assert spent.transfer == []  # no time for the pool: the student learns the labelled texts
    assert spent.student.metrics["n_transfer"] == 0
    # nor for the training texts: the budget binds the teacher there too, and a training text
    # it did not label is taught its own label
    assert spent.fresh == {} and spent.student.metrics["n_taught_labels"] == len(texts)
    assert unbounded.student.metrics["n_taught_labels"] == 0
    assert spent.student.profile == "distilled"
    assert spent.student.config.lexical_buckets == 0  # no time for it either


def test_known_teacher_logits_are_reused_and_only_unseen_texts_are_labelled() -> None:
    from dataclasses import replace

    from models.sentiment.distil import distil_within_budget
    from models.sentiment.train import FAST_FIT

    texts, labels, pool = list(TEXTS), list(LABELS), list(MARGINS)
    teacher = _tiny_teacher(texts + pool)
    fit = replace(FAST_FIT, max_epochs=1)

    first = distil_within_budget(teacher, texts, labels, pool, fit=fit, vocabulary="own")
    assert first.transfer == pool and first.reused == 0
    assert set(first.fresh) == {*texts, *pool}  # what the teacher said, to keep for next time
    known = {text: first.fresh[text] for text in [*texts, *pool[3:8]]}

    # no time left for the teacher: the student learns from what it said before
    spent = distil_within_budget(teacher, texts, labels, pool, known=known, vocabulary="own",
                                 fit=replace(fit, max_seconds=0.0))
    assert spent.transfer == pool[3:8] and spent.reused == 5 and spent.fresh == {}
    assert spent.student.metrics["n_transfer"] == 5

    again = distil_within_budget(teacher, texts, labels, pool, known=known, fit=fit,
                                 vocabulary="own")
    assert again.transfer == pool and again.reused == 5
    assert set(again.fresh) == set(pool) - set(pool[3:8])  # the training texts were known


def test_a_distilled_students_lexical_member_learns_the_teachers_answers_too() -> None:
    # Out of domain the transfer texts carry the words the labelled ones lack; a lexical member
    # fitted on the labelled texts alone knew none of them (trained on PhraseBank and scoring
    # SEntFiN it cost the student 0.09 macro-F1).
    from dataclasses import replace

    from models.sentiment.data import pad_batch
    from models.sentiment.encoder import SentimentEncoder
    from models.sentiment.train import FAST_FIT, train_distilled

    texts, labels = list(TEXTS), list(LABELS)
    said = {2: [-4.0, 0.0, 4.0], 0: [4.0, 0.0, -4.0], 1: [0.0, 4.0, 0.0]}
    transfer = [f"{w}{k} margins {v}" for w in "ijklmn" for k in range(4)
                for v in ("grew", "shrank")]
    transfer_logits = torch.tensor([said[2] if t.endswith("grew") else said[0]
                                    for t in transfer])
    student = train_distilled(texts, labels, teacher_logits=torch.tensor([said[y] for y in labels]),
                              transfer_texts=transfer, transfer_logits=transfer_logits,
                              fit=replace(FAST_FIT, max_epochs=1), vocabulary="own")
    model = student.model
    assert isinstance(model, SentimentEncoder) and model.lexical is not None
    probe = [student.tokenizer.encode(t).ids for t in ("margins grew", "margins shrank")]
    with torch.no_grad():
        lexical = model.lexical(*pad_batch(probe, student.tokenizer.pad_id))
    assert lexical.argmax(1).tolist() == [2, 0]


def test_a_training_text_the_teacher_did_not_label_is_taught_what_its_annotators_said() -> None:
    """Its own label at GOLD_LOGIT; copies of one text labelled differently share the logit in
    proportion, so neither copy is taught the other's label outright."""
    from models.sentiment.distil import GOLD_LOGIT, gold_logits

    taught = gold_logits(["up", "down", "mixed", "mixed", "up"], [2, 0, 0, 2, 2])
    assert taught == {"up": [0.0, 0.0, GOLD_LOGIT], "down": [GOLD_LOGIT, 0.0, 0.0],
                      "mixed": [GOLD_LOGIT / 2, 0.0, GOLD_LOGIT / 2]}

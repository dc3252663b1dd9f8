"""Masking for the encoder's domain adaptation (models.sentiment.adapt)."""

from __future__ import annotations

import numpy as np
import torch

from models.sentiment.adapt import IGNORE, AdaptConfig, held_out_split, mask_batch, word_ids

MASK_ID = 103
RANDOM_IDS = np.arange(5000, 6000)  # disjoint from the texts' ids, so a random swap shows


def _batch(rows: int, words: int, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] w1 .. wn [SEP] [PAD]..: one piece a word, ids 1000+; word numbers -1 off words."""
    ids = torch.zeros((rows, width), dtype=torch.long)
    numbers = torch.full((rows, width), -1, dtype=torch.long)
    for row in range(rows):
        ids[row, 0], ids[row, words + 1] = 101, 102
        ids[row, 1:words + 1] = torch.arange(1000 + row * words, 1000 + (row + 1) * words)
        numbers[row, 1:words + 1] = torch.arange(words)
    return ids, numbers


def test_masking_takes_exact_shares_and_never_a_special_token() -> None:
    ids, numbers = _batch(rows=20, words=20, width=25)
    masked, labels = mask_batch(ids, numbers, config=AdaptConfig(), mask_id=MASK_ID,
                                random_ids=RANDOM_IDS, rng=np.random.default_rng(0))
    chosen = labels != IGNORE
    assert chosen.sum(dim=1).tolist() == [3] * 20  # 15% of 20 words in every text
    assert torch.equal(labels[chosen], ids[chosen])
    assert int((masked == MASK_ID).sum()) == 48  # 80% of 60
    assert int((chosen & (masked >= 5000)).sum()) == 6  # 10% random pieces
    assert int((chosen & (masked == ids)).sum()) == 6  # 10% left as they were
    assert torch.equal(masked[~chosen], ids[~chosen])
    special = numbers < 0  # [CLS], [SEP], padding
    assert not bool(chosen[special].any())


def test_a_chosen_word_is_masked_with_all_its_pieces() -> None:
    ids = torch.arange(1000, 1024).reshape(2, 12)
    numbers = torch.tensor([[-1, 0, 0, 1, 2, 2, 2, 3, 4, 5, 5, -1],
                            [-1, 0, 1, 1, 2, 3, 4, 4, 4, 5, 6, -1]])
    for seed in range(20):
        _, labels = mask_batch(ids, numbers, config=AdaptConfig(), mask_id=MASK_ID,
                               random_ids=RANDOM_IDS, rng=np.random.default_rng(seed))
        for row in range(2):
            chosen = labels[row] != IGNORE
            words = set(numbers[row][chosen].tolist())
            assert len(words) == 1  # round(0.15 * 6 or 7 words) = 1
            assert torch.equal(chosen, torch.isin(numbers[row], torch.tensor(sorted(words))))


def test_masks_are_drawn_anew_with_another_seed_and_repeat_with_the_same() -> None:
    ids, numbers = _batch(rows=8, words=20, width=22)
    config = AdaptConfig()

    def draw(seed: int) -> torch.Tensor:
        return mask_batch(ids, numbers, config=config, mask_id=MASK_ID, random_ids=RANDOM_IDS,
                          rng=np.random.default_rng(seed))[1]

    assert torch.equal(draw(1), draw(1))
    assert not torch.equal(draw(1), draw(2))


def test_word_pieces_share_their_word_number() -> None:
    assert word_ids(["un", "##believ", "##ably", "bad", "news"]) == [0, 0, 0, 1, 2]
    assert word_ids(["##ly", "up"]) == [0, 1]


def test_the_held_out_texts_do_not_depend_on_their_order() -> None:
    texts = [f"headline number {n}" for n in range(100)]
    config = AdaptConfig(val_fraction=0.05)
    train, held = held_out_split(texts, config)
    assert held_out_split(list(reversed(texts)) + texts[:10], config) == (train, held)
    assert len(held) == 5 and set(train) | set(held) == set(texts)
    assert not set(train) & set(held)

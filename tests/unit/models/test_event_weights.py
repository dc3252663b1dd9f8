"""Event weights in the recommender's batches and training loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from domain.sequences import LeaveOneOutSplit
from models.recommender.data import training_batches
from models.recommender.sasrec import SASRecConfig
from models.recommender.train import LossKind, train_sasrec
from models.training import TrainConfig

N_ITEMS = 12
MODEL = SASRecConfig(n_items=N_ITEMS, max_len=8, d_model=16, d_ff=32, dropout=0.1)


def test_weighted_batches_are_the_unweighted_ones_plus_each_targets_weight() -> None:
    seqs = [np.array([1, 2, 3]), np.array([4, 5, 6, 7, 8, 9])]
    weights = [np.array([0.5, 2.0, 3.0], dtype=np.float32),
               np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], dtype=np.float32)]
    plain = training_batches(seqs, max_len=4, batch_size=8, rng=np.random.default_rng(0))
    weighted = training_batches(seqs, max_len=4, batch_size=8, rng=np.random.default_rng(0),
                                weights=weights)
    inputs, targets, target_weights = weighted[0]
    assert inputs.tolist() == plain[0][0].tolist() and targets.tolist() == plain[0][1].tolist()
    rows = {tuple(t): tuple(w) for t, w in zip(targets.tolist(), target_weights.tolist(),
                                                strict=True)}
    # Item 1 has no history, so nothing predicts it and its weight 0.5 is never used.
    assert rows == {(0, 0, 2, 3): (0.0, 0.0, 2.0, 3.0), (6, 7, 8, 9): (3.0, 4.0, 5.0, 6.0)}
    assert target_weights.dtype == torch.float32


def _split(weights: str) -> LeaveOneOutSplit:
    """Users walk the catalogue in steps of 1; every third event weighted 3 (or all 1)."""
    rng = np.random.default_rng(0)
    seqs = [(np.arange(s, s + 9) % N_ITEMS) + 1 for s in rng.integers(0, N_ITEMS, size=48)]
    train = [s[:-2] for s in seqs]
    if weights == "none":
        train_weights = None
    elif weights == "ones":
        train_weights = [np.ones(len(t), dtype=np.float32) for t in train]
    else:
        train_weights = [np.where(np.arange(len(t)) % 3 == 0, 3.0, 1.0).astype(np.float32)
                         for t in train]
    return LeaveOneOutSplit(
        n_items=N_ITEMS, train=train, users=np.arange(48),
        valid_target=np.array([s[-2] for s in seqs]), test_target=np.array([s[-1] for s in seqs]),
        train_weights=train_weights)


def _losses(weights: str, loss: LossKind = "full", epochs: int = 2) -> list[float]:
    config = TrainConfig(max_epochs=epochs, lr=1e-2, seed=0, device="cpu", patience=10)
    _, result = train_sasrec(_split(weights), MODEL, config, batch_size=16, loss=loss,
                             n_negatives=8)
    return [log.loss for log in result.history]


def test_weights_of_one_train_exactly_as_no_weights() -> None:
    assert _losses("ones") == _losses("none")


@pytest.mark.parametrize("loss", ["full", "sampled"])
def test_weighted_training_runs_and_differs_from_unweighted(loss: LossKind) -> None:
    weighted = _losses("thirds", loss, epochs=1)
    assert len(weighted) == 1 and np.isfinite(weighted[0])
    assert weighted != _losses("none", loss, epochs=1)

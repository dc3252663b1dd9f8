"""The shared training loop, the device helper and checkpoints."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from domain.sequences import LeaveOneOutSplit
from models.checkpoint import ChecksumMismatchError, load_checkpoint, save_checkpoint
from models.device import resolve_device
from models.recommender.data import left_pad, training_batches
from models.recommender.losses import full_softmax_loss
from models.recommender.sasrec import SASRec, SASRecConfig
from models.recommender.train import train_sasrec
from models.training import PROGRESS, Batch, TrainConfig, train

N_ITEMS = 12
MODEL = SASRecConfig(n_items=N_ITEMS, max_len=8, d_model=16, d_ff=32, dropout=0.1)


def _split() -> LeaveOneOutSplit:
    """Users walk the catalogue in steps of 1 from different starts: a learnable pattern."""
    rng = np.random.default_rng(0)
    seqs = [(np.arange(s, s + 9) % N_ITEMS) + 1 for s in rng.integers(0, N_ITEMS, size=48)]
    return LeaveOneOutSplit(
        n_items=N_ITEMS, train=[s[:-2] for s in seqs], users=np.arange(48),
        valid_target=np.array([s[-2] for s in seqs]), test_target=np.array([s[-1] for s in seqs]),
    )


def _run(seed: int) -> tuple[SASRec, list[float]]:
    config = TrainConfig(max_epochs=4, lr=1e-2, seed=seed, device="cpu", patience=10)
    model, result = train_sasrec(_split(), MODEL, config, batch_size=16)
    return model, [log.loss for log in result.history]


def test_training_reduces_loss_and_is_reproducible() -> None:
    model_a, losses_a = _run(seed=1)
    model_b, losses_b = _run(seed=1)
    assert losses_a[-1] < losses_a[0] - 0.3
    assert losses_a == losses_b
    for a, b in zip(model_a.state_dict().values(), model_b.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    _, losses_c = _run(seed=2)
    assert losses_c != losses_a


def test_early_stopping_restores_the_best_weights() -> None:
    torch.manual_seed(0)
    model = SASRec(MODEL)
    metrics = iter([0.1, 0.5, 0.4, 0.3, 0.2, 0.9])
    snapshots: list[dict[str, torch.Tensor]] = []
    seqs = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7]])
    targets = torch.tensor([[0, 2, 3, 4], [5, 6, 7, 8]])

    def evaluate(module: torch.nn.Module) -> float:
        snapshots.append({k: v.clone() for k, v in module.state_dict().items()})
        return next(metrics)

    def loss_fn(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
        return full_softmax_loss(module(batch[0]), batch[1], model.item_vectors())

    result = train(model, batches=lambda epoch: [(seqs, targets)], loss_fn=loss_fn,
                   evaluate=evaluate, config=TrainConfig(max_epochs=10, patience=3,
                                                         device="cpu"))
    assert (result.best_epoch, result.epochs_run, result.stop_reason) == (2, 5, "early stopping")
    assert result.best_metric == 0.5
    for name, value in model.state_dict().items():
        assert torch.equal(value, snapshots[1][name])


def test_training_batches_are_left_padded_and_shifted() -> None:
    batches = training_batches([np.array([1, 2, 3]), np.array([4, 5, 6, 7, 8, 9])], max_len=4,
                               batch_size=8, rng=np.random.default_rng(0), window="last")
    inputs, targets = batches[0]
    rows = {tuple(i): tuple(t) for i, t in zip(inputs.tolist(), targets.tolist(), strict=True)}
    # The long user keeps its newest 5 items; the first real item of the short one predicts
    # the second, and nothing predicts the first.
    assert rows == {(0, 0, 1, 2): (0, 0, 2, 3), (5, 6, 7, 8): (6, 7, 8, 9)}
    assert left_pad([np.array([1, 2, 3, 4, 5]), np.array([7])], 3).tolist() == [[3, 4, 5],
                                                                                 [0, 0, 7]]


def test_resolve_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = SASRec(MODEL)
    path = tmp_path / "sasrec.pt"
    digest = save_checkpoint(path, model=model, config=MODEL,
                             extra={"item_ids": ["a", "b"], "ndcg": 0.19})
    loaded = load_checkpoint(path, sha256=digest)
    restored = SASRec(SASRecConfig(**loaded.config))
    restored.load_state_dict(loaded.state_dict)
    assert loaded.extra == {"item_ids": ["a", "b"], "ndcg": 0.19}
    seq = torch.tensor([[0, 3, 4]])
    assert torch.equal(model.eval()(seq), restored.eval()(seq))


def test_checkpoint_with_wrong_sha256_is_refused(tmp_path: Path) -> None:
    model = SASRec(MODEL)
    path = tmp_path / "sasrec.pt"
    digest = save_checkpoint(path, model=model, config=MODEL)
    with path.open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ChecksumMismatchError, match=rf"{path}.*{digest}.*Restore the original"):
        load_checkpoint(path, sha256=digest)


def test_a_tiny_budget_stops_within_the_first_epoch_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    config = TrainConfig(max_epochs=4, lr=1e-2, device="cpu", patience=10, max_seconds=1e-6)
    with caplog.at_level(logging.INFO, logger="models.training"):
        _, result = train_sasrec(_split(), MODEL, config, batch_size=4)  # 12 batches an epoch
    assert (result.epochs_run, result.steps, result.stop_reason) == (1, 1, "time budget")
    assert result.history[0].steps == 1 and result.history[0].metric is not None
    progress = [r.__dict__[PROGRESS] for r in caplog.records if PROGRESS in r.__dict__]
    assert [(p.epoch, p.max_epochs, p.steps, p.best_epoch) for p in progress] == [(1, 4, 1, 1)]


def test_without_a_budget_every_step_of_every_epoch_runs() -> None:
    config = TrainConfig(max_epochs=2, lr=1e-2, device="cpu", patience=10)
    _, result = train_sasrec(_split(), MODEL, config, batch_size=4)
    assert (result.epochs_run, result.steps, result.stop_reason) == (2, 24, "max epochs")
    assert [log.steps for log in result.history] == [12, 12]


def test_a_step_limit_ends_the_run_mid_epoch_and_says_so() -> None:
    config = TrainConfig(max_epochs=4, lr=1e-2, device="cpu", patience=10, max_steps=15)
    _, result = train_sasrec(_split(), MODEL, config, batch_size=4)  # 12 batches an epoch
    assert (result.epochs_run, result.steps, result.stop_reason) == (2, 15, "max steps")
    assert [log.steps for log in result.history] == [12, 3]
    assert result.history[-1].metric is not None

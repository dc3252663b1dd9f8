"""Batches, scorer and training wiring of the SASRec recommender on a leave-one-out split."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from domain.sequences import LeaveOneOutSplit
from models.device import seed_everything
from models.rec_eval import evaluate_split
from models.rec_losses import full_softmax_loss, sampled_softmax_loss
from models.sasrec import SASRec, SASRecConfig
from models.training import Batch, TrainConfig, TrainResult, train

Window = Literal["last", "random"]
LossKind = Literal["full", "sampled"]


def left_pad(histories: Sequence[np.ndarray], max_len: int,
             dtype: type[np.generic] = np.int64) -> np.ndarray:
    """(B, T) the newest ``max_len`` entries of each history, right-aligned; T = longest.

    Item ids pad with 0 (int64); ``dtype`` lets event weights pad alongside them.
    """
    width = max(1, min(max_len, max((len(h) for h in histories), default=1)))
    out = np.zeros((len(histories), width), dtype=dtype)
    for row, history in enumerate(histories):
        tail = history[-width:]
        if len(tail):
            out[row, width - len(tail):] = tail
    return out


def training_batches(train_seqs: Sequence[np.ndarray], *, max_len: int, batch_size: int,
                     rng: np.random.Generator, window: Window = "random",
                     weights: Sequence[np.ndarray] | None = None) -> list[Batch]:
    """One epoch of (inputs, targets) pairs, each (B, T), targets = inputs shifted by one.

    A sequence longer than ``max_len + 1`` is cut to one window: its newest items (``last``, as
    SASRec) or a window ending at a random position (``random``), so that over the epochs the
    whole history of a heavy user is trained on at the same cost. Sequences of similar length are
    batched together (length jittered by 10% for variety) to spend little time on padding.

    With per-event ``weights`` (parallel to ``train_seqs``) each batch is a triple (inputs,
    targets, target weights), the last (B, T) float32 with 0 where the target is padding. The
    random draws are the same as without weights, so equal weights give the same batches.
    """
    windows: list[slice] = []
    kept: list[int] = []
    for index, seq in enumerate(train_seqs):
        if len(seq) < 2:
            continue
        end = len(seq)
        if window == "random" and end > max_len + 1:
            end = int(rng.integers(max_len + 1, end + 1))
        windows.append(slice(max(0, end - max_len - 1), end))
        kept.append(index)
    lengths = np.array([w.stop - w.start for w in windows], dtype=np.float64)
    order = np.argsort(lengths * rng.uniform(0.9, 1.1, size=len(windows)), kind="stable")
    chunks = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    batches: list[Batch] = []
    for chunk in (chunks[i] for i in rng.permutation(len(chunks))):
        padded = left_pad([train_seqs[kept[i]][windows[i]] for i in chunk],
                          max_len + 1)  # (B, T + 1)
        inputs, targets = padded[:, :-1].copy(), padded[:, 1:].copy()  # (B, T) each
        targets[inputs == 0] = 0  # the first real item has no history to predict it from
        if weights is None:
            batches.append((torch.from_numpy(inputs), torch.from_numpy(targets)))
            continue
        padded_weights = left_pad([weights[kept[i]][windows[i]] for i in chunk], max_len + 1,
                                  dtype=np.float32)  # (B, T + 1)
        target_weights = padded_weights[:, 1:].copy()  # (B, T): each target event's weight
        target_weights[targets == 0] = 0.0
        batches.append((torch.from_numpy(inputs), torch.from_numpy(targets),
                        torch.from_numpy(target_weights)))
    return batches


class SASRecScorer:
    """Scores every item for users' histories with a SASRec model, in length-sorted batches."""

    def __init__(self, model: SASRec, *, batch_size: int = 512) -> None:
        self.model = model
        self.batch_size = batch_size

    def __call__(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """(B, N+1) float32 scores; column 0 is padding."""
        device = next(self.model.parameters()).device
        max_len = self.model.config.max_len
        out = np.empty((len(histories), self.model.config.n_items + 1), dtype=np.float32)
        order = np.argsort([len(h) for h in histories], kind="stable")
        was_training = self.model.training
        self.model.eval()
        with torch.inference_mode():
            for begin in range(0, len(order), self.batch_size):
                rows = order[begin:begin + self.batch_size]
                seq = torch.from_numpy(left_pad([histories[i] for i in rows], max_len))
                out[rows] = self.model.score(seq.to(device)).float().cpu().numpy()
        self.model.train(was_training)
        return out


def train_sasrec(split: LeaveOneOutSplit, model_config: SASRecConfig, train_config: TrainConfig,
                 *, batch_size: int = 128, window: Window = "random", loss: LossKind = "full",
                 n_negatives: int = 256, metric_k: int = 10, bf16_matmul: bool = False,
                 item_text: torch.Tensor | None = None) -> tuple[SASRec, TrainResult]:
    """Train SASRec on the training prefixes, early-stopping on validation NDCG@k.

    ``bf16_matmul`` lets the CPU full-softmax loss multiply in bfloat16 (see ``rec_losses``).
    When the split carries ``train_weights`` each position's loss is weighted by the weight of
    the event it predicts; validation stays unweighted.
    """
    if model_config.n_items != split.n_items:
        raise ValueError(f"model n_items {model_config.n_items} != split n_items {split.n_items}")
    seed_everything(train_config.seed)
    model = SASRec(model_config, item_text=item_text)
    scorer = SASRecScorer(model)
    # Uniform proposal: q = 1/N for every item, so the logQ term is a constant.
    log_q = torch.full((split.n_items + 1,), -math.log(split.n_items))

    def batches(epoch: int) -> list[Batch]:
        rng = np.random.default_rng([train_config.seed, epoch])
        return training_batches(split.train, max_len=model_config.max_len,
                                batch_size=batch_size, rng=rng, window=window,
                                weights=split.train_weights)

    def loss_fn(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
        inputs, targets, *rest = batch  # rest: the target weights of a weighted split
        weights = rest[0] if rest else None
        hidden = module(inputs)
        if loss == "full":
            return full_softmax_loss(hidden, targets, model.item_vectors(), weights=weights,
                                     bf16_matmul=bf16_matmul)
        negatives = torch.randint(1, split.n_items + 1, (n_negatives,), device=inputs.device)
        return sampled_softmax_loss(hidden, targets, model.item_vectors(), negatives,
                                    log_q.to(inputs.device), weights=weights)

    def evaluate(_: torch.nn.Module) -> float:
        return evaluate_split(scorer, split, "valid", k=metric_k, with_coverage=False).ndcg

    result = train(model, batches=batches, loss_fn=loss_fn, evaluate=evaluate,
                   config=train_config)
    return model, result

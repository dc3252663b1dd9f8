"""Batches of the sequential recommender: left-padded histories and shifted next-item targets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch

from models.training import Batch

Window = Literal["last", "random"]


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

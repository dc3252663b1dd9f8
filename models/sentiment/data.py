"""Turning labelled texts into model batches: label ids, splits, class weights, framing,
length-bucketed padding. Shared by training, evaluation and scoring."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from domain.records import SENTIMENT_LABELS
from models.sentiment.tokenizer import TextTokenizer
from models.training import Batch

logger = logging.getLogger(__name__)


def label_ids(labels: Sequence[str]) -> list[int]:
    """Label names -> ids in SENTIMENT_LABELS order; an unknown name is an error."""
    index = {name: i for i, name in enumerate(SENTIMENT_LABELS)}
    unknown = sorted({label for label in labels if label not in index})
    if unknown:
        raise ValueError(f"unknown sentiment labels {unknown}; expected {SENTIMENT_LABELS}")
    return [index[label] for label in labels]


def stratified_split(labels: Sequence[int], *, test_fraction: float,
                     seed: int) -> tuple[list[int], list[int]]:
    """Indices of a stratified (train, held-out) split."""
    rows = np.arange(len(labels))
    kept, held = train_test_split(rows, test_size=test_fraction, random_state=seed,
                                  stratify=np.asarray(labels))
    return sorted(int(i) for i in kept), sorted(int(i) for i in held)


def class_weights(labels: Sequence[int], power: float) -> torch.Tensor:
    """(n / (k * count)) ** power per class."""
    counts = np.bincount(np.asarray(labels), minlength=len(SENTIMENT_LABELS)).astype(float)
    balanced = len(labels) / (len(SENTIMENT_LABELS) * np.maximum(counts, 1.0))
    return torch.tensor(balanced ** power, dtype=torch.float32)


def encode_for_model(tokenizer: TextTokenizer, texts: Sequence[str],
                     max_len: int) -> list[list[int]]:
    """Framed ids per text; a training text longer than the window keeps its first window
    (logged; scoring never does this, see sentiment_infer)."""
    window = max_len - tokenizer.n_special
    encoded = [e.ids for e in tokenizer.encode_batch(texts)]
    cropped = sum(len(ids) > window for ids in encoded)
    if cropped:
        logger.info("%d of %d training texts are longer than %d tokens: trained on their first "
                    "window", cropped, len(encoded), window)
    return [tokenizer.frame(ids[:window] or [tokenizer.unk_id]) for ids in encoded]


def bucketed_batches(seqs: Sequence[list[int]], targets: Sequence[torch.Tensor], *,
                     pad_id: int, batch_size: int, bucket_batches: int, seed: int,
                     token_dropout: float = 0.0, unk_id: int = 1,
                     keep_ids: Sequence[int] = ()) -> list[Batch]:
    """Shuffled batches of similar length: (ids, mask, *targets[rows]) each; with
    ``token_dropout`` a share of the real tokens (not ``keep_ids``) becomes ``unk_id``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(seqs))
    pool = batch_size * bucket_batches
    groups: list[np.ndarray] = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort([len(seqs[i]) for i in chunk], kind="stable")]
        groups += [chunk[s:s + batch_size] for s in range(0, len(chunk), batch_size)]
    batches: list[Batch] = []
    for position in rng.permutation(len(groups)):
        rows = groups[position]
        ids, mask = pad_batch([seqs[i] for i in rows], pad_id)
        if token_dropout > 0:
            drop = torch.from_numpy(rng.random(ids.shape) < token_dropout) & mask
            for kept_id in keep_ids:
                drop &= ids != kept_id
            ids = ids.masked_fill(drop, unk_id)
        index = torch.from_numpy(rows)
        batches.append((ids, mask, *(t[index] for t in targets)))
    return batches


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (B, T) padded to the longest sequence of the batch, and its real-token mask (B, T)."""
    width = max(len(s) for s in seqs)
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, :len(seq)] = seq
    tensor = torch.from_numpy(ids)
    lengths = torch.tensor([len(s) for s in seqs])
    mask = torch.arange(width)[None, :] < lengths[:, None]  # (B, T)
    return tensor, mask


def bucketed_order(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar length (longest first)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]

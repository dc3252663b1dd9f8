"""Contrastive fine-tuning of the turn encoder on (customer turn, agent reply) pairs.

Each batch's turns are pulled towards their own replies and away from the other replies of
the batch (in-batch negatives: the multiple-negatives ranking loss of Henderson et al. 2017,
"Efficient Natural Language Response Suggestion for Smart Reply", as sentence-transformers
trains MiniLM), scale 20 as sentence-transformers' default. Early stopping on the MRR of
held-out turns ranking their held-out replies.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from models.sentiment.data import pad_batch
from models.support.encoder import MAX_LEN, MeanPooledEncoder, TurnEncoder
from models.training import Batch, TrainConfig, TrainResult, train

SCALE = 20.0  # inverse temperature of the cosine logits (sentence-transformers' default)


def ranking_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Cross-entropy of each turn against every reply of the batch, its own the target."""
    q_ids, q_mask, r_ids, r_mask = batch
    q, r = model(q_ids, q_mask), model(r_ids, r_mask)  # (B, C), (B, C)
    logits = SCALE * q @ r.T  # (B, B)
    return nn.functional.cross_entropy(logits, torch.arange(len(q), device=q.device))


def reply_mrr(encoder: TurnEncoder, turns: Sequence[str], replies: Sequence[str]) -> float:
    """MRR of each turn's own reply among all ``replies`` by cosine similarity."""
    scores = encoder.encode(turns) @ encoder.encode(replies).T  # (N, N)
    rank = 1 + (scores > np.diag(scores)[:, None]).sum(axis=1)
    return float((1.0 / rank).mean())


def tune_encoder(encoder: TurnEncoder, turns: Sequence[str], replies: Sequence[str], *,
                 valid: tuple[Sequence[str], Sequence[str]], config: TrainConfig,
                 batch_size: int = 32) -> TrainResult:
    """Fine-tune ``encoder``'s model in place on the pairs; it keeps its best weights."""
    keep = MAX_LEN - encoder.tokenizer.n_special
    tokenizer = encoder.tokenizer

    def framed(texts: Sequence[str]) -> list[list[int]]:
        return [tokenizer.frame(e.ids[:keep]) for e in tokenizer.encode_batch(texts)]

    q, r = framed(turns), framed(replies)

    def batches(epoch: int) -> list[Batch]:
        order = np.random.default_rng(config.seed + epoch).permutation(len(q))
        return [(*pad_batch([q[i] for i in rows], tokenizer.pad_id),
                 *pad_batch([r[i] for i in rows], tokenizer.pad_id))
                for rows in np.array_split(order, max(1, len(q) // batch_size))]

    def evaluate(model: nn.Module) -> float:
        assert isinstance(model, MeanPooledEncoder)
        return reply_mrr(TurnEncoder(model, tokenizer, encoder.sha256), *valid)

    encoder.model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    result = train(encoder.model, batches=batches, loss_fn=ranking_loss, evaluate=evaluate,
                   config=config)
    encoder.model.cpu().eval()
    return result

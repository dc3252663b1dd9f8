"""Held-out quality of a sentiment model: accuracy and macro-F1, through the scoring path."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sklearn.metrics import accuracy_score, f1_score

from domain.records import SENTIMENT_LABELS
from models.sentiment.data import bucketed_order, pad_batch
from models.sentiment.encoder import SentimentClassifier
from models.sentiment.predict import TrainedSentiment, score_texts


@torch.inference_mode()
def predict_logits(model: SentimentClassifier, seqs: Sequence[list[int]], *, pad_id: int,
                   batch_size: int = 128) -> torch.Tensor:
    """Logits (N, 3) in input order, computed in length-sorted batches."""
    device = next(model.parameters()).device
    out = torch.zeros(len(seqs), len(SENTIMENT_LABELS))
    for rows in bucketed_order([len(s) for s in seqs], batch_size):
        ids, mask = pad_batch([seqs[i] for i in rows], pad_id)
        out[torch.from_numpy(rows)] = model(ids.to(device), mask.to(device)).float().cpu()
    return out


def classification_metrics(truth: Sequence[int], predicted: Sequence[int]) -> dict[str, float]:
    """Accuracy and macro-F1 over the three classes (scikit-learn)."""
    return {"accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro",
                                       labels=list(range(len(SENTIMENT_LABELS))),
                                       zero_division=0))}


def evaluate_texts(trained: TrainedSentiment, texts: Sequence[str],
                   labels: Sequence[int]) -> dict[str, float]:
    """Test metrics through the production scoring path (sentiment_infer.score_texts)."""
    scores = score_texts(trained, texts, top_k=0)
    return classification_metrics(labels, scores.probs.argmax(axis=1).tolist())

"""Held-out quality of a sentiment model: accuracy, macro-F1 and calibration (ECE), through
the scoring path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.metrics import accuracy_score, f1_score

from domain.records import SENTIMENT_LABELS
from models.calibration import expected_calibration_error
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


@dataclass(frozen=True)
class HeldOut:
    """A model on held-out texts: its predicted classes (what champion and challenger are
    compared on, document by document) and its metrics."""

    predicted: np.ndarray  # (N,) class ids from the calibrated probabilities
    metrics: dict[str, float]  # accuracy, macro_f1, ece (calibrated), ece_uncalibrated


def evaluate_held_out(trained: TrainedSentiment, texts: Sequence[str],
                      labels: Sequence[int]) -> HeldOut:
    """Metrics of ``trained`` on held-out texts, with ECE (15 bins) of its calibrated
    probabilities and of the raw ones (temperature 1), so the calibration's gain is on record."""
    scores = score_texts(trained, texts, top_k=0)
    probs = scores.probs
    raw = probs if scores.raw_probs is None else scores.raw_probs
    truth = np.asarray(labels)
    predicted = probs.argmax(axis=1)
    metrics = classification_metrics(labels, predicted.tolist()) | {
        "ece": expected_calibration_error(probs, truth),
        "ece_uncalibrated": expected_calibration_error(raw, truth)}
    return HeldOut(predicted=predicted, metrics=metrics)

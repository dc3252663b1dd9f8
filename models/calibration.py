"""Calibrated probabilities: temperature scaling and expected calibration error.

Guo et al. 2017 ("On Calibration of Modern Neural Networks") show that modern networks are
over-confident and that one temperature T, fitted on held-out data by minimising the negative
log-likelihood of softmax(logits / T), fixes most of it without changing any prediction's
argmax. ECE is their measure: the confidence-weighted gap between confidence and accuracy over
15 equal-width confidence bins.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

ECE_BINS = 15  # Guo et al. 2017
T_BOUNDS = (0.05, 20.0)  # a temperature outside these says the held-out set is degenerate


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T in [0.05, 20] minimising the NLL of softmax(logits / T) on held-out (N, C) logits.

    Optimised over log T with L-BFGS (Guo et al. 2017's reference implementation does the same
    over T); the NLL is convex in 1/T, so the optimum is unique.
    """
    if len(labels) == 0:
        return 1.0
    # A copy: logits made under inference_mode cannot take part in autograd.
    logits, labels = logits.detach().float().clone(), labels.long().clone()
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()  # type: ignore[no-untyped-call]
        return loss

    optimizer.step(closure)  # type: ignore[no-untyped-call]
    return float(np.clip(float(log_t.detach().exp()), *T_BOUNDS))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) from probabilities: p ** (1 / T), renormalised (log p differs from
    the logits by a constant per row, which softmax ignores)."""
    if temperature == 1.0:
        return probs
    scaled = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=probs.dtype)


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray,
                               bins: int = ECE_BINS) -> float:
    """ECE: sum over confidence bins of |accuracy - mean confidence| x share of rows."""
    if len(labels) == 0:
        return 0.0
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    # Bins (i/bins, (i+1)/bins]; a confidence of exactly 0 joins the first.
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        rows = index == b
        if rows.any():
            total += abs(float(correct[rows].mean()) - float(confidence[rows].mean())) * \
                float(rows.mean())
    return total

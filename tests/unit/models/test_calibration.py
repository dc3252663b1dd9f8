"""Temperature scaling and expected calibration error (Guo et al. 2017)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.calibration import apply_temperature, expected_calibration_error, fit_temperature


def _overconfident(n: int = 4000, sharpen: float = 3.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels drawn from softmax(z); the model reports ``sharpen`` * z: over-confident."""
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(n, 3, generator=generator) * 1.5
    labels = torch.multinomial(torch.softmax(z, dim=1), 1, generator=generator).squeeze(1)
    with torch.inference_mode():  # as the training code's validation logits are made
        logits = z * sharpen
    return logits, labels


def test_fitted_temperature_undoes_over_confidence_and_lowers_ece() -> None:
    logits, labels = _overconfident()
    temperature = fit_temperature(logits, labels)
    assert temperature == pytest.approx(3.0, rel=0.15)
    raw = torch.softmax(logits, dim=1).numpy()
    calibrated = apply_temperature(raw, temperature)
    before = expected_calibration_error(raw, labels.numpy())
    after = expected_calibration_error(calibrated, labels.numpy())
    assert before > 0.1 and after < 0.03
    assert (calibrated.argmax(1) == raw.argmax(1)).all()  # predictions never change


def test_temperature_on_probabilities_equals_softmax_of_scaled_logits() -> None:
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 0.0, 4.0]])
    scaled = apply_temperature(torch.softmax(logits, 1).numpy(), 2.0)
    assert np.allclose(scaled, torch.softmax(logits / 2.0, 1).numpy(), atol=1e-6)


def test_ece_is_the_weighted_gap_between_confidence_and_accuracy() -> None:
    # Two bins: confidence 0.9 with 3 of 4 right (gap 0.15), 0.6 with 1 of 1 right (gap 0.4).
    probs = np.array([[0.9, 0.05, 0.05]] * 4 + [[0.6, 0.3, 0.1]])
    labels = np.array([0, 0, 0, 1, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.8 * 0.15 + 0.2 * 0.4)

"""SASRec shapes, causality, padding invariance, text fusion and its losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.rec_losses import full_softmax_loss, sampled_softmax_loss
from models.sasrec import SASRec, SASRecConfig

N_ITEMS = 30
CONFIG = SASRecConfig(n_items=N_ITEMS, max_len=12, d_model=16, n_heads=2, d_ff=32, dropout=0.1)


def _model(**kwargs: object) -> SASRec:
    torch.manual_seed(0)
    model = SASRec(CONFIG, **kwargs)  # type: ignore[arg-type]
    return model.eval()


def test_shapes() -> None:
    model = _model()
    seq = torch.tensor([[0, 0, 3, 4, 5], [1, 2, 3, 4, 5]])
    assert model(seq).shape == (2, 5, 16)
    assert model.encode_users(seq).shape == (2, 16)
    assert model.item_vectors().shape == (N_ITEMS + 1, 16)
    assert model.score(seq).shape == (2, N_ITEMS + 1)


def test_changing_a_future_item_never_changes_earlier_positions() -> None:
    model = _model()
    seq = torch.tensor([[0, 0, 3, 4, 5, 6]])
    changed = seq.clone()
    changed[0, 4] = 17
    with torch.no_grad():
        a, b = model(seq), model(changed)
    assert torch.equal(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_padding_never_influences_real_positions() -> None:
    model = _model()
    short = torch.tensor([[3, 4, 5]])
    padded = torch.tensor([[0, 0, 0, 0, 3, 4, 5]])
    with torch.no_grad():
        a, b = model(short), model(padded)
        users = model.encode_users(torch.tensor([[0, 0, 0, 3, 4, 5], [0, 9, 8, 3, 4, 5]]))
    torch.testing.assert_close(a, b[:, 4:], rtol=1e-5, atol=1e-5)
    assert users.shape == (2, 16)
    torch.testing.assert_close(users[0], a[0, -1], rtol=1e-5, atol=1e-5)


def test_too_long_sequence_is_refused() -> None:
    with pytest.raises(ValueError, match="max_len 12"):
        _model()(torch.ones(1, 13, dtype=torch.long))


def test_item_text_gives_cold_items_a_vector_and_keeps_padding_zero() -> None:
    config = SASRecConfig(n_items=N_ITEMS, max_len=12, d_model=16, d_ff=32, text_dim=8)
    text = torch.randn(N_ITEMS + 1, 8)
    torch.manual_seed(0)
    model = SASRec(config, item_text=text)
    vectors = model.item_vectors()
    assert vectors.shape == (N_ITEMS + 1, 16)
    assert torch.count_nonzero(vectors[0]) == 0
    new_item = model.embed_text(torch.randn(2, 8))
    assert new_item.shape == (2, 16)
    with pytest.raises(ValueError, match="text_dim"):
        SASRec(config, item_text=torch.randn(N_ITEMS, 8))


def test_full_softmax_loss_matches_cross_entropy_value_and_gradients() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(3, 200, 16, requires_grad=True)  # 600 positions: several CPU chunks
    vectors = torch.randn(N_ITEMS + 1, 16, requires_grad=True)
    targets = torch.randint(1, N_ITEMS + 1, (3, 200))
    targets[0, :50] = 0  # padding positions carry no loss
    loss = full_softmax_loss(hidden, targets, vectors)
    loss.backward()
    got = (hidden.grad.clone(), vectors.grad.clone())  # type: ignore[union-attr]
    hidden.grad, vectors.grad = None, None
    real = targets > 0
    reference = F.cross_entropy(hidden[real] @ vectors[1:].T, targets[real] - 1)
    reference.backward()
    torch.testing.assert_close(loss, reference)
    torch.testing.assert_close(got[0], hidden.grad)
    torch.testing.assert_close(got[1], vectors.grad)
    assert torch.count_nonzero(got[1][0]) == 0  # padding is not a class


def test_sampled_softmax_with_every_item_as_negative_equals_full_softmax() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(2, 5, 16)
    vectors = torch.randn(N_ITEMS + 1, 16)
    targets = torch.randint(1, N_ITEMS + 1, (2, 5))
    log_q = torch.full((N_ITEMS + 1,), -torch.log(torch.tensor(float(N_ITEMS))).item())
    negatives = torch.arange(1, N_ITEMS + 1)  # the target among them is dropped as a hit
    sampled = sampled_softmax_loss(hidden, targets, vectors, negatives, log_q)
    torch.testing.assert_close(sampled, full_softmax_loss(hidden, targets, vectors))


def test_bf16_matmul_loss_stays_close_to_float32() -> None:
    torch.manual_seed(0)
    hidden = torch.randn(2, 300, 16, requires_grad=True)
    vectors = torch.randn(N_ITEMS + 1, 16)
    targets = torch.randint(1, N_ITEMS + 1, (2, 300))
    exact = full_softmax_loss(hidden, targets, vectors)
    exact_grad = torch.autograd.grad(exact, hidden)[0]
    fast = full_softmax_loss(hidden, targets, vectors, bf16_matmul=True)
    fast_grad = torch.autograd.grad(fast, hidden)[0]
    assert fast.dtype == torch.float32 and fast_grad.dtype == torch.float32
    torch.testing.assert_close(fast, exact, rtol=1e-2, atol=0.0)
    assert (fast_grad - exact_grad).norm() / exact_grad.norm() < 2e-2

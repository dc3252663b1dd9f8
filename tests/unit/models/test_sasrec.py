"""SASRec shapes, causality, padding invariance, text fusion and its losses."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from models.recommender.losses import full_softmax_loss, sampled_softmax_loss
from models.recommender.sasrec import SASRec, SASRecConfig

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


def _weighted_case(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                           torch.Tensor]:
    """600 positions (several CPU chunks), some padding, weights spread over [0, 4)."""
    torch.manual_seed(seed)
    hidden = torch.randn(3, 200, 16, requires_grad=True)
    vectors = torch.randn(N_ITEMS + 1, 16, requires_grad=True)
    targets = torch.randint(1, N_ITEMS + 1, (3, 200))
    targets[0, :50] = 0
    weights = torch.rand(3, 200) * 4
    weights[1, :10] = 0.0  # a weight-0 position contributes nothing
    return hidden, vectors, targets, weights


def _loss_and_grads(loss: torch.Tensor, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (loss.detach(), *torch.autograd.grad(loss, inputs))


def _weighted_reference(hidden: torch.Tensor, vectors: torch.Tensor, targets: torch.Tensor,
                        weights: torch.Tensor) -> torch.Tensor:
    real = targets > 0
    losses = F.cross_entropy(hidden[real] @ vectors[1:].T, targets[real] - 1, reduction="none")
    return (weights[real] * losses).sum() / weights[real].sum()


def _assert_full_softmax_matches_reference(hidden: torch.Tensor, vectors: torch.Tensor,
                                           targets: torch.Tensor, weights: torch.Tensor
                                           ) -> tuple[torch.Tensor, ...]:
    """The weighted full softmax's loss and gradients equal the reference's; returns them."""
    got = _loss_and_grads(full_softmax_loss(hidden, targets, vectors, weights=weights),
                          hidden, vectors)
    want = _loss_and_grads(_weighted_reference(hidden, vectors, targets, weights),
                           hidden, vectors)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    return got


def test_weighted_full_softmax_matches_weighted_cross_entropy_value_and_gradients() -> None:
    hidden, vectors, targets, weights = _weighted_case()
    got = _assert_full_softmax_matches_reference(hidden, vectors, targets, weights)
    plain = full_softmax_loss(hidden, targets, vectors)
    assert abs(float(got[0]) - float(plain.detach())) > 1e-3  # the weights changed the loss
    assert torch.count_nonzero(got[2][0]) == 0  # padding is still not a class


def test_weighted_full_softmax_gradients_match_finite_differences() -> None:
    # gradcheck itself cannot run: it calls backward twice on one graph, and the chunked loss
    # frees its saved softmax after the first (by design, to save memory).
    torch.manual_seed(0)
    hidden = torch.randn(2, 4, 5, dtype=torch.float64, requires_grad=True)
    vectors = torch.randn(7, 5, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([[0, 1, 2, 6], [3, 3, 5, 4]])
    weights = torch.tensor([[0.0, 1.0, 2.5, 0.5], [3.0, 1.0, 0.0, 2.0]], dtype=torch.float64)

    def loss_of(h: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return full_softmax_loss(h, targets, v, weights=weights)

    analytic = torch.autograd.grad(loss_of(hidden, vectors), (hidden, vectors))
    eps = 1e-6
    with torch.no_grad():
        for tensor, grad in zip((hidden, vectors), analytic, strict=True):
            numeric = torch.empty_like(tensor)
            for index in range(tensor.numel()):
                flat = tensor.view(-1)
                flat[index] += eps
                up = loss_of(hidden, vectors)
                flat[index] -= 2 * eps
                down = loss_of(hidden, vectors)
                flat[index] += eps
                numeric.view(-1)[index] = (up - down) / (2 * eps)
            torch.testing.assert_close(grad, numeric, rtol=1e-6, atol=1e-8)


def test_weights_of_one_give_exactly_the_unweighted_loss_and_gradients() -> None:
    hidden, vectors, targets, _ = _weighted_case()
    ones = torch.ones(targets.shape)
    weighted = _loss_and_grads(full_softmax_loss(hidden, targets, vectors, weights=ones),
                               hidden, vectors)
    plain = _loss_and_grads(full_softmax_loss(hidden, targets, vectors), hidden, vectors)
    for a, b in zip(weighted, plain, strict=True):
        assert torch.equal(a, b)


def test_weighted_sampled_softmax_matches_weighted_cross_entropy() -> None:
    hidden, vectors, targets, weights = _weighted_case()
    log_q = torch.full((N_ITEMS + 1,), -torch.log(torch.tensor(float(N_ITEMS))).item())
    negatives = torch.arange(1, N_ITEMS + 1)  # every item: the sampled loss is the full one
    got = _loss_and_grads(sampled_softmax_loss(hidden, targets, vectors, negatives, log_q,
                                                weights=weights), hidden, vectors)
    want = _loss_and_grads(_weighted_reference(hidden, vectors, targets, weights),
                           hidden, vectors)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b)
    ones = sampled_softmax_loss(hidden, targets, vectors, negatives, log_q,
                                weights=torch.ones(targets.shape))
    torch.testing.assert_close(ones, sampled_softmax_loss(hidden, targets, vectors, negatives,
                                                          log_q))


def test_all_zero_weights_give_zero_loss_not_nan() -> None:
    hidden, vectors, targets, _ = _weighted_case()
    zeros = torch.zeros(targets.shape)
    loss, grad_h, grad_v = _loss_and_grads(
        full_softmax_loss(hidden, targets, vectors, weights=zeros), hidden, vectors)
    assert float(loss) == 0.0
    assert torch.count_nonzero(grad_h) == 0 and torch.count_nonzero(grad_v) == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the fused CUDA path needs a GPU")
def test_weighted_full_softmax_on_cuda_matches_weighted_cross_entropy() -> None:
    hidden, vectors, targets, weights = _weighted_case()
    hidden = hidden.detach().cuda().requires_grad_()
    vectors = vectors.detach().cuda().requires_grad_()
    targets, weights = targets.cuda(), weights.cuda()
    _assert_full_softmax_matches_reference(hidden, vectors, targets, weights)

"""Domain adaptation of the accurate profile's encoder without labels: masked-language-model
pre-training continued on the store's own text before fine-tuning (Gururangan et al. 2020,
"Don't Stop Pretraining": DAPT/TAPT).

The offline MiniLM ships its encoder only, without the MLM head it was distilled with. So the
model here is ``transformers.BertForMaskedLM`` built from MiniLM's config, its encoder loaded
with MiniLM's weights and its decoder tied to the word embeddings (BERT's weight tying), while
the head's transform (dense -> GELU -> LayerNorm) and the decoder bias start untrained. A short
warm-up therefore trains the head alone on the frozen encoder first; its held-out loss is the
untouched encoder's ("before"). The head then stays frozen while the encoder adapts, so the
adapted encoder's loss ("after") is measured through the same head and the drop is the
encoder's own. The word
embeddings stay frozen throughout, as in the accurate profile's fine-tuning (half the step
time), so the tied decoder keeps MiniLM's table and only the transformer blocks adapt.

Masking follows BERT (Devlin et al. 2019): 15% of the words of each text are chosen, all their
word pieces together (whole-word masking, Cui et al. 2021), and of the chosen tokens 80% become
[MASK], 10% a random word piece and 10% stay as they were; counts are rounded per text (words)
and per batch (the 80/10/10), so the shares are exact, not drawn. Masks are drawn anew every
epoch (RoBERTa's dynamic masking, Liu et al. 2019); the held-out 5% of texts is masked once,
with a fixed seed, so every validation and every run on the same texts measures the same thing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from models.checkpoint import load_checkpoint, save_checkpoint
from models.device import seed_everything
from models.sentiment.data import bucketed_batches, pad_batch
from models.sentiment.minilm import encoder_config, minilm_path, minilm_tokenizer
from models.sentiment.tokenizer import SUBWORD_PREFIX, TextTokenizer
from models.training import Batch, TrainConfig, TrainResult, train

logger = logging.getLogger(__name__)

MASK = "[MASK]"
IGNORE = -100  # label of a token that is not predicted (cross_entropy's ignore_index)
VAL_MASK_SEED = 0  # the held-out texts' one masking, the same in every run


@dataclass(frozen=True)
class AdaptConfig:
    """How the encoder is adapted."""

    max_len: int = 128  # tokens per text incl. [CLS]/[SEP]; headlines and tweets fit in 64
    mask_prob: float = 0.15  # share of each text's words chosen for prediction (BERT)
    replace_mask: float = 0.8  # of the chosen tokens -> [MASK]
    replace_random: float = 0.1  # -> a random word piece; the rest stay as they are
    batch_size: int = 32
    lr: float = 5e-5  # AdamW peak for the encoder; Gururangan et al. 2020 use 1e-4 at batch
    # 2048, smaller batches take a smaller rate
    head_lr: float = 1e-3  # the head-only warm-up: a fresh layer learns at a from-scratch rate
    head_steps: int = 100  # warm-up steps of the untrained head on the frozen encoder
    head_share: float = 0.4  # of the time budget, at most, for the warm-up: the head is frozen
    # afterwards, so how well it learned bounds what the encoder can show
    max_epochs: int = 3  # passes over the training texts; the budget usually ends sooner
    evals_per_epoch: int = 4  # held-out validations per pass
    max_steps: int | None = None  # stop after this many encoder steps (tests: fixed length)
    warmup_fraction: float = 0.06  # of the encoder steps, linear warm-up (RoBERTa's 6%)
    weight_decay: float = 0.01
    val_fraction: float = 0.05  # held-out texts for the MLM loss
    max_val_texts: int = 400  # so one validation stays short on a large store
    device: str = "auto"


@dataclass
class AdaptedEncoder:
    """The adapted MiniLM encoder (a transformers ``BertModel``) and how adapting went:
    ``mlm_loss_before`` is the untouched encoder's held-out MLM loss (head warmed up),
    ``mlm_loss_after`` the adapted one's."""

    encoder: nn.Module
    config: AdaptConfig
    metrics: dict[str, float]
    encoder_settings: dict[str, Any]
    run: TrainResult | None = None
    # each held-out text's summed MLM loss over its masked tokens on the untouched and on the
    # adapted encoder, and its masked tokens, in the same order: what the decision to use it
    # bootstraps over (their ratios of sums are ``mlm_loss_before`` and ``mlm_loss_after``)
    losses_before: np.ndarray = field(default_factory=lambda: np.empty(0))
    losses_after: np.ndarray = field(default_factory=lambda: np.empty(0))
    masked_tokens: np.ndarray = field(default_factory=lambda: np.empty(0))


class MaskedLanguageModel(nn.Module):
    """Encoder -> MLM head, the loss taken on the chosen tokens only (the vocabulary-wide
    decoder never runs on the other 85%)."""

    def __init__(self, encoder: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head

    def forward(self, ids: torch.Tensor, mask: torch.Tensor,
                labels: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy over the tokens whose label is not IGNORE."""
        h = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B,T,C)
        chosen = labels != IGNORE  # (B, T)
        logits = self.head(h[chosen])  # (M, V)
        return F.cross_entropy(logits, labels[chosen])


def masked_language_model() -> MaskedLanguageModel:
    """MiniLM's encoder under a BERT MLM head whose decoder is tied to the word embeddings; the
    head's transform and bias are untrained (MiniLM ships without them)."""
    from transformers import AutoConfig, AutoModel, BertForMaskedLM

    mlm = BertForMaskedLM(AutoConfig.from_pretrained(minilm_path()))
    encoder = AutoModel.from_pretrained(minilm_path())  # the BertModel fine-tuning loads
    # The MLM head reads the encoder's token states; pointing it at the pooler-bearing BertModel
    # keeps one set of encoder weights, saved and loaded as the accurate profile builds them.
    mlm.cls.predictions.decoder.weight = encoder.embeddings.word_embeddings.weight
    encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    return MaskedLanguageModel(encoder, mlm.cls)


def word_ids(tokens: Sequence[str]) -> list[int]:
    """Word number of each word piece: a "##" continuation shares its word's number."""
    numbers: list[int] = []
    for token in tokens:
        continues = token.startswith(SUBWORD_PREFIX) and bool(numbers)
        numbers.append(numbers[-1] if continues else (numbers[-1] + 1 if numbers else 0))
    return numbers


def mask_batch(ids: torch.Tensor, words: torch.Tensor, *, config: AdaptConfig, mask_id: int,
               random_ids: np.ndarray, rng: np.random.Generator
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked input ids and labels (IGNORE where nothing is predicted) of a padded batch.

    ``words`` (B, T) numbers the words of each row and is -1 on [CLS], [SEP] and padding, which
    are therefore never chosen. Each row gets round(mask_prob * its words) words (at least 1);
    of all chosen tokens of the batch, round(80%) become [MASK], round(10%) a token drawn from
    ``random_ids``, the rest stay.
    """
    words_np = words.numpy()
    chosen = np.zeros(words_np.shape, dtype=bool)
    for row in range(words_np.shape[0]):
        present = np.unique(words_np[row][words_np[row] >= 0])
        if present.size == 0:
            continue
        k = max(1, round(config.mask_prob * present.size))
        picked = rng.choice(present, size=k, replace=False)
        chosen[row] = np.isin(words_np[row], picked)
    positions = np.flatnonzero(chosen)
    rng.shuffle(positions)
    n_mask = round(config.replace_mask * positions.size)
    n_random = round(config.replace_random * positions.size)
    flat = ids.numpy().copy().reshape(-1)
    labels = np.full(flat.shape, IGNORE, dtype=np.int64)
    labels[positions] = flat[positions]
    flat[positions[:n_mask]] = mask_id
    flat[positions[n_mask:n_mask + n_random]] = rng.choice(random_ids, size=n_random)
    return (torch.from_numpy(flat.reshape(ids.shape)),
            torch.from_numpy(labels.reshape(ids.shape)))


@dataclass(frozen=True)
class _Texts:
    """Framed ids of texts and the word number of each position (-1 on [CLS]/[SEP])."""

    ids: list[list[int]]
    words: list[list[int]]


def _encode(tokenizer: TextTokenizer, texts: Sequence[str], max_len: int) -> _Texts:
    """Texts cut to their first window (pre-training reads text, not documents)."""
    window = max_len - tokenizer.n_special
    ids, words = [], []
    for encoded in tokenizer.encode_batch(texts):
        if not encoded.ids:
            continue
        ids.append(tokenizer.frame(encoded.ids[:window]))
        words.append([-1, *word_ids(encoded.tokens[:window]), -1])
    return _Texts(ids, words)


def _masked_batches(texts: _Texts, *, config: AdaptConfig, pad_id: int, mask_id: int,
                    random_ids: np.ndarray, seed: int) -> list[Batch]:
    """Length-bucketed batches (ids, mask, labels), masked with ``seed``."""
    rng = np.random.default_rng(seed)
    rows = torch.arange(len(texts.ids))
    batches: list[Batch] = []
    for ids, mask, index in bucketed_batches(texts.ids, [rows], pad_id=pad_id,
                                             batch_size=config.batch_size, bucket_batches=50,
                                             seed=seed):
        words, _ = pad_batch([texts.words[int(i)] for i in index], -1)
        masked, labels = mask_batch(ids, words, config=config, mask_id=mask_id,
                                    random_ids=random_ids, rng=rng)
        batches.append((masked, mask, labels))
    return batches


def held_out_split(texts: Sequence[str], config: AdaptConfig) -> tuple[list[str], list[str]]:
    """(training, held-out) texts: the held-out share drawn with seed 0 from the sorted distinct
    texts, so the same texts give the same held-out set whatever the run's seed."""
    distinct = sorted(set(texts))
    order = np.random.default_rng(0).permutation(len(distinct))
    n_val = min(config.max_val_texts, max(1, round(config.val_fraction * len(distinct))))
    held = {int(i) for i in order[:n_val]}
    return ([t for i, t in enumerate(distinct) if i not in held],
            [t for i, t in enumerate(distinct) if i in held])


def adapt_encoder(texts: Sequence[str], *, config: AdaptConfig = AdaptConfig(), seed: int = 0,
                  max_seconds: float | None = None) -> AdaptedEncoder:
    """Continue MiniLM's pre-training on ``texts`` (MLM) within ``max_seconds`` (MiniLM's
    loading included): the head warm-up, then the encoder, each through the shared loop, each
    keeping its weights of the lowest held-out MLM loss."""
    deadline = None if max_seconds is None else time.perf_counter() + max_seconds
    tokenizer = minilm_tokenizer(handles="placeholders")
    mask_id = tokenizer.id_of(MASK)
    special = {tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id, mask_id}
    random_ids = np.array([i for i in range(tokenizer.vocab_size) if i not in special])
    train_texts, val_texts = held_out_split(texts, config)
    train_set = _encode(tokenizer, train_texts, config.max_len)
    val_batches = _masked_batches(_encode(tokenizer, val_texts, config.max_len), config=config,
                                  pad_id=tokenizer.pad_id, mask_id=mask_id,
                                  random_ids=random_ids, seed=VAL_MASK_SEED)
    seed_everything(seed)  # the head's initial weights belong to the seeded run
    model = masked_language_model()

    passes: dict[int, list[Batch]] = {}

    def batches(epoch: int) -> list[Batch]:
        """Part of a pass: each pass masks the texts anew (dynamic masking)."""
        number, part = divmod(max(epoch - 1, 0), config.evals_per_epoch)
        if number not in passes:
            passes.clear()
            passes[number] = _masked_batches(train_set, config=config, pad_id=tokenizer.pad_id,
                                             mask_id=mask_id, random_ids=random_ids,
                                             seed=seed * 1000 + number)
        whole = passes[number]
        size = -(-len(whole) // config.evals_per_epoch)
        return whole[part * size:(part + 1) * size]

    def loss_fn(net: nn.Module, batch: Batch) -> torch.Tensor:
        loss: torch.Tensor = net(*batch)
        return loss

    def evaluate(net: nn.Module) -> float:
        """Minus the held-out MLM loss per predicted token (the loop maximises)."""
        return -held_out_loss(model, val_batches)  # ``net`` is ``model``

    def left() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.perf_counter())

    initial = held_out_loss(model, val_batches)
    encoder_weights = [p for p in model.encoder.parameters() if p.requires_grad]
    head_weights = [p for p in model.head.parameters() if p.requires_grad]
    _train_only(head_weights, encoder_weights)
    budget = left()
    head_run = train(model, batches=batches, loss_fn=loss_fn, evaluate=evaluate, config=TrainConfig(
        max_epochs=config.max_epochs * config.evals_per_epoch, lr=config.head_lr,
        weight_decay=config.weight_decay, patience=10**6, seed=seed, device=config.device,
        max_steps=config.head_steps,
        max_seconds=None if budget is None else config.head_share * budget))
    # The head stays as warmed up: "before" and "after" are then the same head on the
    # untouched and on the adapted encoder, so the loss drop is the encoder's alone (a head
    # still learning would lower the loss of any encoder).
    losses_before, masked = text_losses(model, val_batches)
    _train_only(encoder_weights, head_weights)
    rounds = config.max_epochs * config.evals_per_epoch
    steps = len(batches(0)) * rounds if config.max_steps is None else config.max_steps
    run = train(model, batches=batches, loss_fn=loss_fn, evaluate=evaluate, config=TrainConfig(
        max_epochs=rounds, lr=config.lr, weight_decay=config.weight_decay,
        warmup_steps=int(config.warmup_fraction * steps), schedule="cosine", patience=10**6,
        seed=seed, device=config.device, max_steps=config.max_steps, max_seconds=left(),
        reserve_evals=1.0))  # the per-text losses below
    losses_after, _ = text_losses(model, val_batches)
    for parameter in head_weights:
        parameter.requires_grad_(True)
    model.cpu()
    metrics = {"mlm_loss_initial": initial, "mlm_loss_before": -head_run.best_metric,
               "mlm_loss_after": -run.best_metric, "head_steps": float(head_run.steps),
               "steps": float(run.steps), "epochs_run": run.epochs_run / config.evals_per_epoch,
               "best_epoch": run.best_epoch / config.evals_per_epoch,
               "train_seconds": head_run.seconds_total + run.seconds_total,
               "n_texts": float(len(train_texts) + len(val_texts)),
               "n_train": float(len(train_set.ids)), "n_val": float(len(val_texts))}
    metrics |= {"perplexity_before": float(np.exp(metrics["mlm_loss_before"])),
                "perplexity_after": float(np.exp(metrics["mlm_loss_after"])),
                "mlm_loss_drop": metrics["mlm_loss_before"] - metrics["mlm_loss_after"]}
    logger.info("adapted: %s (stopped by %s)", metrics, run.stop_reason)
    return AdaptedEncoder(model.encoder.eval(), config, metrics, encoder_config(), run,
                          losses_before, losses_after, masked)


def _train_only(trained: Sequence[nn.Parameter], frozen: Sequence[nn.Parameter]) -> None:
    """Let the optimiser of the next run see ``trained`` and not ``frozen``."""
    for parameter in trained:
        parameter.requires_grad_(True)
    for parameter in frozen:
        parameter.requires_grad_(False)


def held_out_loss(model: MaskedLanguageModel, batches: Sequence[Batch]) -> float:
    """MLM loss per predicted token over already-masked batches, on the model's device."""
    sums, tokens = text_losses(model, batches)
    return float(sums.sum() / max(tokens.sum(), 1.0))


def text_losses(model: MaskedLanguageModel, batches: Sequence[Batch]
                ) -> tuple[np.ndarray, np.ndarray]:
    """Each text's MLM loss summed over its masked tokens, and how many they are, over
    already-masked batches, in the batches' order of texts."""
    device = next(model.parameters()).device
    found: list[np.ndarray] = []
    tokens: list[np.ndarray] = []
    model.eval()
    with torch.inference_mode():
        for ids, mask, labels in batches:
            ids, mask, labels = ids.to(device), mask.to(device), labels.to(device)
            h = model.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state
            chosen = labels != IGNORE  # (B, T); every text has at least one masked word
            losses = F.cross_entropy(model.head(h[chosen]), labels[chosen], reduction="none")
            rows = chosen.nonzero()[:, 0]  # (M,) the text of each masked token
            sums = torch.zeros(len(ids), device=device).index_add_(0, rows, losses.float())
            found.append(sums.cpu().numpy().astype(np.float64))
            tokens.append(torch.bincount(rows, minlength=len(ids)).cpu().numpy().astype(float))
    if not found:
        return np.empty(0), np.empty(0)
    return np.concatenate(found), np.concatenate(tokens)


ARTIFACT_KIND = "sentiment-encoder"


def save_adapted(adapted: AdaptedEncoder, path: Path | str) -> str:
    """One file: the encoder's weights + the adaptation config + MiniLM's encoder config +
    metrics; returns its sha256 for the registry."""
    extra = {"kind": ARTIFACT_KIND, "encoder": adapted.encoder_settings,
             "metrics": {k: float(v) for k, v in adapted.metrics.items()}}
    return save_checkpoint(path, model=adapted.encoder, config=adapted.config, extra=extra)


def load_adapted_weights(path: Path | str, *, sha256: str) -> dict[str, torch.Tensor]:
    """The encoder weights ``save_adapted`` wrote, after checking the file's sha256; they load
    into the accurate profile's encoder (``build_accurate(encoder_state=...)``)."""
    checkpoint = load_checkpoint(path, sha256=sha256)
    if checkpoint.extra.get("kind") != ARTIFACT_KIND:
        raise ValueError(f"{path} is not an adapted sentiment encoder (kind "
                         f"{checkpoint.extra.get('kind')!r})")
    return checkpoint.state_dict

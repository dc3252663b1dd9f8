"""Training the sentiment profiles through the shared loop (``models.training.train``).

Each profile function takes the training portion of a split (texts + label ids), carves its own
stratified validation set from it (the test split is never seen), trains with class-weighted
cross-entropy on length-bucketed batches, stops early on validation macro-F1 and returns a
``TrainedSentiment``. Runs are seeded: the same inputs and seed give the same weights on CPU.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split

from domain.records import SENTIMENT_LABELS
from models.device import seed_everything
from models.sentiment import SentimentClassifier, SentimentConfig, SentimentEncoder
from models.sentiment_accurate import (
    AccurateConfig,
    DistillConfig,
    build_accurate,
    distillation_loss,
    encoder_config,
)
from models.sentiment_infer import TrainedSentiment, bucketed_order, pad_batch, score_texts
from models.text_tokenizer import TextTokenizer, train_tokenizer
from models.training import Batch, TrainConfig, TrainResult, train

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitConfig:
    """How one profile is trained (the model's shape is its own config)."""

    batch_size: int = 32  # small batches suit 3-12k examples; also the CPU sweet spot
    lr: float = 3e-4  # AdamW peak for the small model trained from scratch (1e-3 and 5e-4
    # overfit within 3-5 epochs on PhraseBank)
    max_epochs: int = 40  # upper bound; early stopping ends sooner
    patience: int = 6  # validations without a better macro-F1 before stopping
    evals_per_epoch: int = 1  # validations per pass over the data: fine-tuning peaks early
    # (within 1-2 passes), so the accurate profile checks more often than once a pass
    weight_decay: float = 0.1  # matrices only (models.training); strong, as for dropout
    warmup_fraction: float = 0.0  # of all steps, linear warm-up
    schedule: Literal["constant", "cosine"] = "constant"
    val_fraction: float = 0.1  # of the training portion, stratified, for early stopping
    class_weight_power: float = 0.5  # weights = (n / (k * count)) ** power: square-root
    # inverse frequency lifts the rare class for macro-F1 without giving up much accuracy
    # (Mahajan et al. 2018 use the same square-root damping for class imbalance)
    bucket_batches: int = 50  # batches per length bucket: sort within, shuffle across
    token_dropout: float = 0.2  # share of content tokens replaced by [UNK] in each epoch's
    # batches: word dropout (Iyyer et al. 2015), a regulariser for small text datasets
    max_seconds: float | None = None  # time budget for the whole run
    device: str = "auto"


FAST_FIT = FitConfig()
# BERT-style fine-tuning (Devlin et al. 2019; Sun et al. 2019 "How to Fine-Tune BERT"): small
# peak lr, 10% warm-up, then decay. PhraseBank 50Agree validation peaked within the first two
# passes (5e-5 beat 3e-5 there), so: 2 passes with a validation every quarter pass.
ACCURATE_FIT = FitConfig(lr=5e-5, max_epochs=2, evals_per_epoch=4, patience=3,
                         weight_decay=0.01, warmup_fraction=0.1, schedule="cosine",
                         token_dropout=0.0)
# The linear-probe stage before it: only pooling + head learn, at a from-scratch rate.
ACCURATE_PROBE = FitConfig(lr=1e-3, max_epochs=2, patience=2, weight_decay=0.01,
                           token_dropout=0.0)


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


def _fit(model: SentimentClassifier, tokenizer: TextTokenizer, texts: Sequence[str],
         labels: Sequence[int], *, max_len: int, fit: FitConfig, seed: int,
         teacher_logits: torch.Tensor | None = None,
         distill: DistillConfig | None = None) -> tuple[TrainResult, dict[str, float]]:
    """Carve validation, build batches, train, return the run and the validation metrics.

    Labels of -100 mark unlabelled transfer texts (distillation): they are always trained on
    and never held out, so validation holds labelled texts only.
    """
    labelled = [i for i, label in enumerate(labels) if label >= 0]
    kept_at, held_at = stratified_split([labels[i] for i in labelled],
                                        test_fraction=fit.val_fraction, seed=seed)
    held = [labelled[i] for i in held_at]
    kept = sorted({labelled[i] for i in kept_at} | {i for i, lab in enumerate(labels) if lab < 0})
    seqs = encode_for_model(tokenizer, texts, max_len)
    train_seqs = [seqs[i] for i in kept]
    val_seqs, val_labels = [seqs[i] for i in held], [labels[i] for i in held]
    y = torch.tensor(labels, dtype=torch.long)
    targets = [y[kept]]
    if teacher_logits is not None:
        targets.append(teacher_logits[kept])
    weights = class_weights([labels[i] for i in kept if labels[i] >= 0], fit.class_weight_power)

    passes: dict[int, list[Batch]] = {}

    def batches(step: int) -> list[Batch]:
        """The loop's epoch ``step`` (1-based; 0 only counts) is one part of a data pass."""
        number, part = divmod(max(step - 1, 0), fit.evals_per_epoch)
        if number not in passes:
            passes.clear()
            passes[number] = bucketed_batches(
                train_seqs, targets, pad_id=tokenizer.pad_id, batch_size=fit.batch_size,
                bucket_batches=fit.bucket_batches, seed=seed * 1000 + number,
                token_dropout=fit.token_dropout, unk_id=tokenizer.unk_id,
                keep_ids=(tokenizer.cls_id, tokenizer.sep_id))
        whole = passes[number]
        size = -(-len(whole) // fit.evals_per_epoch)
        return whole[part * size:(part + 1) * size]

    def loss_fn(net: torch.nn.Module, batch: Batch) -> torch.Tensor:
        logits = net(batch[0], batch[1])
        w = weights.to(logits.device)
        if distill is None:
            return F.cross_entropy(logits, batch[2], weight=w)
        return distillation_loss(logits, batch[3], batch[2], config=distill, class_weights=w)

    def evaluate(_: torch.nn.Module) -> float:  # the loop passes ``model`` back
        predicted = predict_logits(model, val_seqs, pad_id=tokenizer.pad_id).argmax(1)
        return classification_metrics(val_labels, predicted.tolist())["macro_f1"]

    rounds = fit.max_epochs * fit.evals_per_epoch
    steps = len(batches(0)) * rounds
    config = TrainConfig(max_epochs=rounds, lr=fit.lr, weight_decay=fit.weight_decay,
                         warmup_steps=int(fit.warmup_fraction * steps), schedule=fit.schedule,
                         patience=fit.patience, seed=seed, device=fit.device,
                         max_seconds=fit.max_seconds)
    result = train(model, batches=batches, loss_fn=loss_fn, evaluate=evaluate, config=config)
    model.cpu()
    predicted = predict_logits(model, val_seqs, pad_id=tokenizer.pad_id).argmax(1)
    val = classification_metrics(val_labels, predicted.tolist())
    metrics = {f"val_{k}": v for k, v in val.items()} | {
        "best_epoch": result.best_epoch / fit.evals_per_epoch,
        "epochs_run": result.epochs_run / fit.evals_per_epoch,
        "seconds_per_epoch": result.seconds_per_epoch * fit.evals_per_epoch,
        "train_seconds": result.seconds_total,
        "n_train": float(len(kept)), "n_val": float(len(held))}
    logger.info("trained: %s (stopped by %s)", metrics, result.stop_reason)
    return result, metrics


def _fast_model(config: SentimentConfig, seed: int) -> SentimentEncoder:
    """A fresh fast model; seeding first makes the initial weights part of the seeded run."""
    seed_everything(seed)
    return SentimentEncoder(config)


def train_fast(texts: Sequence[str], labels: Sequence[int], *, seed: int = 0,
               config: SentimentConfig | None = None,
               fit: FitConfig = FAST_FIT) -> TrainedSentiment:
    """The fast profile trained alone: tokenizer learned from ``texts``, then the encoder."""
    config = config or SentimentConfig()
    tokenizer = train_tokenizer(texts, vocab_size=config.vocab_size)
    config = SentimentConfig(**{**config.__dict__, "vocab_size": tokenizer.vocab_size})
    model = _fast_model(config, seed)
    _, metrics = _fit(model, tokenizer, texts, labels, max_len=config.max_len, fit=fit, seed=seed)
    return TrainedSentiment("fast", model, tokenizer, config, metrics)


def train_accurate(texts: Sequence[str], labels: Sequence[int], *, seed: int = 0,
                   config: AccurateConfig | None = None, fit: FitConfig = ACCURATE_FIT,
                   probe: FitConfig | None = ACCURATE_PROBE) -> TrainedSentiment:
    """The accurate profile: MiniLM under the attention-pooling head, trained in two stages
    (LP-FT, Kumar et al. 2022): with ``probe``, first the head alone on the frozen encoder, then
    everything with ``fit``. A fresh head at a fine-tuning learning rate barely moves, and its
    random gradients distort the pretrained features meanwhile. ``fit.max_seconds`` bounds both
    stages together."""
    config = config or AccurateConfig()
    seed_everything(seed)
    model, tokenizer = build_accurate(config)
    probe_metrics: dict[str, float] = {}
    if probe is not None:
        if fit.max_seconds is not None:  # one budget for both stages; the probe gets a quarter
            probe = dataclasses.replace(probe, max_seconds=fit.max_seconds / 4)
        trainable = [p for p in model.encoder.parameters() if p.requires_grad]
        for parameter in trainable:
            parameter.requires_grad_(False)
        result, found = _fit(model, tokenizer, texts, labels, max_len=config.max_len,
                             fit=probe, seed=seed)
        probe_metrics = {f"probe_{k}": v for k, v in found.items() if k.startswith("val_")}
        for parameter in trainable:
            parameter.requires_grad_(True)
        if fit.max_seconds is not None:
            fit = dataclasses.replace(fit, max_seconds=max(0.0, fit.max_seconds -
                                                           result.seconds_total))
    _, metrics = _fit(model, tokenizer, texts, labels, max_len=config.max_len, fit=fit, seed=seed)
    return TrainedSentiment("accurate", model, tokenizer, config, metrics | probe_metrics,
                            encoder_settings=encoder_config())


def soft_targets(teacher: TrainedSentiment, texts: Sequence[str]) -> torch.Tensor:
    """The teacher's logits (N, 3) for ``texts`` (what distillation learns from)."""
    seqs = encode_for_model(teacher.tokenizer, texts, int(teacher.config.max_len))
    teacher.model.eval()
    return predict_logits(teacher.model, seqs, pad_id=teacher.tokenizer.pad_id)


def train_distilled(texts: Sequence[str], labels: Sequence[int], *,
                    teacher_logits: torch.Tensor, transfer_texts: Sequence[str] = (),
                    transfer_logits: torch.Tensor | None = None, seed: int = 0,
                    config: SentimentConfig | None = None, fit: FitConfig = FAST_FIT,
                    distill: DistillConfig | None = None) -> TrainedSentiment:
    """The fast model taught by the accurate one: ``teacher_logits`` for ``texts`` (from
    ``soft_targets``), plus optional unlabelled in-domain ``transfer_texts`` with theirs.
    Validation is carved from the labelled texts only, as in ``train_fast``."""
    config = config or SentimentConfig()
    n_transfer = len(transfer_texts)
    if n_transfer and (transfer_logits is None or len(transfer_logits) != n_transfer):
        raise ValueError("transfer_texts need transfer_logits of the same length")
    all_texts = [*texts, *transfer_texts]
    tokenizer = train_tokenizer(all_texts, vocab_size=config.vocab_size)
    config = SentimentConfig(**{**config.__dict__, "vocab_size": tokenizer.vocab_size})
    model = _fast_model(config, seed)
    logits = teacher_logits
    if n_transfer:
        assert transfer_logits is not None
        logits = torch.cat([teacher_logits, transfer_logits])
    all_labels = [*labels, *([-100] * n_transfer)]
    _, metrics = _fit(model, tokenizer, all_texts, all_labels, max_len=config.max_len, fit=fit,
                      seed=seed, teacher_logits=logits, distill=distill or DistillConfig())
    metrics["n_transfer"] = float(n_transfer)
    return TrainedSentiment("distilled", model, tokenizer, config, metrics)

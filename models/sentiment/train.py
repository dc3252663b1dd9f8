"""Training the sentiment profiles through the shared loop (``models.training.train``).

Each profile function takes the training portion of a split (texts + label ids), carves its own
stratified validation set from it (the test split is never seen), trains with class-weighted
cross-entropy on length-bucketed batches, stops early on validation macro-F1 and returns a
``TrainedSentiment``. Runs are seeded: the same inputs and seed give the same weights on CPU.
Distillation's loss and settings live in ``models.sentiment.distil``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from models.calibration import fit_temperature
from models.device import seed_everything
from models.sentiment.data import (
    bucketed_batches,
    class_weights,
    encode_for_model,
    stratified_split,
)
from models.sentiment.distil import (
    AUGMENT_COPIES,
    MASK,
    STUDENT_VOCABULARY,
    DistillConfig,
    StudentVocabulary,
    augmented_copies,
    distillation_loss,
    minilm_vocabulary,
    transfer_set,
)
from models.sentiment.encoder import SentimentClassifier, SentimentConfig, SentimentEncoder
from models.sentiment.evaluate import classification_metrics, predict_logits
from models.sentiment.lexical import BUCKETS, LEXICAL_SHARE, LexicalBag, fit_lexical
from models.sentiment.minilm import AccurateConfig, build_accurate, encoder_config
from models.sentiment.predict import TrainedSentiment
from models.sentiment.tokenizer import TextTokenizer, train_tokenizer
from models.training import Batch, TrainConfig, TrainResult, train

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitConfig:
    """How one profile is trained (the model's shape is its own config)."""

    batch_size: int = 32  # small batches suit 3-12k examples; also the CPU sweet spot
    lr: float = 3e-4  # AdamW peak from scratch (1e-3, 5e-4 overfit PhraseBank in 3-5 epochs)
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
    max_seconds: float | None = None  # time budget of the whole profile function, from the
    # tokenizer (or MiniLM's loading) to the calibration after the loop
    reserve_evals: float = 0.0  # validation runs' worth of the budget left for the caller's
    # own work after training (models.training.TrainConfig.reserve_evals)
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


def _deadline(fit: FitConfig) -> float | None:
    """When ``fit``'s budget ends, on the ``time.perf_counter`` clock, counted from now."""
    return None if fit.max_seconds is None else time.perf_counter() + fit.max_seconds


@dataclass(frozen=True)
class Fitted:
    """One ``_fit``: the loop's run, the validation metrics, the temperature fitted after it,
    and the texts as the model read them."""

    result: TrainResult
    metrics: dict[str, float]
    temperature: float
    seqs: list[list[int]]


def _carve(labels: Sequence[int], *, fit: FitConfig, seed: int) -> tuple[list[int], list[int]]:
    """Rows trained on and rows held out for validation, of labelled texts."""
    kept, held = stratified_split(labels, test_fraction=fit.val_fraction, seed=seed)
    return list(kept), list(held)


def fitted_rows(labels: Sequence[int], *, fit: FitConfig, seed: int) -> list[int]:
    """The rows of the labelled texts a run with ``fit`` and ``seed`` trains on; the others
    are its validation carve. Augmented copies for distillation come from these rows only, so
    no near-copy of a validation text is trained on."""
    return sorted(_carve(labels, fit=fit, seed=seed)[0])


def distillation_pool(unlabelled: Iterable[str], *, train_texts: Sequence[str],
                      train_labels: Sequence[int], held_out: Sequence[str], fit: FitConfig,
                      seed: int) -> tuple[list[str], set[str]]:
    """What the teacher labels for a student trained with ``fit`` and ``seed``: the distinct
    ``unlabelled`` texts and up to ``AUGMENT_COPIES`` augmented copies of each text the student
    trains on (``fitted_rows``: never of its validation carve), none equal to a held-out or
    training text, in one order shuffled with ``seed`` (``transfer_set``); and the texts that
    are there only as copies."""
    given = list(unlabelled)
    trained_on = [train_texts[i] for i in fitted_rows(train_labels, fit=fit, seed=seed)]
    copies = augmented_copies(trained_on, copies=AUGMENT_COPIES, seed=seed, mask=MASK)
    pool = transfer_set([*given, *copies], held_out=[*held_out, *train_texts], seed=seed)
    made = set(copies) - set(given)
    return pool, {text for text in pool if text in made}


def _fit(model: SentimentClassifier, tokenizer: TextTokenizer, texts: Sequence[str],
         labels: Sequence[int], *, max_len: int, fit: FitConfig, seed: int,
         deadline: float | None, teacher_logits: torch.Tensor | None = None,
         distill: DistillConfig | None = None) -> Fitted:
    """Carve validation, build batches, train until ``deadline`` (``time.perf_counter``) at
    most, fit the temperature on validation, return it with the run and validation metrics.

    Labels of -100 mark unlabelled transfer texts (distillation): they are always trained on
    and never held out, so validation holds labelled texts only.
    """
    labelled = [i for i, label in enumerate(labels) if label >= 0]
    kept_at, held_at = _carve([labels[i] for i in labelled], fit=fit, seed=seed)
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
                         max_seconds=None if deadline is None else
                         max(0.0, deadline - time.perf_counter()),
                         reserve_evals=fit.reserve_evals + 1)  # + 1: the calibration below
    result = train(model, batches=batches, loss_fn=loss_fn, evaluate=evaluate, config=config)
    model.cpu()
    val_logits = predict_logits(model, val_seqs, pad_id=tokenizer.pad_id)
    val = classification_metrics(val_labels, val_logits.argmax(1).tolist())
    temperature = fit_temperature(val_logits, torch.tensor(val_labels))
    metrics = {f"val_{k}": v for k, v in val.items()} | {
        "best_epoch": result.best_epoch / fit.evals_per_epoch,
        "epochs_run": result.epochs_run / fit.evals_per_epoch,
        "seconds_per_epoch": result.seconds_per_epoch * fit.evals_per_epoch,
        "train_seconds": result.seconds_total,
        "steps": float(result.steps), "temperature": temperature,
        "n_train": float(len(kept)), "n_val": float(len(held))}
    logger.info("trained: %s (stopped by %s)", metrics, result.stop_reason)
    return Fitted(result, metrics, temperature, seqs)


def _fit_mixed(model: SentimentEncoder, tokenizer: TextTokenizer, texts: Sequence[str],
               labels: Sequence[int], *, fit: FitConfig, seed: int, deadline: float | None,
               teacher_logits: torch.Tensor | None = None,
               distill: DistillConfig | None = None) -> Fitted:
    """``_fit`` the encoder until the budget's last ``LEXICAL_SHARE``, then attach a lexical
    member (``models.sentiment.lexical``) fitted on what the encoder learnt from: the labelled
    training texts and, when distilling, the transfer texts with the teacher's answers (out of
    domain they carry the words the labelled texts lack), if data and time allow."""
    spare = LEXICAL_SHARE * (fit.max_seconds or 0.0)
    fitted = _fit(model, tokenizer, texts, labels, max_len=model.config.max_len, fit=fit,
                  seed=seed, deadline=None if deadline is None else deadline - spare,
                  teacher_logits=teacher_logits, distill=distill)
    labelled = [i for i, label in enumerate(labels) if label >= 0]
    kept, held = _carve([labels[i] for i in labelled], fit=fit, seed=seed)  # as ``_fit``'s
    taught = [] if teacher_logits is None else [i for i, y in enumerate(labels) if y < 0]
    said = [] if teacher_logits is None else teacher_logits[taught].argmax(1).tolist()
    rows = [*(labelled[i] for i in kept), *taught]
    answers = [*(labels[labelled[i]] for i in kept), *said]
    if not held or len(set(answers)) < model.config.n_classes:
        logger.info("no lexical member: the labelled texts are too few to fit and mix it")
        return fitted
    seqs = fitted.seqs
    val_seqs, val_labels = [seqs[labelled[i]] for i in held], [labels[labelled[i]] for i in held]
    encoder_val = predict_logits(model, val_seqs, pad_id=tokenizer.pad_id)
    bag = LexicalBag(model.config.vocab_size, BUCKETS, tokenizer.pad_id, chars=True)
    found = fit_lexical(bag, [seqs[i] for i in rows], answers, val_seqs, val_labels, encoder_val,
                        seed=seed, deadline=deadline, pieces=tokenizer.surfaces)
    if found is None:
        return fitted
    model.attach_lexical(found.bag, mix=found.mix)
    val_logits = predict_logits(model, val_seqs, pad_id=tokenizer.pad_id)
    val = classification_metrics(val_labels, val_logits.argmax(1).tolist())
    alone = classification_metrics(val_labels, encoder_val.argmax(1).tolist())["macro_f1"]
    t = fit_temperature(val_logits, torch.tensor(val_labels))
    return Fitted(fitted.result, fitted.metrics | {f"val_{k}": v for k, v in val.items()} | {
        "val_encoder_macro_f1": alone, "lexical_mix": found.mix, "lexical_c": found.c,
        "temperature": t}, t, seqs)


def _fast_model(config: SentimentConfig, texts: Sequence[str], vocabulary: StudentVocabulary,
                seed: int) -> tuple[SentimentEncoder, TextTokenizer]:
    """A fresh fast model and its tokenizer: "own" trains one on ``texts``; "minilm" takes
    MiniLM's, with its word embeddings as the starting point
    (``models.sentiment.distil.minilm_vocabulary``). Seeding first makes the initial weights
    part of the seeded run."""
    if vocabulary == "minilm":
        tokenizer, table = minilm_vocabulary(config.d_model)
    else:
        tokenizer = train_tokenizer(texts, vocab_size=config.vocab_size)
    seed_everything(seed)
    model = SentimentEncoder(dataclasses.replace(config, vocab_size=tokenizer.vocab_size))
    if vocabulary == "minilm":
        with torch.no_grad():
            model.tokens.weight.copy_(table)
    return model, tokenizer


def train_fast(texts: Sequence[str], labels: Sequence[int], *, seed: int = 0,
               config: SentimentConfig | None = None, fit: FitConfig = FAST_FIT,
               vocabulary: StudentVocabulary = STUDENT_VOCABULARY) -> TrainedSentiment:
    """The fast profile trained alone: the encoder (on ``vocabulary``, as ``_fast_model``
    builds it), then its lexical member."""
    deadline = _deadline(fit)
    model, tokenizer = _fast_model(config or SentimentConfig(), texts, vocabulary, seed)
    fitted = _fit_mixed(model, tokenizer, texts, labels, fit=fit, seed=seed, deadline=deadline)
    return TrainedSentiment("fast", model, tokenizer, model.config, fitted.metrics,
                            temperature=fitted.temperature, run=fitted.result)


def train_accurate(texts: Sequence[str], labels: Sequence[int], *, seed: int = 0,
                   config: AccurateConfig | None = None, fit: FitConfig = ACCURATE_FIT,
                   probe: FitConfig | None = ACCURATE_PROBE,
                   encoder_state: dict[str, torch.Tensor] | None = None) -> TrainedSentiment:
    """The accurate profile: MiniLM under the attention-pooling head, trained in two stages
    (LP-FT, Kumar et al. 2022): with ``probe``, first the head alone on the frozen encoder, then
    everything with ``fit``. A fresh head at a fine-tuning learning rate barely moves, and its
    random gradients distort the pretrained features meanwhile. ``fit.max_seconds`` bounds both
    stages together (MiniLM's loading included); the probe gets a quarter of it.
    ``encoder_state`` starts from an encoder adapted to the store's text
    (``models.sentiment.adapt``) instead of MiniLM's own weights."""
    deadline = _deadline(fit)
    config = config or AccurateConfig()
    seed_everything(seed)
    model, tokenizer = build_accurate(config, encoder_state=encoder_state)
    probe_metrics: dict[str, float] = {}
    if probe is not None:
        probe_deadline = None
        if deadline is not None and fit.max_seconds is not None:
            probe_deadline = deadline - 0.75 * fit.max_seconds
        trainable = [p for p in model.encoder.parameters() if p.requires_grad]
        for parameter in trainable:
            parameter.requires_grad_(False)
        found = _fit(model, tokenizer, texts, labels, max_len=config.max_len,
                     fit=dataclasses.replace(probe, reserve_evals=0.0), seed=seed,
                     deadline=probe_deadline).metrics
        probe_metrics = {f"probe_{k}": v for k, v in found.items() if k.startswith("val_")}
        for parameter in trainable:
            parameter.requires_grad_(True)
    fitted = _fit(model, tokenizer, texts, labels, max_len=config.max_len, fit=fit, seed=seed,
                  deadline=deadline)
    return TrainedSentiment("accurate", model, tokenizer, config, fitted.metrics | probe_metrics,
                            encoder_settings=encoder_config(), temperature=fitted.temperature,
                            run=fitted.result)


def train_distilled(texts: Sequence[str], labels: Sequence[int], *,
                    teacher_logits: torch.Tensor, transfer_texts: Sequence[str] = (),
                    transfer_logits: torch.Tensor | None = None, seed: int = 0,
                    config: SentimentConfig | None = None, fit: FitConfig = FAST_FIT,
                    distill: DistillConfig | None = None,
                    vocabulary: StudentVocabulary = STUDENT_VOCABULARY) -> TrainedSentiment:
    """The fast model taught by the accurate one: ``teacher_logits`` for ``texts`` (from
    ``models.sentiment.distil.teacher_logits``), plus optional unlabelled in-domain
    ``transfer_texts`` with theirs.
    Validation is carved from the labelled texts only, as in ``train_fast``. ``vocabulary``:
    as ``_fast_model`` builds it ("own" learns it from all the texts)."""
    deadline = _deadline(fit)
    config = config or SentimentConfig()
    n_transfer = len(transfer_texts)
    if n_transfer and (transfer_logits is None or len(transfer_logits) != n_transfer):
        raise ValueError("transfer_texts need transfer_logits of the same length")
    all_texts = [*texts, *transfer_texts]
    model, tokenizer = _fast_model(config, all_texts, vocabulary, seed)
    logits = teacher_logits if transfer_logits is None or not n_transfer else \
        torch.cat([teacher_logits, transfer_logits])
    all_labels = [*labels, *([-100] * n_transfer)]
    fitted = _fit_mixed(model, tokenizer, all_texts, all_labels, fit=fit, seed=seed,
                        deadline=deadline, teacher_logits=logits,
                        distill=distill or DistillConfig())
    metrics = fitted.metrics | {"n_transfer": float(n_transfer)}
    return TrainedSentiment("distilled", model, tokenizer, model.config, metrics,
                            temperature=fitted.temperature, run=fitted.result)

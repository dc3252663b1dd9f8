"""One plain training loop shared by every sentrec model.

It knows nothing of the task: the caller gives a factory of batches per epoch, a loss and a
validation metric (higher is better). The loop seeds, picks the device, runs AdamW with gradient
clipping (bf16 autocast on CUDA only), stops early on the metric and returns the best weights.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from models.device import resolve_device, seed_everything

logger = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, ...]
BatchFactory = Callable[[int], Sequence[Batch]]  # epoch -> that epoch's batches
LossFn = Callable[[nn.Module, Batch], torch.Tensor]  # batch already on the model's device
EvaluateFn = Callable[[nn.Module], float]  # model in eval mode -> metric, higher is better


@dataclass(frozen=True)
class TrainConfig:
    """How long and how fast to train."""

    max_epochs: int = 200  # upper bound; early stopping or the time budget usually end sooner
    lr: float = 1e-3  # AdamW peak learning rate; SASRec's value
    betas: tuple[float, float] = (0.9, 0.98)  # as SASRec and most transformer recipes
    weight_decay: float = 0.0  # applied to matrices only, never to biases or norms
    grad_clip: float = 1.0  # max global gradient norm; guards against rare spikes
    warmup_steps: int = 0  # linear warm-up from 0 to lr
    # cosine decays to 0 at max_epochs, or at max_seconds when the budget binds first
    schedule: Literal["constant", "cosine"] = "constant"
    patience: int = 5  # evaluations without improvement before stopping
    eval_every: int = 1  # epochs between validation runs
    seed: int = 0  # seeds python, numpy and torch at the start
    device: str = "auto"  # "auto", "cpu" or "cuda"
    max_seconds: float | None = None  # stop at the step after which the next would overrun
    max_steps: int | None = None  # stop after this many optimiser steps (mid-epoch if need
    # be): a run of fixed length whatever the machine's speed, as tests need
    reserve_evals: float = 0.0  # validation runs' worth of the budget kept for what follows
    # the loop (the test evaluation, scoring the champion), so the whole command fits


@dataclass
class EpochLog:
    """What one epoch did."""

    epoch: int
    loss: float
    seconds: float
    metric: float | None
    eval_seconds: float
    steps: int  # optimiser steps in this epoch: fewer than its batches when the budget ended it


@dataclass
class TrainResult:
    """Outcome of a run; the model passed in holds the best weights afterwards."""

    best_metric: float
    best_epoch: int
    epochs_run: int  # an epoch the budget cut short counts
    steps: int  # optimiser steps in all
    seconds_per_epoch: float  # mean training time of one epoch, validation excluded
    seconds_total: float  # wall time of the whole run, validation included
    seconds_to_best: float  # wall time until the end of the best epoch's validation
    stop_reason: str
    history: list[EpochLog] = field(default_factory=list)


PROGRESS = "training_progress"  # attribute of the loop's log records holding an EpochProgress


@dataclass(frozen=True)
class EpochProgress:
    """Where a run stands after an epoch: logged with each epoch's line, so a terminal can draw
    a progress bar from the records (``flows.cli.progress``) while Prefect keeps the lines."""

    epoch: int
    max_epochs: int
    steps: int
    metric: float | None  # this epoch's validation metric, None when it was not validated
    best_metric: float
    best_epoch: int
    elapsed: float
    eta: float  # seconds, to max_epochs or the budget, whichever comes first


def _lr_factor(config: TrainConfig, step: int, progress: float) -> float:
    """Multiplier of the peak learning rate at a global step and a fraction of the run done."""
    if step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return 1.0


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (biases and norms stay free, as in nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas)


def _autocast(device: torch.device) -> AbstractContextManager[object]:
    """bf16 autocast on CUDA; plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return nullcontext()


def _progress(config: TrainConfig, step: int, total_steps: int, elapsed: float) -> float:
    """Fraction of the run done: of max_epochs, or of the time budget when that binds first.

    Tying the cosine to the budget lets a time-limited run still end at a low learning rate,
    where most of the gain of a decay comes from; such a run is only as repeatable as the
    machine's speed, which a budget makes it anyway.
    """
    progress = step / max(1, total_steps)
    if config.max_seconds is not None:  # a spent budget (0 s) is a finished run
        progress = max(progress, elapsed / config.max_seconds if config.max_seconds else 1.0)
    return progress


def _eta(config: TrainConfig, epoch: int, elapsed: float) -> float:
    """Seconds left if the run goes to max_epochs at its pace so far, capped by the budget
    (early stopping may end it sooner)."""
    eta = (config.max_epochs - epoch) * elapsed / max(1, epoch)
    if config.max_seconds is not None:
        eta = min(eta, max(0.0, config.max_seconds - elapsed))
    return eta


def _out_of_time(config: TrainConfig, elapsed: float, step_seconds: float,
                 eval_seconds: float) -> bool:
    """Whether one more step, the validation after it and the reserve would overrun."""
    if config.max_seconds is None:
        return False
    needed = step_seconds + eval_seconds * (1.0 + config.reserve_evals)
    return elapsed + needed > config.max_seconds


def train(model: nn.Module, *, batches: BatchFactory, loss_fn: LossFn, evaluate: EvaluateFn,
          config: TrainConfig) -> TrainResult:
    """Train ``model`` in place and leave it holding the weights of its best validation metric.

    Validation runs every ``eval_every`` epochs and after the last epoch. The time budget
    (``max_seconds``, counted from the call) is checked after every step: when one more step,
    a validation and the reserve would overrun it, the epoch ends there, is validated, and the
    run stops ("time budget"). With ``max_steps`` the run ends after that step, validated
    ("max steps"). At least one step runs.
    """
    seed_everything(config.seed)
    device = resolve_device(config.device)
    model.to(device)
    optimizer = _optimizer(model, config)
    total_steps = len(batches(0)) * config.max_epochs
    if config.max_steps is not None:
        total_steps = min(total_steps, config.max_steps)
    best_metric, best_epoch, best_state = -math.inf, 0, copy.deepcopy(model.state_dict())
    history: list[EpochLog] = []
    start = time.perf_counter()
    seconds_to_best, train_seconds, step, waited = 0.0, 0.0, 0, 0
    eval_seconds = 0.0 if config.max_seconds is None else _time_validation(model, evaluate)
    stop_reason = "max epochs"
    for epoch in range(1, config.max_epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        total_loss, n_batches, out_of_time = 0.0, 0, False
        for batch in batches(epoch):
            progress = _progress(config, step, total_steps, time.perf_counter() - start)
            for group in optimizer.param_groups:
                group["lr"] = config.lr * _lr_factor(config, step, progress)
            on_device = tuple(t.to(device, non_blocking=True) for t in batch)
            with _autocast(device):
                loss = loss_fn(model, on_device)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            total_loss += float(loss.detach())
            n_batches += 1
            step += 1
            if step == config.max_steps:
                break
            elapsed = time.perf_counter() - start
            # Mean wall time per step so far (epoch set-up included) predicts the next one.
            if _out_of_time(config, elapsed, (train_seconds + time.perf_counter() - epoch_start)
                            / step, eval_seconds):
                out_of_time = True
                break
        seconds = time.perf_counter() - epoch_start
        train_seconds += seconds
        # No room for another step after this epoch's validation: validate now and stop.
        out_of_time = out_of_time or (epoch < config.max_epochs and _out_of_time(
            config, time.perf_counter() - start, train_seconds / step, eval_seconds))
        out_of_steps = step == config.max_steps
        last = out_of_time or out_of_steps or epoch == config.max_epochs
        log = EpochLog(epoch=epoch, loss=total_loss / max(1, n_batches), seconds=seconds,
                       metric=None, eval_seconds=0.0, steps=n_batches)
        if epoch % config.eval_every == 0 or last:
            eval_start = time.perf_counter()
            model.eval()
            with torch.inference_mode():
                log.metric = evaluate(model)
            log.eval_seconds = eval_seconds = time.perf_counter() - eval_start
            if log.metric > best_metric:
                best_metric, best_epoch, waited = log.metric, epoch, 0
                best_state = copy.deepcopy(model.state_dict())
                seconds_to_best = time.perf_counter() - start
            else:
                waited += 1
        history.append(log)
        elapsed = time.perf_counter() - start
        _report(log, EpochProgress(epoch=epoch, max_epochs=config.max_epochs, steps=step,
                                   metric=log.metric, best_metric=best_metric,
                                   best_epoch=best_epoch, elapsed=elapsed,
                                   eta=_eta(config, epoch, elapsed)))
        if out_of_time:
            stop_reason = "time budget"
            break
        if out_of_steps:
            stop_reason = "max steps"
            break
        if waited >= config.patience:
            stop_reason = "early stopping"
            break
    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(
        best_metric=best_metric, best_epoch=best_epoch, epochs_run=len(history), steps=step,
        seconds_per_epoch=train_seconds / max(1, len(history)),
        seconds_total=time.perf_counter() - start, seconds_to_best=seconds_to_best,
        stop_reason=stop_reason, history=history,
    )


def _time_validation(model: nn.Module, evaluate: EvaluateFn) -> float:
    """Seconds one validation takes, measured once before a budgeted run (its metric is not
    kept): the budget checks need it before the first epoch ends, or a long first epoch would
    leave no time for validating it."""
    start = time.perf_counter()
    model.eval()
    with torch.inference_mode():
        evaluate(model)
    return time.perf_counter() - start


def _report(log: EpochLog, progress: EpochProgress) -> None:
    """One log line per epoch; the record carries ``progress`` for a progress bar."""
    logger.info("epoch %d/%d loss %.4f metric %s (best %.4f @ %d) %.1fs + eval %.1fs, "
                "eta %.0fs", progress.epoch, progress.max_epochs, log.loss,
                "-" if log.metric is None else f"{log.metric:.4f}", progress.best_metric,
                progress.best_epoch, log.seconds, log.eval_seconds, progress.eta,
                extra={PROGRESS: progress})

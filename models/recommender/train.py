"""Training wiring of the SASRec recommender on a leave-one-out split."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from domain.sequences import LeaveOneOutSplit
from models.device import seed_everything
from models.recommender.data import Window, training_batches
from models.recommender.evaluate import SASRecScorer, evaluate_split
from models.recommender.losses import full_softmax_loss, sampled_softmax_loss
from models.recommender.recipes import Recipe, recipe_for
from models.recommender.sasrec import SASRec, SASRecConfig
from models.training import Batch, TrainConfig, TrainResult, train

LossKind = Literal["full", "sampled"]


def train_sasrec(split: LeaveOneOutSplit, model_config: SASRecConfig, train_config: TrainConfig,
                 *, batch_size: int = 128, window: Window = "random", loss: LossKind = "full",
                 n_negatives: int = 256, metric_k: int = 10, bf16_matmul: bool = False,
                 item_text: torch.Tensor | None = None) -> tuple[SASRec, TrainResult]:
    """Train SASRec on the training prefixes, early-stopping on validation NDCG@k.

    ``bf16_matmul`` lets the CPU full-softmax loss multiply in bfloat16 (see ``rec_losses``).
    When the split carries ``train_weights`` each position's loss is weighted by the weight of
    the event it predicts; validation stays unweighted.
    """
    if model_config.n_items != split.n_items:
        raise ValueError(f"model n_items {model_config.n_items} != split n_items {split.n_items}")
    seed_everything(train_config.seed)
    model = SASRec(model_config, item_text=item_text)
    scorer = SASRecScorer(model)
    # Uniform proposal: q = 1/N for every item, so the logQ term is a constant.
    log_q = torch.full((split.n_items + 1,), -math.log(split.n_items))

    def batches(epoch: int) -> list[Batch]:
        rng = np.random.default_rng([train_config.seed, epoch])
        return training_batches(split.train, max_len=model_config.max_len,
                                batch_size=batch_size, rng=rng, window=window,
                                weights=split.train_weights)

    def loss_fn(module: torch.nn.Module, batch: Batch) -> torch.Tensor:
        inputs, targets, *rest = batch  # rest: the target weights of a weighted split
        weights = rest[0] if rest else None
        hidden = module(inputs)
        if loss == "full":
            return full_softmax_loss(hidden, targets, model.item_vectors(), weights=weights,
                                     bf16_matmul=bf16_matmul)
        negatives = torch.randint(1, split.n_items + 1, (n_negatives,), device=inputs.device)
        return sampled_softmax_loss(hidden, targets, model.item_vectors(), negatives,
                                    log_q.to(inputs.device), weights=weights)

    def evaluate(_: torch.nn.Module) -> float:
        return evaluate_split(scorer, split, "valid", k=metric_k, with_coverage=False).ndcg

    result = train(model, batches=batches, loss_fn=loss_fn, evaluate=evaluate,
                   config=train_config)
    return model, result


@dataclass(frozen=True)
class RecipeRun:
    """A model trained with the recipe its split called for, and how the run went."""

    model: SASRec
    result: TrainResult
    recipe: Recipe
    config: SASRecConfig


def train_with_recipe(split: LeaveOneOutSplit, *, max_seconds: float | None, seed: int = 0,
                      device: str = "auto", bf16_matmul: bool = False,
                      overrides: dict[str, Any] | None = None,
                      reserve_evals: float = 0.0) -> RecipeRun:
    """SASRec on ``split`` with the settings its history lengths call for (``recipe_for``);
    ``overrides`` replace fields of the model's shape; ``reserve_evals`` validation runs' worth
    of ``max_seconds`` are left for the caller's evaluations after training. ``sentrec train
    recommender`` and the quality bench both train through here."""
    recipe = recipe_for(split)
    config = recipe.model_config(split.n_items, **(overrides or {}))
    model, result = train_sasrec(split, config,
                                 recipe.train_config(max_seconds=max_seconds, seed=seed,
                                                     device=device,
                                                     reserve_evals=reserve_evals),
                                 batch_size=recipe.batch_size, bf16_matmul=bf16_matmul)
    return RecipeRun(model, result, recipe, config)

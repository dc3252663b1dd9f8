"""SASRec settings chosen from the shape of the data, used by the product and the bench alike.

Two regimes cover the public datasets: long histories (MovieLens: median ~100 events) learn
best with light dropout, a long window and small batches at a higher learning rate; short
sparse histories (Amazon: median ~6) want heavy dropout and a short window (S3-Rec, ICLRec and
SASRec's own Amazon settings). Both use a cosine schedule that ends with the time budget, so a
budget-bound run finishes at a low learning rate instead of being cut mid-stride.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from domain.sequences import LeaveOneOutSplit
from models.recommender.sasrec import SASRecConfig
from models.training import TrainConfig

# Median training-prefix length at and above which a dataset counts as long-history.
LONG_HISTORY = 20
# The window covers 80% of users' prefixes whole, in steps of 50, between these bounds.
MIN_WINDOW, MAX_WINDOW = 50, 200


@dataclass(frozen=True)
class Recipe:
    """Model and training settings of one split, minus the catalogue size and the budget."""

    regime: str  # "long histories" or "short histories"
    max_len: int  # the history window (see MIN_WINDOW, MAX_WINDOW)
    dropout: float
    lr: float
    batch_size: int
    d_model: int = 64
    n_heads: int = 1
    d_ff: int = 128
    eval_every: int = 3  # epochs between validations: full-ranking validation is costly
    schedule: Literal["constant", "cosine"] = "cosine"
    warmup_steps: int = 100
    patience: int = 10  # validations without a better NDCG@10 before stopping
    notes: tuple[str, ...] = ()

    def model_config(self, n_items: int, **overrides: Any) -> SASRecConfig:
        """The model's shape for a catalogue of ``n_items``; ``overrides`` replace fields."""
        shape = {"max_len": self.max_len, "d_model": self.d_model, "n_heads": self.n_heads,
                 "d_ff": self.d_ff, "dropout": self.dropout}
        return SASRecConfig(n_items=n_items, **(shape | overrides))

    def train_config(self, *, max_seconds: float | None, seed: int = 0, device: str = "auto",
                     reserve_evals: float = 0.0) -> TrainConfig:
        """The loop's settings: as many epochs as the budget allows."""
        return TrainConfig(max_epochs=1000, max_seconds=max_seconds, seed=seed, device=device,
                           reserve_evals=reserve_evals,
                           lr=self.lr, eval_every=self.eval_every, schedule=self.schedule,
                           warmup_steps=self.warmup_steps, patience=self.patience)

    def training_params(self) -> dict[str, Any]:
        """What a registered version records of the recipe beside its model shape."""
        return {"regime": self.regime, "batch_size": self.batch_size, "lr": self.lr,
                "eval_every": self.eval_every, "schedule": self.schedule,
                "warmup_steps": self.warmup_steps, "patience": self.patience}


def recipe_for(split: LeaveOneOutSplit) -> Recipe:
    """The settings for this split's history lengths (measured on ML-1M and Beauty)."""
    lengths = np.asarray([len(t) for t in split.train], dtype=np.float64)
    median = float(np.median(lengths)) if len(lengths) else 0.0
    p80 = float(np.percentile(lengths, 80)) if len(lengths) else 0.0
    window = int(min(MAX_WINDOW, max(MIN_WINDOW, 50 * np.ceil(p80 / 50))))
    note = f"median prefix {median:.0f}, 80th percentile {p80:.0f} -> window {window}"
    if median >= LONG_HISTORY:
        # Batch 32 at lr 2e-3 learned faster per epoch than 64 or 128 at 1e-3 on ML-1M.
        return Recipe(regime="long histories", max_len=window, dropout=0.2, lr=2e-3,
                      batch_size=32, notes=(note,))
    # Heavy dropout, as S3-Rec/ICLRec on Amazon.
    return Recipe(regime="short histories", max_len=window, dropout=0.5, lr=1e-3,
                  batch_size=128, notes=(note,))

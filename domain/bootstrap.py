"""Is a challenger better than the champion beyond noise? A paired bootstrap over held-out items.

Both models are judged on the same held-out documents (or users); resampling those items with
replacement, and computing both models' metric on each resample, gives the distribution of the
margin (challenger minus champion) that a different draw of held-out data could have shown
(Efron and Tibshirani 1993, ch. 16; Koehn 2004 uses the same paired test for MT systems). The
challenger wins only when the lower end of the interval is above 0: two models that disagree on
a handful of 1,381 documents do not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BOOTSTRAP_SEED = 0  # fixed, so a decision can be repeated from the same predictions
Statistic = Callable[[np.ndarray], float]  # rows of one resample -> challenger minus champion


@dataclass(frozen=True)
class MarginInterval:
    """Challenger minus champion on the held-out items, and its bootstrap percentile interval."""

    margin: float  # on the held-out items as they are
    low: float
    high: float
    level: float  # e.g. 0.95
    resamples: int
    items: int
    unit: str  # what an item is: documents, users

    @property
    def beyond_noise(self) -> bool:
        """True when the whole interval lies above 0."""
        return self.low > 0

    def describe(self) -> str:
        """``+0.0060 (95% interval -0.0040 to +0.0160 over 1,381 documents)``."""
        return (f"{self.margin:+.4f} ({self.level:.0%} interval {self.low:+.4f} to "
                f"{self.high:+.4f} over {self.items:,} {self.unit})")

    def as_metrics(self) -> dict[str, float]:
        """What is stored with the challenger's metrics."""
        return {"margin": self.margin, "margin_low": self.low, "margin_high": self.high,
                "margin_level": self.level}


def paired_bootstrap(statistic: Statistic, items: int, *, resamples: int, level: float,
                     unit: str, seed: int = BOOTSTRAP_SEED) -> MarginInterval:
    """Percentile interval of ``statistic`` over ``resamples`` resamples of ``items`` rows."""
    if items < 1 or resamples < 1 or not 0 < level < 1:
        raise ValueError(f"need items >= 1, resamples >= 1 and 0 < level < 1; got {items}, "
                         f"{resamples}, {level}")
    rng = np.random.default_rng(seed)
    draws = np.array([statistic(rng.integers(0, items, size=items)) for _ in range(resamples)])
    tail = (1.0 - level) / 2
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    return MarginInterval(margin=statistic(np.arange(items)), low=float(low), high=float(high),
                          level=level, resamples=resamples, items=items, unit=unit)


def macro_f1(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """Macro-F1 over ``n_classes`` (a class never seen nor predicted scores 0, as scikit-learn's
    ``zero_division=0``), from one confusion count: fast enough for a thousand resamples."""
    counts = np.bincount(truth * n_classes + predicted,
                         minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    hits = np.diag(counts).astype(np.float64)
    denominator = counts.sum(axis=0) + counts.sum(axis=1)  # predicted + true per class
    f1 = np.divide(2 * hits, denominator, out=np.zeros(n_classes), where=denominator > 0)
    return float(f1.mean())


def macro_f1_margin(truth: np.ndarray, challenger: np.ndarray, champion: np.ndarray, *,
                    n_classes: int, resamples: int, level: float) -> MarginInterval:
    """Paired bootstrap of the macro-F1 margin over the same held-out documents."""
    def statistic(rows: np.ndarray) -> float:
        return (macro_f1(truth[rows], challenger[rows], n_classes)
                - macro_f1(truth[rows], champion[rows], n_classes))

    return paired_bootstrap(statistic, len(truth), resamples=resamples, level=level,
                            unit="documents")


def mean_margin(challenger: np.ndarray, champion: np.ndarray, *, resamples: int,
                level: float, unit: str) -> MarginInterval:
    """Paired bootstrap of the margin of a per-item metric's mean (per-user NDCG)."""
    difference = np.asarray(challenger, dtype=np.float64) - np.asarray(champion, np.float64)
    return paired_bootstrap(lambda rows: float(difference[rows].mean()), len(difference),
                            resamples=resamples, level=level, unit=unit)

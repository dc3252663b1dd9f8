"""Flow ``adapt-encoder``: the accurate sentiment profile's MiniLM encoder adapted, without
labels, to the store's own text by masked-language modelling (Gururangan et al. 2020).

Every distinct message text and news headline in the store (labelled or not; messages are
stored redacted) is read, at most ``MAX_TEXTS`` of them drawn with the run's seed; 5% are held
out (``models.sentiment.adapt``). The adapted encoder is saved as a checksummed artifact and
registered as ``sentiment-encoder``; it goes live when its held-out MLM loss is lower than the
untouched MiniLM's on the same masked texts beyond noise (a paired bootstrap over the held-out
texts, as sentiment champions and challengers are compared). ``train sentiment --profile
accurate`` then starts from the live one.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from sqlalchemy import Engine

from domain.bootstrap import MarginInterval, paired_bootstrap
from domain.errors import NotReadyError
from domain.settings import Settings
from flows.promotion import DEFAULT_RULE, PromotionRule
from flows.runtime import ready_engine, redacted_errors
from storage.registry import SENTIMENT_ENCODER, Promotion, decide_on_its_own, register_version
from storage.scores import distinct_texts

if TYPE_CHECKING:
    from models.sentiment.adapt import AdaptConfig

log = logging.getLogger(__name__)

MIN_TEXTS = 50  # fewer leave a held-out 5% of one or two texts: no measure of the gain
MAX_TEXTS = 50_000  # more than a CPU adapts on in its default budget; a sample suffices


@dataclass(frozen=True)
class EncoderAdaptation:
    """What an adaptation run produced and decided."""

    promotion: Promotion
    metrics: dict[str, float]
    stop_reason: str
    seconds: float


def adaptation_verdict(before: np.ndarray, after: np.ndarray, tokens: np.ndarray, *,
                       rule: PromotionRule) -> tuple[bool, str, MarginInterval]:
    """Whether an adapted encoder goes live: each held-out text's MLM loss summed over its
    masked tokens on the untouched encoder (``before``) and on the adapted one (``after``),
    and its masked ``tokens``; live when the drop of the loss per masked token (the table's
    loss) is beyond noise (paired bootstrap over the texts, ``rule``), as a sentiment
    challenger must beat its champion. The reason says the losses and the interval."""
    def drop(rows: np.ndarray) -> float:
        return float((before[rows].sum() - after[rows].sum()) / max(tokens[rows].sum(), 1.0))

    interval = paired_bootstrap(drop, len(tokens), resamples=rule.resamples, level=rule.level,
                                unit="texts")
    verdict = "beyond noise" if interval.beyond_noise else "not beyond noise"
    masked = max(float(tokens.sum()), 1.0)
    reason = (f"held-out MLM loss {after.sum() / masked:.4f} vs the untouched MiniLM's "
              f"{before.sum() / masked:.4f}: drop {interval.describe()}, {verdict}")
    return interval.beyond_noise, reason, interval


def adapt_sentiment_encoder(*, engine: Engine, models_dir: Path, seed: int = 0,
                            max_minutes: float | None = None, max_steps: int | None = None,
                            config: AdaptConfig | None = None,
                            rule: PromotionRule = DEFAULT_RULE) -> EncoderAdaptation:
    """Adapt MiniLM to the store's text within ``max_minutes`` (or ``max_steps`` encoder
    steps), register it, make it live if it beats the untouched encoder on held-out text
    beyond noise (``adaptation_verdict``)."""
    from models.sentiment.adapt import AdaptConfig, adapt_encoder, save_adapted

    started = time.perf_counter()
    texts = distinct_texts(engine=engine)
    if len(texts) < MIN_TEXTS:
        raise NotReadyError(f"only {len(texts)} distinct texts in the store; adapting the "
                            f"encoder needs at least {MIN_TEXTS}: ingest messages or news "
                            "first (e.g. `sentrec ingest news headlines.csv`)")
    if len(texts) > MAX_TEXTS:
        texts = sorted(random.Random(seed).sample(texts, MAX_TEXTS))
    settings = config or AdaptConfig()
    if max_steps is not None:
        settings = replace(settings, max_steps=max_steps)
    budget = None if max_minutes is None else max(
        0.0, max_minutes * 60 - (time.perf_counter() - started))
    adapted = adapt_encoder(texts, config=settings, seed=seed, max_seconds=budget)
    models_dir.mkdir(parents=True, exist_ok=True)
    # Absolute, so the registry's path means the same file from any working directory.
    path = models_dir.resolve() / f"sentiment-encoder-{datetime.now(UTC):%Y%m%dT%H%M%S%f}.pt"
    sha256 = save_adapted(adapted, path)
    stop_reason = adapted.run.stop_reason if adapted.run is not None else "unknown"
    live, reason, interval = adaptation_verdict(adapted.losses_before, adapted.losses_after,
                                                adapted.masked_tokens, rule=rule)
    m = adapted.metrics | interval.as_metrics()
    version = register_version(
        engine=engine, name=SENTIMENT_ENCODER,
        eval_set=f"mlm-heldout-{settings.val_fraction:g}:{int(m['n_val'])}",
        primary_metric="mlm_loss_drop", metrics=m, artifact_path=str(path), sha256=sha256,
        params={"seed": seed, "texts": len(texts), "max_minutes": max_minutes,
                "max_steps": max_steps, "max_len": settings.max_len,
                "stop_reason": stop_reason})
    promotion = decide_on_its_own(engine=engine, version_id=version.id, better=live,
                                  reason=reason)
    log.info("%s v%d: %s", SENTIMENT_ENCODER, version.version, reason)
    return EncoderAdaptation(promotion, m, stop_reason, time.perf_counter() - started)


@flow(name="adapt-encoder", persist_result=False)
@redacted_errors
def adapt_encoder_flow(settings: Settings | None = None, seed: int = 0,
                       max_minutes: float | None = None,
                       max_steps: int | None = None) -> EncoderAdaptation:
    """Adapt the accurate profile's encoder to the store's text within ``max_minutes``
    (default: the ``adapt_train_minutes`` setting); it goes live if it beats MiniLM's own."""
    from models.device import use_threads

    settings = settings or Settings()
    use_threads(settings.torch_threads)
    outcome = adapt_sentiment_encoder(
        engine=ready_engine(settings), models_dir=settings.home / "models", seed=seed,
        max_minutes=settings.adapt_train_minutes if max_minutes is None and max_steps is None
        else max_minutes, max_steps=max_steps, rule=PromotionRule.from_settings(settings))
    version = outcome.promotion.candidate
    lines = [f"# Sentiment encoder v{version.version}", "",
             f"Masked-language-model adaptation on {int(outcome.metrics['n_texts']):,} distinct "
             f"texts of the store; stopped by {outcome.stop_reason}, {outcome.seconds:.0f} s "
             "in all.", "", "| metric | value |", "|---|---:|",
             *[f"| {k} | {v:.4f} |" for k, v in sorted(outcome.metrics.items())], "",
             f"**{'Live' if outcome.promotion.promoted else 'Not live'}**: "
             f"{outcome.promotion.reason}."]
    create_markdown_artifact(markdown="\n".join(lines), key="adapt-encoder",
                             description=f"sentiment encoder v{version.version}")
    get_run_logger().info("sentiment encoder v%d: %s", version.version, outcome.promotion.reason)
    return outcome

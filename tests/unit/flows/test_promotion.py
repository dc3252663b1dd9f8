"""Champion/challenger: a challenger goes live only when it is better beyond noise."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import Engine

from domain.bootstrap import MarginInterval, macro_f1, macro_f1_margin, mean_margin
from flows.promotion import Candidate, PromotionRule, register_and_promote
from storage.registry import VersionInfo, active_version, get_version, list_events

RULE = PromotionRule(resamples=1000, level=0.95)
N_DOCS = 1381  # the held-out size of the quoted case


def _challenger(fixed: int, broken: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth with PhraseBank's class shares, a champion wrong on about a fifth of it, and a
    challenger that puts ``fixed`` of the champion's errors right and gets ``broken`` of its
    right answers wrong (two retrained models disagree both ways)."""
    rng = np.random.default_rng(29)
    truth = rng.choice(3, size=N_DOCS, p=[0.12, 0.59, 0.29])
    wrong = rng.random(N_DOCS) < 0.205
    champion = truth.copy()
    champion[wrong] = (truth[wrong] + rng.integers(1, 3, size=int(wrong.sum()))) % 3
    challenger = champion.copy()
    fixes, breaks = np.flatnonzero(wrong)[:fixed], np.flatnonzero(~wrong)[:broken]
    challenger[fixes] = truth[fixes]
    challenger[breaks] = (truth[breaks] + 1) % 3
    return truth, challenger, champion


def _candidate(f1: float) -> Candidate:
    return Candidate(name="sentiment", eval_set="labels:1381", primary_metric="macro_f1",
                     metrics={"macro_f1": f1}, params={}, artifact_path="/x.pt",
                     sha256="0" * 64)


def _contest(engine: Engine, fixed: int,
             broken: int) -> tuple[VersionInfo, MarginInterval, bool, str]:
    truth, challenger, champion = _challenger(fixed, broken)
    register_and_promote(engine=engine, candidate=_candidate(macro_f1(truth, champion, 3)),
                         compare=lambda _: pytest.fail("no champion to compare with yet"))

    def compare(_: VersionInfo) -> MarginInterval:
        return macro_f1_margin(truth, challenger, champion, n_classes=3,
                               resamples=RULE.resamples, level=RULE.level)

    promotion = register_and_promote(engine=engine, compare=compare,
                                     candidate=_candidate(macro_f1(truth, challenger, 3)))
    stored = get_version(engine=engine, version_id=promotion.candidate.id)
    assert stored is not None
    return stored, compare(stored), promotion.promoted, promotion.reason


def test_the_quoted_near_tie_is_refused_and_its_margin_kept(engine: Engine) -> None:
    truth, challenger, champion = _challenger(fixed=38, broken=34)  # 72 documents differ
    assert (round(macro_f1(truth, champion, 3), 3), round(macro_f1(truth, challenger, 3), 4)) \
        == (0.740, 0.7461)  # 0.7401 against 0.7461 in the report that asked for this rule
    version, interval, promoted, reason = _contest(engine, fixed=38, broken=34)
    assert not promoted and interval.low < 0 < interval.margin
    assert reason == (f"macro_f1 {version.score:.4f} against champion v1's "
                      f"{version.score - interval.margin:.4f}, margin {interval.describe()}: "
                      "not better beyond noise")
    assert "95% interval" in reason and "over 1,381 documents" in reason
    assert version.metrics["margin"] == pytest.approx(interval.margin)
    assert (version.metrics["margin_low"], version.metrics["margin_high"]) == \
        pytest.approx((interval.low, interval.high))
    live = active_version(engine=engine, name="sentiment")
    assert live is not None and live.version == 1
    assert list_events(engine=engine)[0].margin == pytest.approx(interval.margin)


def test_a_clearly_better_challenger_is_promoted(engine: Engine) -> None:
    version, interval, promoted, reason = _contest(engine, fixed=120, broken=30)
    assert promoted and interval.low > 0.02
    assert reason.endswith(": better beyond noise")
    live = active_version(engine=engine, name="sentiment")
    assert live is not None and live.id == version.id


def test_the_bootstrap_is_repeatable_and_pairs_items() -> None:
    ours = np.array([1.0, 0.5, 0.0, 1.0] * 50)
    assert mean_margin(ours, ours - 0.1, resamples=200, level=0.9, unit="users") == \
        mean_margin(ours, ours - 0.1, resamples=200, level=0.9, unit="users")
    # The same shift on every user: no resample can hide it, however noisy the users are.
    shifted = mean_margin(ours, ours - 0.1, resamples=200, level=0.9, unit="users")
    assert shifted.low == pytest.approx(0.1) and shifted.beyond_noise

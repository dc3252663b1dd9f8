"""Champion/challenger: a version becomes active only by beating the champion on the same set."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.exc import IntegrityError

from storage.registry import (
    active_version,
    get_version,
    list_versions,
    promote_if_better,
    register_version,
    set_index_sha256,
)
from storage.schema import ModelVersion


def register(engine: Engine, f1: float, eval_set: str = "phrasebank-50-s0") -> int:
    return register_version(engine=engine, name="sentiment-fast", eval_set=eval_set,
                            primary_metric="macro_f1", metrics={"macro_f1": f1},
                            params={"d_model": 128}, artifact_path="/x.pt", sha256="0" * 64).id


def test_first_version_is_promoted_and_a_worse_one_is_not(engine: Engine) -> None:
    first = promote_if_better(engine=engine, version_id=register(engine, 0.80))
    assert first.promoted and first.reason == "no active version"
    worse = promote_if_better(engine=engine, version_id=register(engine, 0.79))
    assert not worse.promoted and "does not beat champion v1" in worse.reason
    active = active_version(engine=engine, name="sentiment-fast")
    assert active is not None and active.version == 1


def test_better_version_retires_the_champion(engine: Engine) -> None:
    promote_if_better(engine=engine, version_id=register(engine, 0.80))
    better = promote_if_better(engine=engine, version_id=register(engine, 0.85))
    assert better.promoted
    statuses = [(v.version, v.status) for v in list_versions(engine=engine)]
    assert statuses == [(1, "retired"), (2, "active")]


def test_versions_on_different_evaluation_sets_are_not_compared(engine: Engine) -> None:
    promote_if_better(engine=engine, version_id=register(engine, 0.80))
    other = promote_if_better(engine=engine,
                              version_id=register(engine, 0.99, eval_set="airline-s0"))
    assert not other.promoted and "evaluated on 'phrasebank-50-s0'" in other.reason


def test_the_database_refuses_two_active_versions(engine: Engine) -> None:
    promote_if_better(engine=engine, version_id=register(engine, 0.80))
    second = register(engine, 0.70)
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(update(ModelVersion).where(ModelVersion.id == second)
                           .values(status="active"))


def test_metrics_must_hold_the_primary_metric(engine: Engine) -> None:
    with pytest.raises(ValueError, match="primary metric 'macro_f1'"):
        register_version(engine=engine, name="m", eval_set="e", primary_metric="macro_f1",
                         metrics={"accuracy": 0.9}, params={}, artifact_path="", sha256="")


def test_a_champion_rescored_on_the_new_set_can_be_beaten(engine: Engine) -> None:
    promote_if_better(engine=engine, version_id=register(engine, 0.90, eval_set="old"))
    challenger = register(engine, 0.85, eval_set="new")
    lost = promote_if_better(engine=engine, version_id=challenger, champion_rescored=0.88)
    assert not lost.promoted and "champion v1's 0.8800" in lost.reason
    won = promote_if_better(engine=engine, version_id=register(engine, 0.89, eval_set="new"),
                            champion_rescored=0.88)
    assert won.promoted


def test_every_decision_is_recorded_with_its_margin(engine: Engine) -> None:
    from storage.registry import list_events

    promote_if_better(engine=engine, version_id=register(engine, 0.80))
    promote_if_better(engine=engine, version_id=register(engine, 0.78))
    promote_if_better(engine=engine, version_id=register(engine, 0.85))
    events = list_events(engine=engine, name="sentiment-fast")
    assert [(e.version, e.action) for e in events] == [
        (3, "promoted"), (2, "not promoted"), (1, "promoted")]
    assert [None if e.margin is None else round(e.margin, 4) for e in events] == [
        0.05, -0.02, None]


def test_a_version_can_be_made_live_by_hand_and_rolled_back(engine: Engine) -> None:
    from domain.errors import ConflictError, NotFoundError, NotReadyError
    from storage.registry import activate_by_hand, list_events, roll_back

    promote_if_better(engine=engine, version_id=register(engine, 0.80))
    promote_if_better(engine=engine, version_id=register(engine, 0.70))  # not promoted
    with pytest.raises(NotReadyError, match="no earlier live version"):
        roll_back(engine=engine, name="sentiment-fast", reason="bad alerts")
    forced = activate_by_hand(engine=engine, name="sentiment-fast", version=2,
                              reason="v1 flags every tweet negative")
    assert forced.version == 2
    assert active_version(engine=engine, name="sentiment-fast").version == 2  # type: ignore[union-attr]
    with pytest.raises(ConflictError, match="v2 is already live"):
        activate_by_hand(engine=engine, name="sentiment-fast", version=2, reason="again")
    with pytest.raises(NotFoundError, match="sentiment-fast has no version 9"):
        activate_by_hand(engine=engine, name="sentiment-fast", version=9, reason="typo")
    back = roll_back(engine=engine, name="sentiment-fast", reason="v2 is worse after all")
    assert back.version == 1
    assert [(e.version, e.action, e.reason) for e in list_events(engine=engine)][:2] == [
        (1, "rolled back", "from v2: v2 is worse after all"),
        (2, "promoted by hand", "v1 flags every tweet negative")]


def test_the_index_checksum_is_recorded_with_its_version(engine: Engine) -> None:
    version_id = register(engine, 0.80)
    promote_if_better(engine=engine, version_id=version_id)
    registered = get_version(engine=engine, version_id=version_id)
    assert registered is not None and registered.index_sha256 is None
    set_index_sha256(engine=engine, version_id=version_id, sha256="ab" * 32)
    active = active_version(engine=engine, name="sentiment-fast")
    assert active is not None and active.index_sha256 == "ab" * 32
    with pytest.raises(LookupError, match="no model version with id 999"):
        set_index_sha256(engine=engine, version_id=999, sha256="cd" * 32)

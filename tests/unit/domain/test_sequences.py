"""Sequence loading, event ordering and the leave-one-out split."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from domain.errors import MalformedFileError
from domain.sequences import (
    DEFAULT_EVENT_WEIGHTS,
    Sequences,
    check_event_weights,
    leave_one_out,
    load_sequence_file,
    sequences_from_events,
    with_event_weights,
)


def _items(rows: list[np.ndarray]) -> list[list[int]]:
    return [row.tolist() for row in rows]


def test_load_sequence_file_numbers_items_by_first_appearance(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("7 30 10 20\n8 10 40\n")
    seqs = load_sequence_file(path)
    assert seqs.user_ids == ["7", "8"]
    assert seqs.item_ids == ["30", "10", "20", "40"]
    assert _items(seqs.items) == [[1, 2, 3], [2, 4]]
    assert seqs.item_index["40"] == 4
    assert seqs.n_items == 4
    assert seqs.n_interactions == 5


def test_load_sequence_file_rejects_user_without_items_with_line(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("1 5 6\n2\n")
    with pytest.raises(MalformedFileError, match=r"line 2.*at least one item"):
        load_sequence_file(path)


def test_load_sequence_file_rejects_repeated_user(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("1 5 6\n1 7\n")
    with pytest.raises(MalformedFileError, match=r"line 2.*two lines"):
        load_sequence_file(path)


def _t(hour: int) -> datetime:
    return datetime(2024, 1, 1, hour, tzinfo=UTC)


def test_events_ordered_by_time_then_file_order() -> None:
    frame = pl.DataFrame(
        {
            "user_id": ["u", "u", "u", "v", "v"],
            "item_id": ["late", "tie-b", "tie-a", "x", "y"],
            "occurred_at": [_t(9), _t(5), _t(5), _t(1), _t(2)],
            "seq": [1, 3, 2, 0, 4],
        },
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC")},
    )
    seqs = sequences_from_events(frame)
    # v's first event has the lowest seq, so v comes first; u's tie at 05:00 keeps file order.
    assert seqs.user_ids == ["v", "u"]
    named = [[seqs.item_ids[i - 1] for i in row] for row in seqs.items]
    assert named == [["x", "y"], ["tie-a", "tie-b", "late"]]


def test_user_with_a_null_time_is_ordered_by_file_order_only() -> None:
    frame = pl.DataFrame(
        {
            "user_id": ["u", "u", "u"],
            "item_id": ["a", "b", "c"],
            "occurred_at": [_t(9), None, _t(1)],
            "seq": [0, 1, 2],
        },
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC")},
    )
    seqs = sequences_from_events(frame)
    assert [[seqs.item_ids[i - 1] for i in row] for row in seqs.items] == [["a", "b", "c"]]


def test_events_without_required_column_are_refused() -> None:
    with pytest.raises(ValueError, match="occurred_at"):
        sequences_from_events(pl.DataFrame({"user_id": ["u"], "item_id": ["a"], "seq": [0]}))


def test_leave_one_out_holds_out_last_two_items(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("a 1 2 3 4\nb 5 6\nc 7 8 9\n")
    split = leave_one_out(load_sequence_file(path))
    assert _items(split.train) == [[1, 2], [5, 6], [7]]
    assert split.users.tolist() == [0, 2]  # b has 2 items: training only, not evaluated
    assert split.valid_target.tolist() == [3, 8]
    assert split.test_target.tolist() == [4, 9]
    assert _items(split.valid_histories()) == [[1, 2], [7]]
    assert _items(split.test_histories()) == [[1, 2, 3], [7, 8]]


def _kinded_events() -> pl.DataFrame:
    """u: a purchase and a view tied at 05:00 (file order: view first), a click, a late cart."""
    return pl.DataFrame(
        {
            "user_id": ["u", "u", "u", "u", "v", "v"],
            "item_id": ["late", "tie-b", "tie-a", "clicked", "x", "y"],
            "kind": ["cart", "purchase", "view", "click", "view", "purchase"],
            "occurred_at": [_t(9), _t(5), _t(5), _t(6), _t(1), _t(2)],
            "seq": [1, 3, 2, 5, 0, 4],
        },
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC")},
    )


def test_event_weights_follow_their_events_in_time_and_file_order() -> None:
    weights = {"view": 1.0, "click": 0.5, "cart": 2.0, "purchase": 3.0}
    seqs = sequences_from_events(with_event_weights(_kinded_events(), weights))
    named = [[seqs.item_ids[i - 1] for i in row] for row in seqs.items]
    assert named == [["x", "y"], ["tie-a", "tie-b", "clicked", "late"]]
    assert seqs.weights is not None
    assert [w.tolist() for w in seqs.weights] == [[1.0, 3.0], [1.0, 3.0, 0.5, 2.0]]
    assert all(w.dtype == np.float32 for w in seqs.weights)


def test_a_kind_weighted_zero_or_left_out_is_not_in_the_sequences() -> None:
    weights = {"view": 1.0, "click": 0.0, "purchase": 3.0}  # cart left out, click off
    seqs = sequences_from_events(with_event_weights(_kinded_events(), weights))
    named = [[seqs.item_ids[i - 1] for i in row] for row in seqs.items]
    assert named == [["x", "y"], ["tie-a", "tie-b"]]
    assert seqs.weights is not None
    assert [w.tolist() for w in seqs.weights] == [[1.0, 3.0], [1.0, 3.0]]


def test_equal_weights_carry_no_weights_so_training_stays_unweighted() -> None:
    seqs = sequences_from_events(with_event_weights(_kinded_events(), DEFAULT_EVENT_WEIGHTS))
    assert seqs.weights is None
    assert seqs.n_interactions == 6


def test_leave_one_out_keeps_the_prefix_weights_and_drops_the_targets() -> None:
    frame = pl.DataFrame(
        {
            "user_id": ["a"] * 5 + ["b"] * 2,
            "item_id": ["1", "2", "3", "4", "5", "6", "7"],
            "occurred_at": [_t(h) for h in range(5)] + [_t(1), _t(2)],
            "seq": list(range(7)),
            "weight": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        },
        schema_overrides={"occurred_at": pl.Datetime("us", "UTC")},
    )
    split = leave_one_out(sequences_from_events(frame))
    assert split.train_weights is not None
    assert [w.tolist() for w in split.train_weights] == [[1.0, 2.0, 3.0], [6.0, 7.0]]
    assert split.valid_target.tolist() == [4] and split.test_target.tolist() == [5]


def test_split_of_unweighted_sequences_has_no_weights(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt"
    path.write_text("a 1 2 3 4\n")
    assert leave_one_out(load_sequence_file(path)).train_weights is None


def test_null_weight_is_refused() -> None:
    frame = _kinded_events().with_columns(
        pl.Series("weight", [1.0, None, 1.0, 1.0, 1.0, 1.0], dtype=pl.Float32))
    with pytest.raises(ValueError, match="null weights"):
        sequences_from_events(frame)


@pytest.mark.parametrize(("weights", "message"), [
    ({"purchse": 3.0}, r"'purchse': unknown event kind; use one of view, click, cart"),
    ({"view": 1.0, "cart": -1.0}, r"cart=-1.0: weights must be finite and >= 0"),
    ({"view": float("nan")}, r"view=nan: weights must be finite"),
    ({"view": 0.0, "return": 0.0}, r"keep no kind: give at least one kind a weight above 0"),
    ({}, r"keep no kind"),
])
def test_bad_event_weights_are_refused_naming_the_entry(weights: dict[str, float],
                                                        message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_event_weights(weights)


def test_event_weights_may_weigh_returns_in() -> None:
    assert check_event_weights({"purchase": 3, "return": 0.5}) == {"purchase": 3.0,
                                                                    "return": 0.5}


def test_validation_users_train_the_others_on_their_validation_item() -> None:
    seqs = Sequences(user_ids=["a", "b", "c", "d"], item_ids=[str(i) for i in range(1, 13)],
                     items=[np.array([1, 2, 3, 4]), np.array([5, 6, 7]), np.array([8, 9]),
                            np.array([10, 11, 12])])
    full = leave_one_out(seqs)
    split = leave_one_out(seqs, validation_users=1)
    assert split.users.tolist() == full.users.tolist() == [0, 1, 3]  # c is too short
    assert split.validated is not None and split.validated.sum() == 1
    held = int(split.users[split.validated][0])
    # The validated user keeps the plain prefix; the others also train on their 2nd-to-last.
    for user, row in enumerate(seqs.items):
        expected = row[:-2] if user == held else row if user == 2 else row[:-1]
        assert split.train[user].tolist() == expected.tolist()
    assert _items(split.valid_histories()) == [seqs.items[held][:-2].tolist()]
    assert split.valid_targets().tolist() == [seqs.items[held][-2]]
    # Test histories are the same whichever users validate: everything before the last item.
    assert _items(split.test_histories()) == _items(full.test_histories())
    assert split.test_target.tolist() == full.test_target.tolist()
    # The choice depends on the user ids, not on their order or on who else is there.
    assert leave_one_out(seqs, validation_users=1).validated.tolist() == \
        split.validated.tolist()
    assert leave_one_out(seqs, validation_users=3).validated is None

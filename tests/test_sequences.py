"""Sequence loading, event ordering and the leave-one-out split."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from domain.errors import MalformedFileError
from domain.sequences import leave_one_out, load_sequence_file, sequences_from_events


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


def test_load_real_ml1m_file_has_published_counts() -> None:
    path = Path(__file__).resolve().parents[1] / "../shared/data/ml_1m_seq/ml-1m.txt"
    if not path.exists():
        pytest.skip("shared ML-1M data not present")
    seqs = load_sequence_file(path)
    assert (len(seqs.user_ids), seqs.n_items, seqs.n_interactions) == (6040, 3416, 999611)
    # The file numbers items by first appearance already, so dense index == file id.
    assert seqs.item_ids[:3] == ["1", "2", "3"]


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

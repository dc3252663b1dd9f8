"""Data contracts of the real behaviour files (``SENTREC_DATA_DIR``): MovieLens, the SASRec
sequence files and UCI Online Retail, read by the events and items adapters."""

from __future__ import annotations

import polars as pl

from domain.adapters.events import parse_events
from domain.adapters.items import parse_items
from domain.sequences import load_sequence_file
from tests.helpers import data_file


def test_movielens_100k_contract() -> None:
    parsed = parse_events(data_file("movielens_100k", "u.data"))
    assert (parsed.rows_read, parsed.records.height, parsed.rejects.height) == (100_000,
                                                                               100_000, 0)
    assert parsed.records["user_id"].n_unique() == 943
    assert parsed.records["item_id"].n_unique() == 1_682
    assert parsed.records["event_id"].n_unique() == 100_000
    items = parse_items(data_file("movielens_100k", "u.item"))
    assert (items.rows_read, items.records.height) == (1_682, 1_682)


def test_ml_1m_sequence_contract() -> None:
    parsed = parse_events(data_file("ml_1m_seq", "ml-1m.txt"))
    assert parsed.rows_read == parsed.records.height == 999_611
    assert parsed.records["user_id"].n_unique() == 6_040
    assert parsed.records["item_id"].n_unique() == 3_416


def test_amazon_beauty_sequence_contract() -> None:
    parsed = parse_events(data_file("amazon_seq", "Beauty.txt"))
    assert parsed.records.height == 198_502
    assert parsed.records["user_id"].n_unique() == 22_363
    assert parsed.records["item_id"].n_unique() == 12_101


def test_uci_online_retail_contract() -> None:
    parsed = parse_events(data_file("uci_online_retail", "online_retail.csv.gz"))
    assert parsed.rows_read == 541_909
    assert parsed.rows_read == parsed.records.height + parsed.rejects.height
    reasons = dict(parsed.rejects.group_by("reason").len().rows())
    assert reasons["no CustomerID: the line cannot be tied to a user"] == 135_080
    purchases = parsed.records.filter(pl.col("kind") == "purchase")
    # SOURCE.md: 397,924 purchase lines with a customer, of which the product lines remain.
    assert purchases.height + reasons[
        "StockCode is not a product (postage, fee, adjustment, sample or voucher)"] >= 397_924
    assert parsed.records["event_id"].n_unique() < parsed.records.height  # exact repeats
    assert parsed.items is not None and parsed.items["item_id"].n_unique() == \
        parsed.items.height


def test_load_real_ml1m_file_has_published_counts() -> None:
    seqs = load_sequence_file(data_file("ml_1m_seq", "ml-1m.txt"))
    assert (len(seqs.user_ids), seqs.n_items, seqs.n_interactions) == (6040, 3416, 999611)
    # The file numbers items by first appearance already, so dense index == file id.
    assert seqs.item_ids[:3] == ["1", "2", "3"]

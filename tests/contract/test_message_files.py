"""Data contracts of the real customer-service files (``SENTREC_DATA_DIR``): row counts, rejects,
labels, entities, and that no email or card number survives redaction."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import polars as pl
import pytest

from domain.adapters.messages import parse_messages
from tests.helpers import data_file

EMAIL = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def assert_ids_kept(records: pl.DataFrame) -> None:
    """Tweet ids hold no PII, so none is pseudonymised (a digit id is not taken for a phone)."""
    for column in ("message_id", "conversation_id"):
        assert not records[column].str.starts_with("pii:").any()


def assert_no_email_or_card(texts: pl.Series) -> None:
    """No email, and no whole digit run ("404-7091504-9405917" is one) that is a card."""
    assert not texts.str.contains(EMAIL).any()
    runs = [run for text in texts for run in re.findall(r"\d(?:[ \-]?\d)*", text)]
    digits = [re.sub(r"\D", "", run) for run in runs]
    assert not [d for d in digits if 13 <= len(d) <= 16 and luhn_valid(d)]


def test_real_airline_tweets() -> None:
    parsed = parse_messages(data_file("twitter_airline_sentiment", "Tweets.csv"))
    records = parsed.records
    assert (parsed.rows_read, records.height, parsed.rejects.height) == (14_640, 14_640, 0)
    assert records.height - records["message_id"].n_unique() == 155
    assert parsed.labels.height == 14_485
    assert dict(parsed.labels["label"].value_counts().iter_rows()) == {
        "negative": 9_082, "neutral": 3_069, "positive": 2_334}
    # The file's "Delta" rows address @JetBlue; 8 of them do address @Delta.
    assert dict(records["entity"].value_counts().iter_rows()) == {
        "United": 3_822, "US Airways": 2_913, "American": 2_759, "Southwest": 2_420,
        "JetBlue": 2_214, "Virgin America": 504, "Delta": 8}
    assert records["created_at"].min() == utc(2015, 2, 17, 7, 36, 5)
    assert records["text"].str.contains(r"\[EMAIL\]").sum() == 16
    # Read one by one: each of the 27 is a phone number (customers' and the airlines' own);
    # bag claims and booking references in the file are kept.
    assert records["text"].str.count_matches(r"\[PHONE\]").sum() == 27
    assert_no_email_or_card(records["text"])
    assert_ids_kept(records)


def test_real_support_requests() -> None:
    parsed = parse_messages(data_file("customer_support_twitter", "support_requests.csv"))
    records = parsed.records
    assert parsed.source == "twcs"
    assert (parsed.rows_read, records.height, parsed.rejects.height) == (15_096, 15_096, 0)
    assert records["message_id"].n_unique() == 15_096
    assert set(records["entity"]) == {"SpotifyCares"}
    assert set(records["author_role"]) == {"customer"}
    assert records["text"].str.contains("\r", literal=True).sum() == 8
    assert records["conversation_id"].n_unique() == 10_037
    assert_no_email_or_card(records["text"])
    assert_ids_kept(records)


@pytest.mark.parametrize(("company", "direction", "rows"), [
    (company, direction, rows)
    for company in ("AmazonHelp", "AppleSupport", "SpotifyCares")
    for direction, rows in (("inbound", 200), ("outbound", 100))
])
def test_real_labelled_twcs(company: str, direction: str, rows: int) -> None:
    path = data_file("customer_support_twitter", "labeled_kechtel",
                     f"twcs-{company}-{rows}-{direction}.csv")
    parsed = parse_messages(path)
    assert (parsed.rows_read, parsed.records.height, parsed.rejects.height) == (rows, rows, 0)
    assert set(parsed.records["entity"]) == {company}
    role = "customer" if direction == "inbound" else "agent"
    assert set(parsed.records["author_role"]) == {role}
    assert_no_email_or_card(parsed.records["text"])

"""PII redaction: what must be replaced, what must be left alone, and the logging filter."""

from __future__ import annotations

import logging
import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.redaction import RedactingFilter, redact, redact_series


def luhn_complete(body: str) -> str:
    """Append the check digit that makes ``body`` Luhn-valid (written here, not imported)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str((10 - total % 10) % 10)


def grouped(digits: str, separator: str, sizes: tuple[int, ...] = (4, 4, 4, 4, 3)) -> str:
    parts, start = [], 0
    for size in sizes:
        if start < len(digits):
            parts.append(digits[start:start + size])
            start += size
    return separator.join(parts)


PLANTED = [
    # emails
    ("write to jane.doe@example.com today", "write to [EMAIL] today"),
    ("JOHN+tag@Mail.Example.co.uk.", "[EMAIL]."),
    ("contact:a_b-c%d@x-y.io,thanks", "contact:[EMAIL],thanks"),
    # North-American phones
    ("call (555) 234-5678 now", "call [PHONE] now"),
    ("call 555-123-4567 now", "call [PHONE] now"),
    ("call 555.234.5678.", "call [PHONE]."),
    ("call 555 234 5678", "call [PHONE]"),
    ("dial 1-800-555-1234!", "dial [PHONE]!"),
    ("dial 1 (800) 555-1234", "dial [PHONE]"),
    ("number 8004337300 ok", "number [PHONE] ok"),
    ("number 18009174929 ok", "number [PHONE] ok"),
    ("at 555-234-5678, or 555-234-9999", "at [PHONE], or [PHONE]"),
    ("me at 781 879 4505 2 times", "me at [PHONE] 2 times"),
    # international phones
    ("ring +1 (555) 234-5678", "ring [PHONE]"),
    ("ring +1-555-234-5678", "ring [PHONE]"),
    ("ring +44 20 7946 0958 pls", "ring [PHONE] pls"),
    ("ring +44 (0)20 7946 0958", "ring [PHONE]"),
    ("ring 0044 20 7946 0958", "ring [PHONE]"),
    ("ring +49 30 1234567", "ring [PHONE]"),
    ("ring +33 1 23 45 67 89", "ring [PHONE]"),
    ("ring +91 98765 43210", "ring [PHONE]"),
    ("ring +4930123456789", "ring [PHONE]"),
    # cards: Visa, Mastercard (5 and 2 series), Amex 4-6-5, Discover, JCB, Diners 14
    ("card 4111 1111 1111 1111 exp 12/25", "card [CARD] exp 12/25"),
    ("card 4111-1111-1111-1111", "card [CARD]"),
    ("card 4111111111111111.", "card [CARD]."),
    ("card 5555555555554444", "card [CARD]"),
    ("card 2223 0031 2200 3222", "card [CARD]"),
    ("card 3782 822463 10005", "card [CARD]"),
    ("card 371449635398431", "card [CARD]"),
    ("card 6011 1111 1111 1117", "card [CARD]"),
    ("card 3530111333300000", "card [CARD]"),
    ("card 30569309025904", "card [CARD]"),
    ("card 4222222222222 (13 digits)", "card [CARD] (13 digits)"),
    ("card 4111 1111 1111 1111 123", "card [CARD] 123"),
    # IBANs, printed and compact, any case
    ("iban GB82 WEST 1234 5698 7654 32 thanks", "iban [IBAN] thanks"),
    ("iban DE89370400440532013000", "iban [IBAN]"),
    ("iban FR14 2004 1010 0505 0001 3M02 606.", "iban [IBAN]."),
    ("iban NL91ABNA0417164300", "iban [IBAN]"),
    ("iban CH93 0076 2011 6238 5295 7", "iban [IBAN]"),
    ("iban NO93 8601 1117 947", "iban [IBAN]"),
    ("iban de89 3704 0044 0532 0130 00", "iban [IBAN]"),
]

NINETEEN = luhn_complete("400000000000000000")
TWEET_ID_VALID = luhn_complete("57030613367776051")  # an 18-digit id that passes Luhn

KEPT = [
    "flight UA1234 on 2015-02-24 at 11:35:52",
    "flight 3412 delayed, gate B22, seat 7A",
    "years 2014 2015 and 2016",
    "tweet 570306133677760513",
    f"tweet {TWEET_ID_VALID}",
    "https://twitter.com/united/status/570306133677760513",
    "it cost $1,234.56, then $350 and 15.99",
    "on 02/24/2015 at 5:30pm",
    "card 4111 1111 1111 1112",
    "card 4111111111111112",
    "number 1234567890123456",
    "iban GB00 WEST 1234 5698 7654 32",
    "iban DE89370400440532013001",
    "app version 1.0.65.320.gac7a8e02",
    "ip 192.168.100.200",
    "AA Ref#1-2990176298",
    "bag tags 0016 964012",
    "score +1 and +20",
    "fake 123-456-7890",
    "@VirginAmerica and @united",
]


@pytest.mark.parametrize(("text", "expected"), PLANTED)
def test_replaces_planted_pii(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_leaves_numbers_that_are_not_pii(text: str) -> None:
    assert redact(text) == text


def test_replaces_nineteen_digit_card_printed_in_groups() -> None:
    assert redact(f"card {grouped(NINETEEN, ' ')}") == "card [CARD]"


def test_series_matches_scalar_and_keeps_nulls() -> None:
    texts = [t for t, _ in PLANTED] + KEPT + [None, ""]
    result = redact_series(pl.Series("text", texts))
    assert result.name == "text"
    assert result.to_list() == [None if t is None else redact(t) for t in texts]


def test_series_redacts_every_row_of_a_large_column() -> None:
    rng = random.Random(0)
    pieces = ["@united my bag is lost", "flight 1234", "call 555-234-5678", "$350",
              "jane@example.com", "4111 1111 1111 1111", "thanks!", "2015-02-24"]
    texts = pl.Series([" ".join(rng.choices(pieces, k=4)) for _ in range(100_000)])
    result = redact_series(texts)
    assert result.len() == 100_000
    assert not result.str.contains("555-234-5678|jane@example|4111 1111").any()
    # Speed is measured in bench/redaction.py, never asserted here.


def test_log_filter_redacts_message_arguments_and_exceptions(
        caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("sentrec.test.redaction")
    redacting = RedactingFilter()
    logger.addFilter(redacting)
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("customer %s wrote from %s", "jane@example.com", "555-234-5678")
            try:
                raise ValueError("bad card 4111 1111 1111 1111")
            except ValueError:
                logger.exception("failed for %s", "bob@example.org")
    finally:
        logger.removeFilter(redacting)
    assert caplog.records[0].getMessage() == "customer [EMAIL] wrote from [PHONE]"
    assert caplog.records[1].getMessage() == "failed for [EMAIL]"
    assert "4111" not in caplog.text and "[CARD]" in caplog.text
    assert "@example" not in caplog.text


card_prefixes = st.sampled_from(["4", "51", "55", "2221", "34", "37", "6011", "65", "3530"])
filler = st.text(alphabet="abcdefXYZ0123456789 .,!?-()$:/#&'", max_size=30)


@st.composite
def valid_cards(draw: st.DrawFn) -> str:
    prefix = draw(card_prefixes)
    length = draw(st.sampled_from([15, 16] if prefix in ("34", "37") else [13, 16, 19]))
    body = prefix + draw(st.text(alphabet="0123456789", min_size=length - 1 - len(prefix),
                                 max_size=length - 1 - len(prefix)))
    digits = luhn_complete(body)
    separator = draw(st.sampled_from(["", " ", "-"]))
    if length > 16 and not separator:
        separator = " "  # unbroken runs over 16 digits are ids by design
    # The layouts cards are printed in: 4-3-3-3, Amex 4-6-5, 4-4-4-4, 4-4-4-4-3.
    layout = {13: (4, 3, 3, 3), 15: (4, 6, 5), 16: (4, 4, 4, 4), 19: (4, 4, 4, 4, 3)}[length]
    return grouped(digits, separator, layout) if separator else digits


emails = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text(alphabet="abcxyz0189._+-", min_size=1, max_size=12),
    st.text(alphabet="abcxyz0189-", min_size=1, max_size=10),
    st.text(alphabet="comnetorgio", min_size=2, max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(before=filler, card=valid_cards(), email=emails, after=filler)
def test_no_planted_card_or_email_survives(before: str, card: str, email: str,
                                           after: str) -> None:
    text = f"{before} {card} and {email} {after}"
    for result in (redact(text), redact_series(pl.Series([text]))[0]):
        assert card not in result
        assert card.replace(" ", "").replace("-", "") not in result
        assert email not in result

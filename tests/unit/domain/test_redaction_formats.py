"""Redaction of national phone formats, other separators and Unicode forms, and of numbers that
only look like phones (references, amounts, dates). Each case is a probe that once failed."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.errors import InvalidInputError
from domain.phones import DEFAULT_PHONE_REGIONS, check_phone_regions
from domain.redaction import (
    fold,
    pseudonym,
    pseudonymise_ids,
    redact,
    redact_series,
    stored_id,
)
from domain.settings import Settings

NATIONAL_PHONES = [
    ("call 020 7946 0958 today", "call [PHONE] today"),  # UK London (Ofcom drama range)
    ("text 07700 900123 pls", "text [PHONE] pls"),  # UK mobile (Ofcom drama range)
    ("Tel. 030 12345678", "Tel. [PHONE]"),  # Germany, Berlin
    ("tél : 01 23 45 67 89", "tél : [PHONE]"),  # France, Paris
    ("電話 03-1234-5678 まで", "電話 [PHONE] まで"),  # Japan, Tokyo
    ("mob 0412 345 678.", "mob [PHONE]."),  # Australia, mobile
]

SEPARATORS_AND_FORMS = [
    ("card 4111.1111.1111.1111 ok", "card [CARD] ok"),
    ("card 4111/1111/1111/1111 ok", "card [CARD] ok"),
    ("iban DE89-3704-0044-0532-0130-00 ok", "iban [IBAN] ok"),
    ("iban GB82-WEST-1234-5698-7654-32", "iban [IBAN]"),
    ("call 020\u00a07946\u00a00958", "call [PHONE]"),  # no-break spaces
    ("call 555\u202f234\u202f5678", "call [PHONE]"),  # narrow no-break spaces
    ("card 4111\u00a01111\u00a01111\u00a01111", "card [CARD]"),
    ("iban DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000", "iban [IBAN]"),
    ("card ４１１１ １１１１ １１１１ １１１１", "card [CARD]"),  # full-width digits
    ("call ５５５-２３４-５６７８ now", "call [PHONE] now"),
    ("電話０３－１２３４－５６７８", "電話[PHONE]"),  # full-width digits and hyphen
    ("ｍａｉｌ ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ ｐｌｓ", "ｍａｉｌ [EMAIL] ｐｌｓ"),
]

REFERENCES = [
    "bag claim #3526665682",
    "booking ref 4155552671",
    "booking reference: 4155552671",
    "my order number is 2025550164",
    "ticket no. 020 7946 0958 was cancelled",
    "PNR 4155552671",
    "invoice #07700900123",
    "account no. 2125550187",
    "tracking 4155552671 says delivered",
    "case: 0412 345 678",
    "refund of $4155552671",  # an amount, however unlikely
]


@pytest.mark.parametrize(("text", "expected"), NATIONAL_PHONES + SEPARATORS_AND_FORMS)
def test_redacts_national_formats_separators_and_unicode_forms(text: str,
                                                               expected: str) -> None:
    assert redact(text) == expected
    assert redact_series(pl.Series([text]))[0] == expected


@pytest.mark.parametrize("text", REFERENCES)
def test_keeps_numbers_after_a_reference_word(text: str) -> None:
    assert redact(text) == text
    assert redact_series(pl.Series([text]))[0] == text


def test_a_phone_word_after_the_reference_word_makes_it_a_phone() -> None:
    assert redact("booking ref 3526665682, call me at (415) 555-0123") == \
        "booking ref 3526665682, call me at [PHONE]"
    assert redact("booking line phone 020 7946 0958") == "booking line phone [PHONE]"
    # Cards and IBANs are redacted after a reference word too: they pass checksums.
    assert redact("order 4111 1111 1111 1111") == "order [CARD]"


def test_extensions_go_with_their_phone() -> None:
    assert redact("call +1 212 555 0187 ext. 12 now") == "call [PHONE] now"
    assert redact("(415) 555-0123 x104, ask for Jo") == "[PHONE], ask for Jo"
    assert redact("room 4155 x2") == "room 4155 x2"


def test_text_outside_a_redacted_span_is_kept_as_written() -> None:
    text = "Ｃａｌｌ ５５５-２３４-５６７８\u00a0ｎｏｗ ‒ 10\u202f% off"
    assert redact(text) == "Ｃａｌｌ [PHONE]\u00a0ｎｏｗ ‒ 10\u202f% off"
    assert len(fold(text)) == len(text)


def test_national_formats_follow_the_regions_and_international_ones_do_not() -> None:
    text = "call 030 12345678 or +49 30 12345678"
    assert redact(text) == "call [PHONE] or [PHONE]"
    assert redact(text, regions=("US",)) == "call 030 12345678 or [PHONE]"
    assert redact(text, regions=()) == "call 030 12345678 or [PHONE]"
    assert redact_series(pl.Series([text]), regions=("US",))[0] == "call 030 12345678 or [PHONE]"
    # India is not a default region: its plan makes most ten-digit order numbers valid.
    assert redact("call 98765 43210") == "call 98765 43210"
    assert redact("call 98765 43210", regions=("IN",)) == "call [PHONE]"


def test_series_matches_scalar_on_mixed_rows() -> None:
    texts = [text for text, _ in NATIONAL_PHONES + SEPARATORS_AND_FORMS] + REFERENCES + [
        "plain ascii row", "café ☕ 12", "ＡＢＣ", "jane@example.com", None]
    result = redact_series(pl.Series("t", texts))
    assert result.to_list() == [None if text is None else redact(text) for text in texts]


# Digits, separators, IBAN letters, and the Unicode forms folding changes; and whole numbers of
# each kind, so that texts hold real candidates and not only noise.
_ALPHABET = "0123456789 .-/()+#@:abcDEGBx\u00a0\u202f\u2011\uff10\uff14\uff11\uff0d"
_PIECES = ["020 7946 0958", "030 23125", "0491 570 156", "(212) 555-0187", "+44 20 7946 0958",
           "4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "jane@example.com", "ref",
           "call", "2015-02-24", "\uff10\uff13-1234-5678"]
_texts = st.lists(st.one_of(st.text(alphabet=_ALPHABET, max_size=12), st.sampled_from(_PIECES)),
                  max_size=6).map(" ".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(_texts, min_size=1, max_size=8))
def test_column_and_scalar_redaction_agree_on_any_text(texts: list[str]) -> None:
    # The polars pre-filter may skip a row only when Python would change nothing but emails.
    assert redact_series(pl.Series(texts)).to_list() == [redact(text) for text in texts]


def test_pseudonym_is_fixed_so_ids_stay_joinable_across_batches() -> None:
    # Pinned: a different value would split stored conversations from new rows.
    assert pseudonym("jane@example.com") == "pii:4f36d016eb7fb2bf"
    assert pseudonym("john@example.com") != pseudonym("jane@example.com")


def test_phone_regions_setting_reads_comma_and_json_lists(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().phone_regions == DEFAULT_PHONE_REGIONS == (
        "US", "GB", "DE", "FR", "JP", "AU")
    monkeypatch.setenv("SENTREC_PHONE_REGIONS", "us, in,US")
    assert Settings().phone_regions == ("US", "IN")
    monkeypatch.setenv("SENTREC_PHONE_REGIONS", '["GB", "ie"]')
    assert Settings().phone_regions == ("GB", "IE")
    monkeypatch.setenv("SENTREC_PHONE_REGIONS", "")
    assert Settings().phone_regions == ()
    monkeypatch.setenv("SENTREC_PHONE_REGIONS", "US,UK")
    with pytest.raises(ValidationError, match=r"phone_regions\n.*'UK': not an ISO 3166"):
        Settings()
    monkeypatch.setenv("SENTREC_PHONE_REGIONS", "[US")
    with pytest.raises(ValidationError, match=r"'\[US' is not a JSON list"):
        Settings()


def test_check_phone_regions_refuses_unknown_codes() -> None:
    assert check_phone_regions(["fr", "FR", "jp"]) == ("FR", "JP")
    with pytest.raises(InvalidInputError, match="'EU': not an ISO 3166 country code"):
        check_phone_regions(["EU"])


def test_a_lookup_maps_an_id_as_event_ingest_stored_it() -> None:
    ids = ["jane.doe@example.com", "+442079460958", "4155552671", "1000001", "u1",
           "123e4567-e89b-12d3-a456-426614174000", "4111111111111111", "196:242:881250949"]
    stored = pseudonymise_ids(pl.Series(ids), screen=True).to_list()
    assert [stored_id(value) for value in ids] == stored
    assert stored[3:] == [*ids[3:6], pseudonym("4111111111111111"), ids[7]]

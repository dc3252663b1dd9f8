"""PII redaction: emails, phone numbers, payment cards and IBANs become typed placeholders.

Customer text is redacted before it leaves an adapter, so it never reaches the store, a reject
or a log. Emails are one plain regex, applied by polars on whole columns. Numbers need checks a
regex cannot make (Luhn for cards, mod-97 for IBANs, digit counts and NANP rules for phones, not
being part of a longer digit run), so they are classified in Python, and only on the few rows
that a cheap polars pre-filter says could hold one. ``redact`` and ``redact_series`` give the
same result for every text.
"""

from __future__ import annotations

import logging
import re

import polars as pl

EMAIL, PHONE, CARD, IBAN = "[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]"

# ASCII-only classes so that Python's re and polars' Rust regex match exactly the same spans.
EMAIL_PATTERN = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
_EMAIL = re.compile(EMAIL_PATTERN)

# A run of digits joined by single separators (space, dot, dash) or parentheses, optionally led
# by "+". It may not start inside a word or number ("UA1234", "/status/5703..."): possessive, so
# a run is always taken whole and then judged in windows of its space-separated parts.
_RUN = r"(?<![\w+.\-/])(?:\+ ?)?\(?[0-9](?:[0-9]|[ .\-]\(?[0-9]|\)[ .\-]?[0-9]|\([0-9])*+"
# URLs are matched first and kept, so ids inside links are never mistaken for cards or phones.
_URL = r"(?:https?://|www\.)\S+"
_NUMBERS = re.compile(rf"(?P<url>{_URL})|(?P<run>{_RUN})")
_IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]){11,30}\b")
# Rows the Python pass must see: seven digits with at most three separator characters between
# neighbours (every phone, card or IBAN has more), or two letters then two digits (an IBAN).
_PREFILTER = r"[0-9](?:[ ().+\-]{0,3}[0-9]){6,}|[A-Za-z]{2}[0-9]{2}"

# Unbroken, or in groups of 3-8 digits (4-4-4-4, Amex 4-6-5, 19-digit 4-4-4-4-3).
_CARD_SHAPE = re.compile(r"[0-9]{13,19}|[0-9]{3,8}(?:[ \-][0-9]{3,8})+")
_NANP_SHAPE = re.compile(r"(?:1[ .\-]?)?(?:\([0-9]{3}\)|[0-9]{3})[ .\-]?[0-9]{3}[ .\-]?[0-9]{4}")
# Card networks issue from these first digits (Visa 4, Mastercard 2/5, Amex/Diners/JCB 3,
# Discover/UnionPay/Maestro 6, UATP 1); 0, 7, 8 and 9 are not payment-card ranges (ISO/IEC 7812).
_CARD_FIRST_DIGITS = "123456"

# IBAN length per country, from the SWIFT IBAN registry; a candidate must have exactly this many.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number passes (ISO/IEC 7812-1)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    """ISO 13616: registered length for the country, and mod-97 of the rearranged text is 1."""
    compact = compact.upper()
    if _IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


def redact(text: str) -> str:
    """Replace every email, phone number, card number and IBAN in ``text``."""
    return _redact_numbers(_EMAIL.sub(EMAIL, text))


def redact_series(texts: pl.Series) -> pl.Series:
    """``redact`` over a column; nulls stay null. Python runs only on pre-filtered rows."""
    frame = pl.DataFrame({"text": texts.cast(pl.String)}).with_columns(
        pl.col("text").str.replace_all(EMAIL_PATTERN, EMAIL))
    needs_python = frame["text"].str.contains(_PREFILTER).fill_null(False)
    if needs_python.any():
        rows = needs_python.arg_true()
        fixed = [_redact_numbers(text) for text in frame["text"].gather(rows).to_list()]
        frame = frame.with_columns(
            frame["text"].scatter(rows, pl.Series(fixed, dtype=pl.String)))
    return frame["text"].alias(texts.name)


class RedactingFilter(logging.Filter):
    """Redacts each record's message (and formatted exception) before it is written.

    Attach it to handlers: a filter on a logger does not see records that child loggers
    propagate to it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # bad %-arguments: keep the template, still redacted
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def _redact_numbers(text: str) -> str:
    return _NUMBERS.sub(_replace_run, _IBAN_CANDIDATE.sub(_replace_iban, text))


def _replace_iban(match: re.Match[str]) -> str:
    """Redact the registered-length prefix of a candidate when it passes mod-97."""
    found = match.group()
    length = _IBAN_LENGTHS.get(found[:2].upper())
    if length is None:
        return found
    kept = 0
    for end, char in enumerate(found, start=1):
        kept += char != " "
        if kept == length:
            # The IBAN must end where a group ends, not in the middle of a longer token.
            if end < len(found) and found[end] != " ":
                return found
            return IBAN + found[end:] if iban_valid(found[:end].replace(" ", "")) else found
    return found


def _replace_run(match: re.Match[str]) -> str:
    """Replace the longest phone or card in each window of a run's space-separated parts."""
    if match.group("url") is not None:
        return match.group()
    parts = match.group().split(" ")
    out: list[str] = []
    start = 0
    while start < len(parts):
        for stop in range(len(parts), start, -1):
            placeholder = _classify(" ".join(parts[start:stop]))
            if placeholder is not None:
                out.append(placeholder)
                start = stop
                break
        else:
            out.append(parts[start])
            start += 1
    return " ".join(out)


def _classify(chunk: str) -> str | None:
    digits = re.sub(r"[^0-9]", "", chunk)
    if _is_card(chunk, digits):
        return CARD
    if chunk.startswith("+") or chunk.startswith("00"):
        # E.164 allows at most 15 digits with the country code; below 9 it is more often a
        # bag tag or a count ("0016 964012") than a phone.
        national = digits[2:] if chunk.startswith("00") else digits
        return PHONE if 9 <= len(national) <= 15 and national[0] != "0" else None
    if _NANP_SHAPE.fullmatch(chunk):
        # NANP area codes start with 2-9. Ten unbroken digits must also have a 2-9 exchange
        # (as real ones do): such runs are often reference numbers ("AA Ref#1-2990176298").
        local = digits[-10:]
        unbroken = (chunk if len(digits) == 10 else chunk[1:].lstrip(" .-")).isdigit()
        if local[0] in "01" or (unbroken and local[3] in "01"):
            return None
        return PHONE
    return None


def _is_card(chunk: str, digits: str) -> bool:
    if not 13 <= len(digits) <= 19 or digits[0] not in _CARD_FIRST_DIGITS:
        return False
    if not _CARD_SHAPE.fullmatch(chunk):
        return False
    # An unbroken run longer than 16 digits is an id (tweet ids have 18-19), not a card:
    # 17-19 digit cards are printed in groups.
    if chunk.isdigit() and len(digits) > 16:
        return False
    return luhn_valid(digits)

"""PII redaction: emails, phone numbers, payment cards and IBANs become typed placeholders.

Customer text is redacted before it leaves an adapter, so it never reaches the store, a reject
or a log. Detection reads a folded copy of the text (full-width and other-script digits read as
ASCII digits, every Unicode space as a space, every dash as "-", other compatibility forms by
NFKC where that gives one ASCII character); the placeholders replace the same characters of the
original, and the rest of the text stays as it was written.

Emails are one regex. Numbers need checks a regex cannot make (Luhn for cards and mod-97 for
IBANs, see ``domain.payments``; libphonenumber for phones, see ``domain.phones``; and the words
before a number: ``booking ref 4155552671`` is a reference), so they are judged in Python,
and over a column only on the rows that a cheap polars pre-filter says could hold one.
``redact`` and ``redact_series`` give the same result for every text.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import unicodedata
from collections.abc import Iterator
from functools import cache

import polars as pl

from domain.payments import CARD_DIGITS, IBAN_LENGTHS, iban_valid, is_card
from domain.phones import DEFAULT_PHONE_REGIONS, MIN_DIGITS, is_phone

EMAIL, PHONE, CARD, IBAN = "[EMAIL]", "[PHONE]", "[CARD]", "[IBAN]"
PSEUDONYM_PREFIX = "pii:"

# ASCII-only classes so that Python's re and polars' Rust regex match exactly the same spans.
# The local part may hold an apostrophe (o'brien@...) but not start with one, so a quoted
# address keeps its opening quote. One repeated class, not nested groups: three times faster.
EMAIL_PATTERN = r"[A-Za-z0-9._%+\-][A-Za-z0-9._%+\-']*@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"
_EMAIL = re.compile(EMAIL_PATTERN)

# A run of digits joined by single separators (space, dot, dash, slash) or parentheses,
# optionally led by "+". It may not start inside a Latin word or number ("UA1234",
# "/status/5703...") but may follow Japanese or Chinese script, which has no spaces ("電話03-...").
# Possessive, so a run is always taken whole and then judged in windows of its parts.
_RUN = r"(?<![A-Za-z0-9_+.\-/])(?:\+ ?)?\(?[0-9](?:[0-9]|[ .\-/]\(?[0-9]|\)[ .\-]?[0-9]|\([0-9])*+"
# URLs are matched first and kept, so ids inside links are never mistaken for cards or phones.
_URL = r"(?:https?://|www\.)\S+"
_NUMBERS = re.compile(rf"(?P<url>{_URL})|(?P<run>{_RUN})")
_EXTENSION = re.compile(r" ?(?:ext\.?|extn\.?|extension|x) ?[0-9]{1,6}\b", re.IGNORECASE)
_IBAN_CANDIDATE = re.compile(r"\b[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]){11,30}\b")
# Rows the Python pass must see: seven digits with at most three separator characters between
# neighbours (every phone, card or IBAN has more), the start of an IBAN candidate (two letters,
# two digits and eleven more), or a character that folding changes (see _fold_table).
_PREFILTER_ASCII = (r"[0-9](?:[ ().+\-/]{0,3}[0-9]){6,}"
                    r"|[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]){11}")

# The words before a number. Right after a reference word (with up to four filler words
# between: "booking ref", "claim #", "order number is:") it is a reference, not a phone; right
# after a currency sign or code it is an amount. Right after a phone word ("call", "tel:",
# "reach me at") it is a phone however it is grouped, and a phone word nearer the number than
# a reference word wins ("booking line, phone 0800 ..."). Any other word breaks the phrase.
# Dates, years, versions and ids without such words are left to the shape and numbering-plan
# checks of domain.phones.
_REFERENCE_WORDS = frozenset({
    "claim", "booking", "reservation", "ref", "reference", "order", "confirmation", "conf",
    "ticket", "flight", "tracking", "case", "pnr", "invoice", "account", "acct", "locator",
    "incident", "transaction", "txn", "receipt", "policy", "serial", "sku", "item", "parcel",
    "shipment", "awb", "voucher", "coupon", "member", "membership", "loyalty", "id", "zip",
    "postcode", "tweet", "status", "version", "build", "model", "isbn", "bag", "tag", "rma",
    "imei", "request", "refund", "complaint", "file"})
_PHONE_WORDS = frozenset({
    "call", "calling", "called", "phone", "telephone", "tel", "mobile", "mob", "cell",
    "cellphone", "text", "txt", "sms", "whatsapp", "fax", "ring", "dial", "reach", "contact",
    "hotline", "helpline", "landline"})
# Device ids pass Luhn by design (IMEI, ICCID): after these words a number is neither.
_DEVICE_WORDS = frozenset({"imei", "meid", "iccid", "imsi"})
_FILLER_WORDS = frozenset({"no", "nr", "num", "number", "code", "is", "was", "of", "my", "the",
                           "me", "us", "at", "on", "via", "our", "your"})
_CURRENCIES = frozenset({"$", "€", "£", "¥", "₹", "usd", "eur", "gbp", "jpy", "aud", "cad", "inr",
                         "rs"})
# Words, and single characters that break a phrase; separators ("#", ":", "-") are skipped.
_CONTEXT_TOKEN = re.compile(r"[A-Za-z]+|[^\sA-Za-z.:#=\-]")
_CONTEXT_CHARS = 48  # how far back the context words are read
_NON_DIGITS = re.compile(r"[^0-9]")
_PART_SEPARATOR = re.compile(r"[ /]")  # where a run splits into the parts windows are made of

# Pseudonyms must be the same in every batch and on every machine so that ids stay joinable,
# hence a fixed key. It keeps them apart from plain sha256 digests of the same text but is no
# secret: a guessed value can be checked against a pseudonym, so pseudonymised ids are still
# personal data.
_PSEUDONYM_KEY = b"sentrec pseudonymous id v1"

Span = tuple[int, int, str]  # start, end, placeholder


def fold(text: str) -> str:
    """``text`` as detection reads it: the same length, character for character."""
    return text.translate(_fold_table())


def redact(text: str, *, regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> str:
    """Replace every email, phone number, card number and IBAN in ``text``.

    ``regions`` are the ISO country codes whose national phone formats count (the setting
    ``SENTREC_PHONE_REGIONS``); international numbers count whatever the regions.
    """
    out: list[str] = []
    done = 0
    for start, end, placeholder in _find_spans(fold(text), regions):
        out += [text[done:start], placeholder]
        done = end
    return "".join([*out, text[done:]])


def redact_series(texts: pl.Series, *,
                  regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> pl.Series:
    """``redact`` over a column; nulls stay null. Python runs only on pre-filtered rows."""
    text = texts.cast(pl.String)
    redacted = text.str.replace_all(EMAIL_PATTERN, EMAIL)
    needs_python = text.str.contains(_prefilter()).fill_null(False)
    if needs_python.any():
        rows = needs_python.arg_true()
        values = text.gather(rows).to_list()
        # Each distinct text once: retweets and templated messages repeat.
        fixed = {value: redact(value, regions=regions) for value in set(values)}
        redacted = redacted.scatter(rows, pl.Series([fixed[value] for value in values],
                                                    dtype=pl.String))
    return redacted.alias(texts.name)


def pseudonym(value: str) -> str:
    """``pii:`` and 16 hex digits of a keyed sha256: the same value always gives the same one."""
    digest = hmac.new(_PSEUDONYM_KEY, value.encode("utf-8"), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:16]


def stored_id(value: str, *, regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> str:
    """The id as the store holds it: what ``pseudonymise_ids(..., screen=True)`` makes of it
    at ingest (its ``pseudonym`` when it holds PII, else itself). Lookups by a caller's id go
    through this, on the API's hot path: the same screen keeps the full check, at Python
    speed, off ordinary ids."""
    if not re.search(_ID_SCREEN, value) or re.fullmatch(_UUID, value):
        return value
    return pseudonym(value) if redact(value, regions=regions) != value else value


# Which ids of a high-volume column are worth the full check. Every email holds "@"; every
# card, and every phone number written without a "+" or a phone word, has ten digits or more
# in the default regions' national forms (07700 900123, 0412 345 678, (415) 555-0123); an IBAN
# starts with a country code and two check digits. Numeric keys of up to nine digits (shop
# customer numbers, MovieLens and Taobao users, times in MovieLens event ids) and UUIDs are
# skipped: the full check runs at Python speed, about a millisecond per distinct digit run.
_ID_SCREEN = (r"@|\+\s*[0-9]|[0-9](?:[ ().\-/]{0,3}[0-9]){9,}"
              r"|[A-Za-z]{2}[0-9]{2}(?:[ \-]?[A-Za-z0-9]){11}")
_UUID = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"


def pseudonymise_ids(ids: pl.Series, *, regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS,
                     screen: bool = False) -> pl.Series:
    """Ids that hold an email, phone, card or IBAN become their ``pseudonym``; others stay.

    A placeholder would merge distinct ids, and a conversation id shared by several rows must
    keep joining them, hence a keyed hash and not ``[PHONE]``. With ``screen``, only ids that
    could hold one in an id's usual form get the full check (``_ID_SCREEN``): for event
    columns of millions of rows.
    """
    text = ids.cast(pl.String)
    if screen:
        candidates = (text.str.contains(_ID_SCREEN) & ~text.str.contains(_UUID)).fill_null(False)
        if not candidates.any():
            return text
        rows = candidates.arg_true()
        checked = pseudonymise_ids(text.gather(rows), regions=regions)
        return text.clone().scatter(rows, checked)
    holds_pii = (redact_series(text, regions=regions) != text).fill_null(False)
    if not holds_pii.any():
        return text
    rows = holds_pii.arg_true()
    hashed = [pseudonym(value) for value in text.gather(rows).to_list()]
    return text.clone().scatter(rows, pl.Series(hashed, dtype=pl.String))


class RedactingFilter(logging.Filter):
    """Redacts each record's message (and formatted exception) before it is written.

    Attach it to handlers: a filter on a logger does not see records that child loggers
    propagate to it.
    """

    def __init__(self, regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> None:
        super().__init__()
        self.regions = regions

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # bad %-arguments: keep the template, still redacted
            message = str(record.msg)
        record.msg, record.args = redact(message, regions=self.regions), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info),
                                     regions=self.regions)
        return True


@cache
def _fold_table() -> dict[int, str]:
    """Non-ASCII characters that fold to one ASCII character, for ``str.translate``.

    Planes 0 and 1 hold every decimal digit, space and dash outside the ideograph planes.
    """
    table: dict[int, str] = {}
    for code in range(0x80, 0x20000):
        char = chr(code)
        category = unicodedata.category(char)
        if category == "Nd":
            table[code] = str(unicodedata.decimal(char))
        elif category == "Zs":
            table[code] = " "
        elif category == "Pd":
            table[code] = "-"
        elif category not in ("Cn", "Co", "Cs", "Lo"):
            folded = unicodedata.normalize("NFKC", char)
            if len(folded) == 1 and folded.isascii():
                table[code] = folded
    return table


@cache
def _prefilter() -> str:
    """``_PREFILTER_ASCII``, or any character the fold table changes (as ranges)."""
    codes = sorted(_fold_table())
    ranges: list[str] = []
    first = last = codes[0]
    for code in [*codes[1:], -1]:
        if code == last + 1:
            last = code
            continue
        ranges.append(rf"\x{{{first:X}}}" + (rf"-\x{{{last:X}}}" if last > first else ""))
        first = last = code
    return rf"{_PREFILTER_ASCII}|[{''.join(ranges)}]"


def _find_spans(folded: str, regions: tuple[str, ...]) -> list[Span]:
    """Emails, then IBANs, then cards and phones; each later kind sees the earlier masked."""
    emails = [(match.start(), match.end(), EMAIL) for match in _EMAIL.finditer(folded)
              ] if "@" in folded else []
    masked = _mask(folded, emails)
    ibans = list(_iban_spans(masked))
    numbers = list(_number_spans(_mask(masked, ibans), regions))
    return sorted([*emails, *ibans, *numbers])


def _mask(text: str, spans: list[Span]) -> str:
    """Blank found spans with NUL, which no later pattern reads as part of a word or number."""
    for start, end, _ in spans:
        text = text[:start] + "\0" * (end - start) + text[end:]
    return text


def _iban_spans(text: str) -> Iterator[Span]:
    """The registered-length prefix of each candidate that passes mod-97."""
    for match in _IBAN_CANDIDATE.finditer(text):
        found = match.group()
        length = IBAN_LENGTHS.get(found[:2].upper())
        kept = 0
        for end, char in enumerate(found, start=1):
            kept += char.isalnum()
            if kept != length:
                continue
            # The IBAN must end where a group ends, not in the middle of a longer token.
            compact = found[:end].replace(" ", "").replace("-", "")
            if (end == len(found) or found[end] in " -") and iban_valid(compact):
                yield match.start(), match.start() + end, IBAN
            break


def _number_spans(text: str, regions: tuple[str, ...]) -> Iterator[Span]:
    """The longest card or phone in each window of each run's parts (split at spaces and
    slashes: "212-555-0134/0135" and "4111/1111/1111/1111" are judged window by window)."""
    for match in _NUMBERS.finditer(text):
        run = match.group("run")
        if run is None or len(run) < MIN_DIGITS:  # a URL, or too short to hold one
            continue
        start = match.start()
        parts = _PART_SEPARATOR.split(run)
        bounds, digits = [0], [0]  # per part: start offset in the run, digits before it
        for part in parts:
            bounds.append(bounds[-1] + len(part) + 1)
            digits.append(digits[-1] + (len(part) if part.isdigit()
                                        else len(_NON_DIGITS.sub("", part))))
        context = _context(text, start) if digits[-1] >= MIN_DIGITS else None
        first = 0
        while first < len(parts):
            found = _longest_window(run, bounds, digits, first, regions, context)
            if found is None:
                first += 1
                continue
            stop, placeholder = found
            end = start + bounds[stop] - 1
            extension = _EXTENSION.match(text, end) if placeholder == PHONE else None
            if extension is not None and stop == len(parts):
                end = extension.end()
            begin = start + bounds[first]
            if placeholder == CARD and text[begin] == "(":
                begin += 1  # "(5555-5555-5555-4444)": the brackets stay
            yield begin, end, placeholder
            first = stop


def _context(text: str, start: int) -> str | None:
    """"reference", "device", "phone" or None: what the words just before ``start`` say."""
    tokens = _CONTEXT_TOKEN.findall(text, max(0, start - _CONTEXT_CHARS), start)
    words = [token.lower() for token in tokens[-5:]]
    if words and words[-1] in _CURRENCIES:
        return "reference"
    for word in reversed(words):
        if word in _PHONE_WORDS:
            return "phone"
        if word in _DEVICE_WORDS:
            return "device"
        if word in _REFERENCE_WORDS:
            return "reference"
        if word not in _FILLER_WORDS:
            return None
    return None


def _longest_window(run: str, bounds: list[int], digits: list[int], first: int,
                    regions: tuple[str, ...], context: str | None) -> tuple[int, str] | None:
    """The end part and placeholder of the longest card or phone starting at part ``first``.

    After a reference word only cards count: they pass a checksum, phones do not.
    """
    if context == "device":
        return None
    for stop in range(len(bounds) - 1, first, -1):
        count = digits[stop] - digits[first]
        if count < MIN_DIGITS:
            return None  # shorter windows have no more digits
        if count > CARD_DIGITS[1]:
            continue
        chunk = run[bounds[first]:bounds[stop] - 1]
        if count >= CARD_DIGITS[0] and is_card(chunk):
            return stop, CARD
        if context != "reference" and is_phone(chunk, regions, cued=context == "phone"):
            return stop, PHONE
    return None

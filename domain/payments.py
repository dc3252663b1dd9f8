"""Payment card numbers and IBANs: the checks that tell them from other digit runs.

A card number passes Luhn and starts in a card network's range; an IBAN has its country's
registered length and passes mod-97. ``domain.redaction`` finds the candidates in text.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Unbroken, or in groups of 3-8 digits (4-4-4-4, Amex 4-6-5, 19-digit 4-4-4-4-3, Diners 4-6-4)
# with one kind of separator throughout (space, dash, dot or slash), the last group possibly
# of two (Diners 14 digits as 4-4-4-2).
_CARD_SHAPE = re.compile(
    r"[0-9]{13,19}|[0-9]{3,8}([ .\-/])[0-9]{3,8}(?:\1[0-9]{3,8})*(?:\1[0-9]{2})?")
# Card networks issue from these first digits (Visa 4, Mastercard 2/5, Amex/Diners/JCB 3,
# Discover/UnionPay/Maestro 6, UATP 1); 0, 7, 8 and 9 are not payment-card ranges (ISO/IEC 7812).
_CARD_FIRST_DIGITS = "123456"
CARD_DIGITS = (13, 19)  # shortest and longest card numbers (ISO/IEC 7812-1)

# IBAN length per country, from the SWIFT IBAN registry; a candidate must have exactly this many.
IBAN_LENGTHS = {
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
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(char, 36)) for char in rearranged)) % 97 == 1


@lru_cache(maxsize=65_536)
def is_card(chunk: str) -> bool:
    """Whether ``chunk`` (digits and separators, perhaps after a "(") is one card number."""
    chunk = chunk.removeprefix("(")
    digits = re.sub(r"[^0-9]", "", chunk)
    if not CARD_DIGITS[0] <= len(digits) <= CARD_DIGITS[1]:
        return False
    if digits[0] not in _CARD_FIRST_DIGITS or not _CARD_SHAPE.fullmatch(chunk):
        return False
    # An unbroken run longer than 16 digits is an id (tweet ids have 18-19), not a card:
    # 17-19 digit cards are printed in groups.
    if chunk.isdigit() and len(digits) > 16:
        return False
    return luhn_valid(digits)

"""Is this digit run a phone number? Google's libphonenumber (the ``phonenumbers`` port) decides.

A run in international form (``+44 ...``, ``0044 ...``) is judged under the country it names;
any other run under each configured region in turn, in that region's national form (with the
trunk prefix ``0`` where the region writes one, so ``20150224`` is not a German number). A
number is a phone when libphonenumber finds it valid (an assigned range), or when it fits the
region's numbering plan and is grouped exactly as the region prints its numbers: that keeps
numbers from ranges set aside for fiction (Ofcom's ``07700 900xxx``, NANP's ``555``) and ranges
assigned after the library's metadata, without taking ungrouped ids of a plausible length.

Context is judged by the caller (``domain.redaction``): a run right after a reference word
(``booking ref``, ``claim #``) or a currency sign is not a phone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

import phonenumbers
from phonenumbers import CountryCodeSource, NumberParseException, PhoneNumberFormat
from phonenumbers.phonemetadata import NumberFormat, PhoneMetadata

from domain.errors import InvalidInputError

# North America (the airline and support tweets), and the national formats customers of the
# other markets sentrec's sources cover write: the United Kingdom, Germany, France, Japan and
# Australia. India is left out of the default because its plan makes most ten-digit runs
# valid (order and ticket numbers became phones); add IN where its customers write.
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "JP", "AU")

# E.164 numbers have at most 15 digits after the "+"; with a "00" or "1" prefix written, 17.
# Below 7 digits a run is a count, a code or a year far more often than a phone; so is an
# unbroken national run below 9 (tweet and ticket ids, "20150224"): every national number of
# the default regions has 9 or more digits as written, short service numbers aside (AU 180 xxxx).
MIN_DIGITS, MAX_DIGITS, MIN_UNBROKEN_NATIONAL = 7, 17, 9

# Shapes no phone takes whatever its digits: dates (ISO and day/month/year), IPv4 addresses,
# decimal amounts (12345.67) and pairs of years (1999-2015, 1998/1999).
_NOT_A_PHONE = re.compile(
    r"[0-9]{4}([./\-])[0-9]{1,2}\1[0-9]{1,2}"
    r"|[0-9]{1,2}([./\-])[0-9]{1,2}\2(?:[0-9]{2}|[0-9]{4})"
    r"|[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
    r"|[0-9]+\.[0-9]{2}"
    r"|(?:1[89]|20)[0-9]{2}[ /\-](?:1[89]|20)[0-9]{2}"
)
# A slash-separated date anywhere in a candidate rules it out (libphonenumber's matcher does the
# same: PhoneNumberMatcher's _SLASH_SEPARATED_DATES).
_SLASH_DATE = re.compile(
    r"(?:[0-3]?[0-9]/[01]?[0-9]|[01]?[0-9]/[0-3]?[0-9])/(?:[12][0-9])?[0-9]{2}")
_DIGIT_GROUPS = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class _Plan:
    """What libphonenumber's metadata says about one region's national numbers."""

    country_code: int
    trunk_prefix: str  # "0" in most of the world, "1" in North America, "" where none
    lengths: frozenset[int]  # possible lengths of the national significant number
    pattern: re.Pattern[str]  # every number the plan allows, assigned or not
    international_prefix: re.Pattern[str] | None  # what is dialled before a country code


def check_phone_regions(regions: Iterable[str]) -> tuple[str, ...]:
    """Upper-cased ISO 3166 codes that libphonenumber knows, in order, without repeats.

    Raises InvalidInputError naming the unknown code, since the list comes from a setting.
    """
    checked: list[str] = []
    for region in regions:
        code = region.strip().upper()
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise InvalidInputError(f"phone region {region!r}: not an ISO 3166 country code "
                                    "libphonenumber knows; use codes such as US, GB, DE")
        if code not in checked:
            checked.append(code)
    return tuple(checked)


@lru_cache(maxsize=65_536)
def is_phone(chunk: str, regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS, *,
             cued: bool = False) -> bool:
    """Whether ``chunk`` (digits, separators, "+" and brackets only) is one phone number.

    ``cued``: the text just said a phone follows ("call", "tel:"), so a valid national number
    counts however it is grouped.
    """
    digits = "".join(_DIGIT_GROUPS.findall(chunk))
    if (not MIN_DIGITS <= len(digits) <= MAX_DIGITS or _NOT_A_PHONE.fullmatch(chunk)
            or _SLASH_DATE.search(chunk)):
        return False
    if (chunk.startswith("+") or digits.startswith("00")) and _is_international(chunk, digits):
        return True
    if chunk.isdigit() and len(digits) < MIN_UNBROKEN_NATIONAL:
        return False
    return any(_is_national(chunk, digits, region, cued=cued)
               or _is_dialled_abroad(chunk, digits, region) for region in regions)


def _is_international(chunk: str, digits: str) -> bool:
    written = chunk if chunk.startswith("+") else "+" + digits[2:]
    try:
        number = phonenumbers.parse(written, None)
    except NumberParseException:
        return False
    if phonenumbers.is_valid_number(number):
        return True
    region = phonenumbers.region_code_for_country_code(number.country_code or 0)
    plan = _plan(region) if region in phonenumbers.SUPPORTED_REGIONS else None
    national = phonenumbers.national_significant_number(number)
    if plan is None or not _fits(plan, national):
        return False
    printed = _DIGIT_GROUPS.findall(phonenumbers.format_number(number,
                                                               PhoneNumberFormat.INTERNATIONAL))
    groups = _DIGIT_GROUPS.findall(chunk.removeprefix("00"))
    # "+44 (0)20 ..." writes the trunk prefix after the country code; the printed form does not.
    if len(groups) > 1 and groups[1] == plan.trunk_prefix:
        del groups[1]
    return len(groups) > 1 and groups == printed


def _is_dialled_abroad(chunk: str, digits: str, region: str) -> bool:
    """A valid number behind the region's own international prefix (US 011, AU 0011, JP 010)."""
    plan = _plan(region)
    if plan.international_prefix is None or not plan.international_prefix.match(digits):
        return False
    try:
        number = phonenumbers.parse(chunk, region, keep_raw_input=True)
    except NumberParseException:
        return False
    return (number.country_code_source == CountryCodeSource.FROM_NUMBER_WITH_IDD
            and phonenumbers.is_valid_number(number))


def _is_national(chunk: str, digits: str, region: str, *, cued: bool) -> bool:
    """A number of ``region`` written in its national form.

    The trunk prefix must be written where the region's format prints it, unless the format
    marks it optional (Indian mobiles) or does not print it ("1-800-..." beside "(800) ...").
    A valid number counts in any grouping when the trunk prefix is written ("0207 946 0958",
    "030 23125 123") or the text cued a phone; otherwise its groups must not split the printed
    ones, since "4016 529557" and "61.0.3163.100" are references and versions far more often
    than phones.
    """
    plan = _plan(region)
    prefix = plan.trunk_prefix
    written_prefix = bool(prefix) and digits.startswith(prefix)
    national = digits[len(prefix):] if written_prefix else digits
    if not _fits(plan, national):
        return False  # most runs stop here, before the (slower) parse
    try:
        number = phonenumbers.parse(chunk, region)
    except NumberParseException:
        return False
    if (number.country_code != plan.country_code
            or phonenumbers.national_significant_number(number) != national):
        return False
    rule = _format_rule(region, national)
    if not written_prefix and prefix and _prefix_required(rule, prefix):
        return False
    printed = _DIGIT_GROUPS.findall(phonenumbers.format_number(number,
                                                               PhoneNumberFormat.NATIONAL))
    groups = _DIGIT_GROUPS.findall(chunk)
    if written_prefix and not printed[0].startswith(prefix):
        printed = [prefix, *printed]  # "1 (800) ..." against "(800) ..."
    if phonenumbers.is_valid_number(number):
        return (len(groups) == 1 or cued or (written_prefix and rule is not None)
                or _cuts(groups) <= _cuts(printed))
    # A number the plan allows but no operator was assigned (fiction ranges, new codes) must
    # be grouped exactly as printed: an unbroken run of a plausible length is not enough.
    return len(groups) > 1 and groups == printed


def _cuts(groups: list[str]) -> set[int]:
    """Where the groups of digits break, as digit offsets."""
    cuts, offset = set(), 0
    for group in groups:
        offset += len(group)
        cuts.add(offset)
    return cuts


def _format_rule(region: str, national: str) -> NumberFormat | None:
    """The region's rule for printing ``national``, as libphonenumber chooses it."""
    metadata = PhoneMetadata.metadata_for_region(region)
    for rule in metadata.number_format if metadata is not None else ():
        leading = rule.leading_digits_pattern
        if (not leading or re.match(leading[-1], national)) and \
                re.fullmatch(rule.pattern or r"(?!)", national):
            return rule
    return None


def _prefix_required(rule: NumberFormat | None, prefix: str) -> bool:
    """Whether the region writes ``prefix`` before this number: always, when it has no rule
    to print the number nationally (German pager numbers are only dialled with their 0)."""
    if rule is None:
        return True
    if rule.national_prefix_optional_when_formatting:
        return False
    return prefix in (rule.national_prefix_formatting_rule or "")


def _fits(plan: _Plan, national: str) -> bool:
    return len(national) in plan.lengths and plan.pattern.fullmatch(national) is not None


@cache
def _plan(region: str) -> _Plan:
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.general_desc is None:
        raise InvalidInputError(f"phone region {region!r}: libphonenumber has no metadata")
    general = metadata.general_desc
    return _Plan(country_code=int(metadata.country_code or 0),
                 trunk_prefix=metadata.national_prefix or "",
                 lengths=frozenset(general.possible_length or ()),
                 pattern=re.compile(general.national_number_pattern or r"(?!)"),
                 international_prefix=re.compile(metadata.international_prefix)
                 if metadata.international_prefix else None)

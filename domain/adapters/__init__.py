"""Source adapters: one raw format in, canonical records and rejects out, behind one registry.

``parse_file(stream, path, ...)`` is the only entry point the rest of sentrec uses; ``FORMATS``
lists the formats each stream accepts (what the CLI offers as ``--format``).
"""

from __future__ import annotations

from pathlib import Path

from domain.adapters.events import EVENT_FORMATS, parse_events
from domain.adapters.items import ITEM_FORMATS, parse_items
from domain.adapters.messages import FORMATS as MESSAGE_FORMATS
from domain.adapters.messages import parse_messages
from domain.adapters.news import FORMATS as NEWS_FORMATS
from domain.adapters.news import parse_news
from domain.adapters.store_rules import StoreRules, enforce
from domain.entities import load_aliases
from domain.errors import InvalidInputError
from domain.phones import DEFAULT_PHONE_REGIONS
from domain.records import MAX_LENGTHS, Parsed, Stream

__all__ = ["FORMATS", "StoreRules", "parse_file"]

FORMATS: dict[Stream, tuple[str, ...]] = {
    Stream.MESSAGES: MESSAGE_FORMATS,
    Stream.NEWS: NEWS_FORMATS,
    Stream.EVENTS: EVENT_FORMATS,
    Stream.ITEMS: ITEM_FORMATS,
}


def parse_file(stream: Stream, path: Path, *, fmt: str | None = None, source: str | None = None,
               encoding: str | None = None, aliases: Path | None = None,
               rules: StoreRules | None = None,
               phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> Parsed:
    """Run the adapter of ``stream`` on ``path``, then the rules of what the store holds
    (``rules``: the sane time range); ``aliases`` (a CSV) tags news entities and
    ``phone_regions`` are the national phone formats that redaction recognises."""
    limit = MAX_LENGTHS[stream]["source"]
    if source is not None and not 0 < len(source) <= limit:
        raise InvalidInputError(f"--source: a source name of {len(source)} characters; at most "
                                f"{limit} are kept")
    return enforce(_adapt(stream, path, fmt=fmt, source=source, encoding=encoding,
                          aliases=aliases, phone_regions=phone_regions), rules or StoreRules())


def _adapt(stream: Stream, path: Path, *, fmt: str | None, source: str | None,
           encoding: str | None, aliases: Path | None,
           phone_regions: tuple[str, ...]) -> Parsed:
    if stream is Stream.MESSAGES:
        return parse_messages(path, fmt=fmt, source=source, encoding=encoding,
                              phone_regions=phone_regions)
    if stream is Stream.NEWS:
        return parse_news(path, fmt=fmt, source=source, encoding=encoding,
                          aliases=load_aliases(aliases))
    if stream is Stream.EVENTS:
        return parse_events(path, fmt=fmt, source=source, encoding=encoding,
                            phone_regions=phone_regions)
    return parse_items(path, fmt=fmt, source=source, encoding=encoding)

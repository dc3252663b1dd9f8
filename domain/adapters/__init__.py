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
from domain.entities import load_aliases
from domain.phones import DEFAULT_PHONE_REGIONS
from domain.records import Parsed, Stream

FORMATS: dict[Stream, tuple[str, ...]] = {
    Stream.MESSAGES: MESSAGE_FORMATS,
    Stream.NEWS: NEWS_FORMATS,
    Stream.EVENTS: EVENT_FORMATS,
    Stream.ITEMS: ITEM_FORMATS,
}


def parse_file(stream: Stream, path: Path, *, fmt: str | None = None, source: str | None = None,
               encoding: str | None = None, aliases: Path | None = None,
               phone_regions: tuple[str, ...] = DEFAULT_PHONE_REGIONS) -> Parsed:
    """Run the adapter of ``stream`` on ``path``; ``aliases`` (a CSV) tags news entities and
    ``phone_regions`` are the national phone formats that message redaction recognises."""
    if stream is Stream.MESSAGES:
        return parse_messages(path, fmt=fmt, source=source, encoding=encoding or "utf-8",
                              phone_regions=phone_regions)
    if stream is Stream.NEWS:
        return parse_news(path, fmt=fmt, source=source, encoding=encoding,
                          aliases=load_aliases(aliases))
    if stream is Stream.EVENTS:
        return parse_events(path, fmt=fmt, source=source, encoding=encoding or "utf-8")
    return parse_items(path, fmt=fmt, source=source, encoding=encoding)

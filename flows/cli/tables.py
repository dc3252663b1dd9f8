"""Rich tables the CLI and the demo both print."""

from __future__ import annotations

from rich.table import Table
from sqlalchemy import Engine

from storage.events import item_titles
from storage.recsets import Lookup, lookup, sql_fetch
from storage.registry import RECOMMENDER, active_version


def recommendations_table(engine: Engine, user_id: str, k: int) -> tuple[Lookup, Table]:
    """One user's list from the active set with item titles; an unknown user's table says it
    shows recent popularity. ``Lookup.set_id`` is None when nothing is published yet."""
    with engine.connect() as connection:
        found = lookup(sql_fetch(connection), user_id=user_id, k=k)
    version = active_version(engine=engine, name=RECOMMENDER)
    source = None if version is None else version.params.get("source")
    titles = item_titles(engine=engine, source=source) or item_titles(engine=engine)
    title = f"top {k} for user {user_id}"
    if found.cold_start:
        title += " (unknown user: recent popularity)"
    table = Table(title=title, min_width=len(title) + 4)  # the title on one line
    titled = any(item.item_id in titles for item in found.items)  # not every source has text
    for column in ("rank", "item", "title", "score") if titled else ("rank", "item", "score"):
        table.add_column(column)
    for item in found.items:
        cells = [str(item.rank), item.item_id, titles.get(item.item_id, ""), f"{item.score:.3f}"]
        table.add_row(*(cells if titled else cells[:2] + cells[3:]))
    return found, table

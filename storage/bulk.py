"""Fast idempotent bulk writes: ``INSERT .. ON CONFLICT DO NOTHING`` that counts what landed.

SQLite takes a raw ``executemany`` (about 5x SQLAlchemy's ``insert()`` on 1M rows); PostgreSQL
takes ``COPY`` into a temporary table and one ``INSERT .. SELECT`` (see STACK.md, SQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl
from sqlalchemy import Connection, Table, text

# SQLAlchemy's own SQLite text format for DateTime, so ORM reads parse what we write.
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%6f"


def insert_ignore(connection: Connection, table: Table, frame: pl.DataFrame,
                  conflict: tuple[str, ...], *, chunk_rows: int = 200_000) -> int:
    """Insert rows whose ``conflict`` key is new; return how many were inserted."""
    if frame.is_empty():
        return 0
    frame = _to_sql_values(frame, sqlite=connection.dialect.name == "sqlite")
    if connection.dialect.name == "postgresql":
        return _copy_insert(connection, table, frame, conflict, chunk_rows)
    return _executemany_insert(connection, table, frame, conflict, chunk_rows)


def _to_sql_values(frame: pl.DataFrame, *, sqlite: bool) -> pl.DataFrame:
    """Lists become ``|``-joined text; SQLite times become SQLAlchemy's text format."""
    exprs = []
    for name, dtype in frame.schema.items():
        if isinstance(dtype, pl.List):
            exprs.append(pl.col(name).list.join("|"))
        elif isinstance(dtype, pl.Datetime) and sqlite:
            exprs.append(pl.col(name).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
                         .dt.strftime(_SQLITE_TIME))
    return frame.with_columns(exprs) if exprs else frame


def _chunks(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    for start in range(0, frame.height, size):
        yield frame.slice(start, size)


def _executemany_insert(connection: Connection, table: Table, frame: pl.DataFrame,
                        conflict: tuple[str, ...], chunk_rows: int) -> int:
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    marks = ", ".join("?" for _ in frame.columns)
    keys = ", ".join(f'"{c}"' for c in conflict)
    sql = (f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks}) '
           f"ON CONFLICT ({keys}) DO NOTHING")
    cursor: Any = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    before = _total_changes(cursor)
    for chunk in _chunks(frame, chunk_rows):
        cursor.executemany(sql, chunk.iter_rows())
    inserted = _total_changes(cursor) - before
    cursor.close()
    return inserted


def _total_changes(cursor: Any) -> int:
    return int(cursor.execute("SELECT total_changes()").fetchone()[0])


def _copy_insert(connection: Connection, table: Table, frame: pl.DataFrame,
                 conflict: tuple[str, ...], chunk_rows: int) -> int:
    staging = f"_staging_{table.name}"
    columns = ", ".join(f'"{c}"' for c in frame.columns)
    keys = ", ".join(f'"{c}"' for c in conflict)
    connection.execute(text(
        f'CREATE TEMPORARY TABLE "{staging}" ON COMMIT DROP AS '
        f'SELECT {columns} FROM "{table.name}" WITH NO DATA'))
    cursor: Any = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{staging}" ({columns}) FROM STDIN') as copy:
        for chunk in _chunks(frame, chunk_rows):
            for row in chunk.iter_rows():
                copy.write_row(row)
    # ORDER BY keeps the first occurrence in file order when the staging table repeats a key.
    result = connection.execute(text(
        f'INSERT INTO "{table.name}" ({columns}) SELECT {columns} FROM "{staging}" '
        f"ORDER BY ctid ON CONFLICT ({keys}) DO NOTHING"))
    connection.execute(text(f'DROP TABLE "{staging}"'))
    return int(result.rowcount)

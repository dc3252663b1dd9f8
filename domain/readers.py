"""Reading raw text tables with exact line numbers, strict decoding and truncation checks.

Every data row keeps the line on which it starts, so a reject can point a person at the line
to fix. Well-formed files take the polars fast path; files with quoted newlines or ragged rows
fall back to the ``csv`` module, which is slower but tells exactly where each record lies.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import stat
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from domain.errors import MalformedFileError

LINE = "_line"
# Why a row had the wrong number of fields; null on well-formed rows.
RAGGED = "_ragged"
# Stand-in for a bare carriage return while the csv module parses (a private-use character).
_CR = "\ue000"


def require_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before reading a byte: a FIFO blocks forever, a
    device such as /dev/zero never ends, a directory has no bytes."""
    if not path.exists():
        raise MalformedFileError(path, "no such file", hint="Check the path.")
    if not stat.S_ISREG(path.stat().st_mode):
        raise MalformedFileError(path, "is not a regular file (a directory, pipe or device)",
                                 hint="Name a file to read.")


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (batches and model artifacts are keyed by it)."""
    require_regular_file(path)
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when the name ends in ``.gz``; a broken archive is an error."""
    require_regular_file(path)
    raw = path.read_bytes()
    if path.suffix == ".gz":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as exc:
            raise MalformedFileError(path, f"the gzip archive is damaged or truncated ({exc})",
                                     hint="Copy the file again from its source.") from exc
    return raw


# Single-byte encodings that decode any bytes at all: reading UTF-8 text in one of them never
# fails, it garbles ("Lumière" becomes "LumiÃ¨re"), so it is refused instead.
_SINGLE_BYTE = {"latin-1", "latin1", "iso-8859-1", "iso8859-1", "l1", "cp1252",
                "windows-1252", "iso-8859-15", "latin-9", "cp850"}


def pick_encoding(path: Path, data: bytes, encoding: str | None, *,
                  fallback: str | None = None) -> str:
    """The encoding to read ``data`` in.

    Named: that one, unless it is a single-byte encoding and the bytes are UTF-8 with accented
    letters (they would only read as mojibake). Not named: UTF-8 when the bytes are valid
    UTF-8, else the format's legacy ``fallback`` (MovieLens and PhraseBank ship as Latin-1),
    else UTF-8, whose strict decoding then reports the first bad byte and its line.
    """
    utf8 = _is_utf8(data)
    if encoding is not None:
        if encoding.lower().replace("_", "-") in _SINGLE_BYTE and utf8 and not data.isascii():
            raise MalformedFileError(
                path, f"the file is UTF-8 text: read as {encoding} its accented letters would "
                "be garbled (é as Ã©)", hint="Leave out --encoding, or name utf-8.")
        return encoding
    if utf8 or fallback is None:
        return "utf-8"
    return fallback


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def decode(path: Path, data: bytes, encoding: str) -> str:
    """Decode strictly; a bad byte is reported with its line number."""
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise MalformedFileError(
            path, f"bytes are not valid {encoding} ({exc.reason} at byte {exc.start})",
            line=line,
            hint=f"Convert the file to {encoding}, or name its encoding with --encoding.",
        ) from exc
    return text.removeprefix("\ufeff")


@dataclass
class TextTable:
    """A delimited file read as strings: one column per header field plus ``_line``."""

    path: Path
    header: list[str]
    frame: pl.DataFrame
    lines: list[str]
    header_lines: int
    encoding: str | None = None  # what the text was decoded with; None for Parquet

    def raw(self, line: int, end_line: int | None = None) -> str:
        """The raw text of lines ``line``..``end_line`` (1-based, inclusive).

        A table without text lines (Parquet) gives the row's fields as JSON instead.
        """
        if not self.lines:
            row = self.frame.filter(pl.col(LINE) == line).drop(LINE, RAGGED).row(0, named=True)
            return json.dumps(row, default=str, ensure_ascii=False)
        end = line if end_line is None else end_line
        return "\n".join(self.lines[line - 1 : end])

    def require(self, columns: list[str]) -> None:
        """Fail naming the first missing column."""
        for name in columns:
            if name not in self.header:
                raise MalformedFileError(
                    self.path, f"missing column {name!r} (found {', '.join(self.header)})",
                    line=1, field=name, hint="Check that the file is in the format you named.",
                )


def read_table(path: Path, *, encoding: str | None = None, separator: str = ",",
               header: list[str] | None = None, text: str | None = None) -> TextTable:
    """Read a delimited file as strings, with the line each record starts on.

    ``header`` names the columns of a file that has no header row. ``text`` lets a caller that
    already decoded the file (to sniff it, say) skip a second read; ``encoding`` is then the
    one it used. Without ``text``, ``encoding`` None means UTF-8 (``pick_encoding``).
    """
    if text is None:
        raw = read_bytes(path)
        encoding = pick_encoding(path, raw, encoding)
        text = decode(path, raw, encoding)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [line.removesuffix("\r") for line in lines]
    header_lines = 0 if header is not None else 1
    if header is None:
        if not lines:
            raise MalformedFileError(path, "the file is empty", line=1,
                                     hint="Expected a header row and data rows.")
        header = next(csv.reader([lines[0]], delimiter=separator))
    # Unnamed columns (a pandas index written to CSV, say) get a name so they can be addressed.
    header = [name.strip() or f"_column_{index}" for index, name in enumerate(header)]
    frame = None
    if _one_line_records_of_width(lines[header_lines:], len(header), separator):
        frame = _read_fast(text, header, separator, header_lines, len(lines))
    if frame is None:
        frame = _read_exact(path, text, header, separator, header_lines)
    return TextTable(path=path, header=header, frame=frame, lines=lines,
                     header_lines=header_lines, encoding=encoding)


def _one_line_records_of_width(lines: list[str], width: int, separator: str) -> bool:
    """True when every line holds exactly ``width`` fields: polars may then parse the file.

    Polars pads a short row with nulls, so ragged rows must be caught before it runs. Lines
    whose separator count is off are re-read with the csv module, since quotes may hold
    separators; any line that still has the wrong width sends the file down the exact path.
    """
    counts = pl.Series(lines, dtype=pl.String).str.count_matches(separator, literal=True)
    suspects = (counts != width - 1).arg_true().to_list()
    for index in suspects:
        line = lines[index]
        if '"' not in line or len(next(csv.reader([line], delimiter=separator))) != width:
            return False
    return True


def _read_fast(text: str, header: list[str], separator: str, header_lines: int,
               n_lines: int) -> pl.DataFrame | None:
    """Polars parse; None unless every record sits on exactly one line and no row is ragged."""
    if len(header) != len(set(header)):
        return None
    try:
        frame = pl.read_csv(
            io.BytesIO(text.encode("utf-8")), has_header=False, new_columns=header,
            skip_rows=header_lines, separator=separator, infer_schema=False,
            quote_char='"', raise_if_empty=False,
        )
    except Exception:  # any parse trouble sends the file down the exact path
        return None
    if frame.width != len(header) or frame.height + header_lines != n_lines:
        return None
    lines = np.arange(header_lines + 1, header_lines + 1 + frame.height, dtype=np.int64)
    return frame.with_columns(pl.Series(LINE, lines), pl.lit(None, pl.String).alias(RAGGED))


def _read_exact(path: Path, text: str, header: list[str], separator: str,
                header_lines: int) -> pl.DataFrame:
    """Parse with the csv module; ragged rows are marked in ``_ragged`` for rejection."""
    # The csv module ends a record at a bare carriage return even outside quotes, which splits
    # real rows (TWCS tweets carry them); hide them during parsing and restore them after.
    bare_cr = "\r" in text
    if bare_cr:
        text = text.replace("\r\n", "\n").replace("\r", _CR)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    width = len(header)
    columns: list[list[str | None]] = [[] for _ in range(width)]
    starts: list[int] = []
    ragged: list[str | None] = []
    previous_end = 0
    try:
        for index, row in enumerate(reader):
            start = previous_end + 1
            previous_end = reader.line_num
            if index < header_lines or not row:
                continue
            starts.append(start)
            if len(row) != width:
                ragged.append(f"expected {width} fields, found {len(row)}")
                row = (row + [""] * width)[:width]
            else:
                ragged.append(None)
            for column, value in zip(columns, row, strict=True):
                column.append(value.replace(_CR, "\r") if bare_cr else value)
    except csv.Error as exc:
        raise MalformedFileError(
            path, f"the file is truncated or has an unclosed quote ({exc})",
            line=previous_end + 1, hint="Copy the file again from its source, or fix the quoting.",
        ) from exc
    if ragged and ragged[-1] is not None and not text.endswith("\n"):
        raise MalformedFileError(
            path, f"the last row is incomplete ({ragged[-1]}) and the file does not end with a "
            "newline: it looks truncated", line=starts[-1],
            hint="Copy the file again from its source.",
        )
    data: dict[str, list[str | None]] = dict(zip(header, columns, strict=True))
    frame = pl.DataFrame(data, schema={name: pl.String() for name in header})
    return frame.with_columns(pl.Series(LINE, starts, dtype=pl.Int64),
                              pl.Series(RAGGED, ragged, dtype=pl.String))


def read_jsonl(path: Path, *, encoding: str | None = None) -> TextTable:
    """Read JSON Lines: one object a line; a line that is not an object is marked ragged."""
    raw = read_bytes(path)
    encoding = pick_encoding(path, raw, encoding)
    text = decode(path, raw, encoding)
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
    rows: list[dict[str, str | None]] = []
    starts: list[int] = []
    problems: list[str | None] = []
    header: dict[str, None] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines) and not text.endswith("\n"):
                raise MalformedFileError(path, f"the last line is not complete JSON ({exc.msg})",
                                         line=number, hint="The file looks truncated; copy it "
                                         "again from its source.") from exc
            value = None
            problem: str | None = f"invalid JSON ({exc.msg} at column {exc.colno})"
        else:
            problem = None if isinstance(value, dict) else "a JSON line must be an object"
        row = {k: _as_text(v) for k, v in value.items()} if isinstance(value, dict) else {}
        header.update(dict.fromkeys(row))
        rows.append(row)
        starts.append(number)
        problems.append(problem)
    names = list(header)
    data = {name: [row.get(name) for row in rows] for name in names}
    frame = pl.DataFrame(data, schema={name: pl.String() for name in names})
    frame = frame.with_columns(pl.Series(LINE, starts, dtype=pl.Int64),
                               pl.Series(RAGGED, problems, dtype=pl.String))
    return TextTable(path=path, header=names, frame=frame, lines=lines, header_lines=0,
                     encoding=encoding)


def read_parquet(path: Path) -> TextTable:
    """Read Parquet with every column as text; the 'line' of a row is its 1-based row number."""
    require_regular_file(path)
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # polars raises several types for a bad file
        raise MalformedFileError(path, f"not a readable Parquet file ({exc})",
                                 hint="Copy the file again from its source.") from exc
    frame = frame.with_columns(
        [pl.col(c).cast(pl.List(pl.String)).list.join("|") if isinstance(t, pl.List)
         else pl.col(c).cast(pl.String) for c, t in frame.schema.items()]
    )
    frame = frame.with_columns(pl.Series(LINE, range(1, frame.height + 1), dtype=pl.Int64),
                               pl.lit(None, pl.String).alias(RAGGED))
    return TextTable(path=path, header=[c for c in frame.columns if c not in (LINE, RAGGED)],
                     frame=frame, lines=[], header_lines=0)


def read_any(path: Path, *, encoding: str | None = None) -> TextTable:
    """A canonical file by its suffix: CSV (optionally gzipped), JSON Lines or Parquet."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        return read_parquet(path)
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        return read_jsonl(path, encoding=encoding)
    return read_table(path, encoding=encoding)


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return "|".join(str(v) for v in value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def peek_columns(path: Path, *, encoding: str | None = None) -> list[str]:
    """Column names from a file's header (CSV), first object (JSON Lines) or schema (Parquet)."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        try:
            return list(pl.read_parquet_schema(path))
        except Exception as exc:  # polars raises several types for a bad file
            raise MalformedFileError(path, f"not a readable Parquet file ({exc})") from exc
    first = read_bytes(path).split(b"\n", 1)[0]
    line = first.decode(encoding or "utf-8", errors="replace").removeprefix("\ufeff")\
        .rstrip("\r")
    if name.endswith((".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            return []
        return list(value) if isinstance(value, dict) else []
    return [field.strip() for field in next(csv.reader([line]), [])]

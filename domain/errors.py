"""Errors a user can cause with an input file: each says what, where and what to do."""

from __future__ import annotations

from pathlib import Path


class MalformedFileError(ValueError):
    """A file that cannot be ingested at all; nothing from it is written."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None,
                 field: str | None = None, hint: str = "") -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.problem = problem
        self.hint = hint
        where = str(self.path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field!r}"
        message = f"{where}: {problem}"
        if hint:
            message += f". {hint}"
        super().__init__(message)


class UnknownFormatError(ValueError):
    """The format of a file could not be recognised or is not one this stream accepts."""

"""Errors a user can cause: each says what was wrong, where, and what to do.

Every one derives from ``UserError``. The CLI turns a ``UserError`` into one short message and
exit code 2 in one place (``flows.cli.app``); any other exception is a bug in sentrec and keeps
its traceback. The second base of each class (``ValueError``, ``LookupError``, ...) is the
built-in error it refines, so code that catches those keeps working.
"""

from __future__ import annotations

from pathlib import Path


class UserError(Exception):
    """Something the person running sentrec can fix: a file, an option, a setting, an order of
    commands.

    Its message is redacted when it is made: it may quote a line of a customer's file, and an
    error's text travels to the terminal, logs and Prefect's state.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(_redacted(a) if isinstance(a, str) else a for a in args))


class MalformedFileError(UserError, ValueError):
    """A file that cannot be ingested at all; nothing from it is written."""

    def __init__(self, path: Path | str, problem: str, *, line: int | None = None,
                 field: str | None = None, hint: str = "") -> None:
        self.path = Path(path)
        self.line = line
        self.field = field
        self.problem = _redacted(problem)
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


class UnknownFormatError(UserError, ValueError):
    """The format of a file could not be recognised or is not one this stream accepts."""


class InvalidInputError(UserError, ValueError):
    """An option, setting or argument whose value cannot be used (a bad weight, an unknown
    source, a time that is not ISO 8601)."""


class NotFoundError(UserError, LookupError):
    """The thing asked for by id or name does not exist (an alert, an API key, a batch)."""


class ConflictError(UserError, ValueError):
    """The request clashes with what the store holds (a key name taken, a resolved alert
    acknowledged)."""


class NotReadyError(UserError, RuntimeError):
    """A step needs something an earlier step makes: a trained model, a published set, labels,
    a migrated store."""


class StoreNotReadyError(NotReadyError):
    """The configured database is not at the schema this sentrec needs."""


def _redacted(text: str) -> str:
    from domain.redaction import redact  # imported here: the redaction modules raise these

    return redact(text)

"""Typed errors shared by every layer; ``app/errors.py`` maps them to HTTP statuses and exit codes."""
from __future__ import annotations

from dataclasses import dataclass


class GridwatchError(Exception):
    """Base of the errors a user can cause and fix."""

    status = 400
    exit_code = 1


@dataclass(frozen=True)
class RowError:
    """One problem in one row of an input: line (1-based, as a spreadsheet shows it), field, reason."""

    line: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class InvalidData(GridwatchError):
    """Input that failed validation; ``errors`` lists every bad row, not only the first."""

    status = 422
    exit_code = 2

    def __init__(self, errors: list[RowError] | RowError | str, *, source: str | None = None):
        if isinstance(errors, str):
            errors = [RowError(None, None, errors)]
        elif isinstance(errors, RowError):
            errors = [errors]
        self.errors = list(errors)
        self.source = source
        head = f"{source}: " if source else ""
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{head}{self.errors[0] if self.errors else 'invalid data'}{more}")


#: what an importer does with bad rows: write nothing (and list them all), or write the good rows
ON_ERROR = ("reject", "skip")


def check_on_error(on_error: str) -> None:
    """Raise InvalidData unless ``on_error`` is one of ``ON_ERROR`` (every importer takes it)."""
    if on_error not in ON_ERROR:
        raise InvalidData(f"on_error must be {' or '.join(ON_ERROR)}, not {on_error!r}")


class NotFound(GridwatchError):
    status = 404
    exit_code = 3


class Forbidden(GridwatchError):
    status = 403
    exit_code = 4


class IllegalTransition(GridwatchError):
    """A workflow step that the current state (or the actor's role) does not allow."""

    status = 409
    exit_code = 5


class Conflict(GridwatchError):
    """A concurrent change or a duplicate: reload and try again."""

    status = 409
    exit_code = 6

"""The one family of errors juno-kg raises for people to act on (a leaf: imports nothing of ours).

The CLI has one handler for all of them: it prints the error (no traceback) and exits with
the error's ``exit_code`` (the exit codes of the README are API).
"""

from __future__ import annotations

from pathlib import Path


class JunoKGError(Exception):
    """An error the user can act on; the CLI prints it without a traceback (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None,
                 column: int | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path else None
        self.line = line
        self.column = column
        self.hint = hint

    def __str__(self) -> str:
        where = ""
        if self.path:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        elif self.line is not None:  # a place in a text that is not a file (a query)
            where = f"line {self.line}, column {self.column}: "
        text = f"{where}{self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class DoesNotConform(JunoKGError):
    """The data does not conform (a Violation): nothing was written or loaded; exit 1."""

    exit_code = 1

    def __init__(self, message: str, report=None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.report = report  #: the :class:`juno_kg.check.CheckReport` that says why


class NotLoaded(JunoKGError):
    """The store does not hold what the build holds (a count differs), or the data does not
    conform: exit 1."""

    exit_code = 1


class QueryError(JunoKGError, ValueError):
    """A problem with a query, its parameters or its data (exit 2); ``line`` and ``column``
    are in the query's text."""


class EndpointError(QueryError):
    """A remote endpoint could not be reached, timed out, or answered an error (exit 3)."""

    exit_code = 3

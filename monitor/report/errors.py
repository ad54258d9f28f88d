"""The one error type of the report: a condition the user can fix, said in one line."""

from __future__ import annotations

# Exit codes of `monitor report` (the README's table repeats them).
EXIT_DATABASE = 1  # the database is missing, empty, locked, unreadable or has another schema
EXIT_USAGE = 2  # a bad time expression, an unknown identity / tag / tenant / environment


class ReportError(Exception):
    """The report cannot be made as asked.

    ``str(error)`` is one line meant for the user, with the command that fixes it where there
    is one; ``exit_code`` is what ``monitor report`` exits with.
    """

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message

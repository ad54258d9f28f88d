"""The one error type of the report: a condition the user can fix, said in one line."""

from __future__ import annotations

from monitor.exits import EXIT_USAGE


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

"""The one error type the store raises for conditions a user can act on."""

from __future__ import annotations


class StoreError(Exception):
    """The database cannot be used as asked: it is missing, has another schema, or is unreadable.

    ``str(error)`` is a one-line message meant for the user, with the command that fixes it
    where there is one.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

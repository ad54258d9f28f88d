"""Bounded numbers for command-line arguments.

A number that passes here fits wherever the command uses it: a SQLite integer (at most
2**63 - 1), a request count, a row limit. Out of range is an argument error (argparse's usage
line and exit 2), never an OverflowError later.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

MAX_ROW_ID = 2**63 - 1  # SQLite INTEGER PRIMARY KEY
MAX_REQUESTS = 10**12  # requests of one identity on one day: far above any allocation


def bounded_int(minimum: int, maximum: int) -> Callable[[str], int]:
    """Return an argparse ``type`` accepting whole numbers from *minimum* to *maximum*."""

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r} is out of range (from {minimum:,} to {maximum:,})"
            )
        return value

    return parse


def bounded_float(minimum: float, maximum: float) -> Callable[[str], float]:
    """Return an argparse ``type`` accepting numbers from *minimum* to *maximum*."""

    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text[:40]!r}") from None
        if not minimum <= value <= maximum:  # NaN fails this too
            raise argparse.ArgumentTypeError(
                f"{text[:40]!r} is out of range (from {minimum:g} to {maximum:g})"
            )
        return value

    return parse

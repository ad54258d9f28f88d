"""Argument helpers for the command modules: bounded numbers and declared actions.

A number that passes :func:`bounded_int` fits wherever the command uses it: a SQLite integer (at
most 2**63 - 1), a request count, a row limit. Out of range is an argument error (argparse's
usage line and exit 2), never an OverflowError later. :class:`Action` declares one action of a
command with actions (``monitor notify test``); :func:`add_actions` registers them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_ROW_ID = 2**63 - 1  # SQLite INTEGER PRIMARY KEY
MAX_REQUESTS = 10**12  # requests of one identity on one day: far above any allocation

Arguments = Callable[[argparse.ArgumentParser], object]  # adds a parser's options


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


def argument(*names: str, **options: Any) -> Arguments:
    """Return the :data:`Arguments` of an action that takes just this one argument."""
    return lambda parser: parser.add_argument(*names, **options)


def add_identity_option(parser: argparse.ArgumentParser, help: str) -> None:
    """Add the repeatable ``--identity NAME`` option (``args.identity``: names or None)."""
    parser.add_argument("--identity", action="append", metavar="NAME", help=help)


@dataclass(frozen=True)
class Action:
    """One action (or view) of a command: its name, help line, description (the help line
    when empty), options and parser defaults."""

    name: str
    help: str
    description: str = ""
    arguments: Arguments | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)


def add_actions(
    parser: argparse.ArgumentParser,
    dest: str,
    actions: Sequence[Action],
    *,
    metavar: str | None = "ACTION",
    required: bool = True,
) -> None:
    """Register *actions* on *parser*; the chosen action's name goes to ``args.<dest>``."""
    subparsers = parser.add_subparsers(dest=dest, metavar=metavar)
    subparsers.required = required
    for action in actions:
        sub = subparsers.add_parser(
            action.name, help=action.help, description=action.description or action.help
        )
        if action.arguments is not None:
            action.arguments(sub)
        sub.set_defaults(**action.defaults)

"""``monitor silence add | list | remove``: hold back notifications for an identity, a tag or a
tenant for a while.

Silenced incidents are still opened, recorded and shown; only their notices wait. An incident
first found during a silence is announced when the silence ends; one announced before gets no
burst of reminders when it ends. Times: :func:`parse_time`. Exit codes: 0 done; 1 ``remove``
found no such silence; 2 a wrong argument; 70 database; 78 configuration.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.commands._args import MAX_ROW_ID, Action, add_actions, argument, bounded_int
from monitor.exits import EXIT_USAGE
from monitor.model.clock import utcnow

_RELATIVE = re.compile(r"^\+?(?P<amount>\d+(\.\d+)?)\s*(?P<unit>m|min|h|d|w)$", re.I)
_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


# A silence longer than this is a mistake (and a time this far off would overflow dates).
MAX_SILENCE = timedelta(days=3660)


def parse_time(text: str, now: datetime) -> datetime:
    """Return the aware UTC time *text* means, at most :data:`MAX_SILENCE` before or after
    *now*: relative to *now* (``30m``, ``4h``, ``2d``, ``1w``) or an ISO date or time
    (``2026-12-01``, ``2026-12-01T18:00``; local time unless it names a zone). Raise ValueError
    with a readable message otherwise."""
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        unit = _UNITS[match["unit"].lower()]
        amount = float(match["amount"])
        if amount > MAX_SILENCE / timedelta(**{unit: 1}):
            raise ValueError(f"too far: {text[:40]!r} (at most {MAX_SILENCE.days} days ahead)")
        return now + timedelta(**{unit: amount})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.astimezone()  # local time, as the operator typed it
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise ValueError(
            f"not a time: {text[:40]!r} (use e.g. 4h, 2d, 2026-12-01 or 2026-12-01T18:00)"
        ) from None
    if abs(parsed - now) > MAX_SILENCE:
        raise ValueError(f"too far: {text[:40]!r} (at most {MAX_SILENCE.days} days from now)")
    return parsed


def who() -> str | None:
    """Return who runs the command (``$SUDO_USER`` first), for the record."""
    name = os.environ.get("SUDO_USER")
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


HELP = "hold back notifications for an identity, tag or tenant until a time"
DESCRIPTION = (
    "Silences hold back notices (incidents are still recorded). An incident found during a "
    "silence is announced when it ends; one announced before is not repeated in a burst."
)


# What a silence can cover (exactly one): option and store field -> metavar.
SCOPES = {"identity": "NAME", "tag": "TAG", "tenant": "NAME"}


def _add_arguments(add: argparse.ArgumentParser) -> None:
    scope = add.add_mutually_exclusive_group(required=True)
    for name, metavar in SCOPES.items():
        scope.add_argument(f"--{name}", metavar=metavar)
    add.add_argument(
        "--until",
        required=True,
        metavar="TIME",
        help="when it ends: 30m, 4h, 2d, 1w, or an ISO date/time",
    )
    add.add_argument(
        "--from", dest="starts", metavar="TIME", default=None, help="when it starts (default: now)"
    )
    add.add_argument("--reason", required=True, metavar="TEXT")


ACTIONS = (
    Action("add", "add a silence", "Add a silence.", _add_arguments),
    Action(
        "list",
        "list silences",
        "List active and upcoming silences.",
        argument("--all", action="store_true", help="include ended and removed ones"),
    ),
    Action(
        "remove",
        "end a silence now",
        "End a silence now.",
        argument("silence_id", type=bounded_int(1, MAX_ROW_ID), metavar="ID"),
    ),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_actions(parser, "silence_action", ACTIONS)


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import open_store

    opened = open_store(args, secrets=False)  # annotates history: no credential needed
    if isinstance(opened, int):
        return opened
    config, store = opened
    now = utcnow()
    with store:
        if args.silence_action == "add":
            try:
                starts = parse_time(args.starts, now) if args.starts else now
                until = parse_time(args.until, now)
            except ValueError as exc:
                print(f"monitor silence: {exc}", file=sys.stderr)
                return EXIT_USAGE
            problem = _scope_problem(config, args)
            if problem:
                print(f"monitor silence: {problem}", file=sys.stderr)
                return EXIT_USAGE
            if until <= max(starts, now):
                print(
                    "monitor silence: --until must be in the future and after --from",
                    file=sys.stderr,
                )
                return EXIT_USAGE
            silence = store.alerting.add_silence(
                **{name: getattr(args, name) for name in SCOPES},
                starts_at=starts,
                until=until,
                reason=args.reason,
                created_by=who(),
            )
            print(
                f"silence {silence.id}: {silence.scope} until {silence.until:%Y-%m-%d %H:%M} "
                f"UTC ({silence.reason})"
            )
            return 0
        if args.silence_action == "list":
            silences = store.alerting.silences(now=None if args.all else now)
            for silence in silences:
                state = (
                    "removed"
                    if silence.removed_at
                    else (
                        "active"
                        if silence.active(now)
                        else ("upcoming" if silence.starts_at > now else "ended")
                    )
                )
                by = f" by {silence.created_by}" if silence.created_by else ""
                print(
                    f"{silence.id:>4}  {state:<8} {silence.scope:<28} "
                    f"{silence.starts_at:%Y-%m-%d %H:%M} -> {silence.until:%Y-%m-%d %H:%M} UTC"
                    f"{by}: {silence.reason}"
                )
            if not silences:
                print("no silences")
            return 0
        removed = store.alerting.remove_silence(args.silence_id, now)
        if removed is None:
            print(f"monitor silence: no silence {args.silence_id}", file=sys.stderr)
            return 1
        print(f"silence {removed.id} ({removed.scope}) ended")
        return 0


def _scope_problem(config: Any, args: argparse.Namespace) -> str:
    if args.identity is not None and args.identity not in config.identities:
        return f"unknown identity {args.identity!r}"
    if args.tenant is not None and args.tenant not in config.tenants:
        return f"unknown tenant {args.tenant!r}"
    if args.tag is not None and not any(
        args.tag in identity.tags for identity in config.identities.values()
    ):
        return f"no identity has the tag {args.tag!r}"
    return ""

"""``monitor ack INCIDENT``: acknowledge an incident, so it stops sending reminders.

``INCIDENT`` is the id from a notice (``CM-42``, or ``42``). An acknowledged incident stays open
and is still escalated, moved along its deadline ladder and resolved (with notices); only the
reminders, and the daily repeat of an expired deadline, stop. Exit codes: 0 done; 1 no such
incident; 2 a malformed id; 70 database; 78 configuration.
"""

from __future__ import annotations

import argparse
import sys

from monitor.exits import EXIT_USAGE
from monitor.model.clock import utcnow

HELP = "acknowledge an incident (stops its reminders)"
DESCRIPTION = (
    "Acknowledge an incident by its id (CM-42): it stays open, but sends no more reminders."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("incident", metavar="INCIDENT", help="the incident id, e.g. CM-42")
    parser.add_argument("--note", default=None, help="why, or what is being done")
    parser.add_argument("--by", default=None, help="who acknowledges (default: the user)")


def run(args: argparse.Namespace) -> int:
    from monitor.commands._args import MAX_ROW_ID
    from monitor.commands._common import open_store
    from monitor.commands.silence import who
    from monitor.model.incidents import parse_incident_label

    try:
        incident_id = parse_incident_label(args.incident)
    except ValueError as exc:
        print(f"monitor ack: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not 1 <= incident_id <= MAX_ROW_ID:
        print(f"monitor ack: no incident can have the id {args.incident[:40]!r}", file=sys.stderr)
        return EXIT_USAGE
    opened = open_store(args, secrets=False)  # annotates history: no credential needed
    if isinstance(opened, int):
        return opened
    _config, store = opened
    with store:
        incident = store.alerting.acknowledge_incident(
            incident_id, at=utcnow(), by=args.by or who(), note=args.note
        )
    if incident is None:
        print(f"monitor ack: no incident CM-{incident_id}", file=sys.stderr)
        return 1
    state = "open" if incident.is_open else "already resolved"
    print(
        f"{incident.label} acknowledged ({state}): {incident.identity or incident.tenant}: "
        f"{incident.subject}"
    )
    return 0

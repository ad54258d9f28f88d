"""``monitor posture``: read Graph and Dataverse metadata now, store it, print the posture.

One directory pass over every tenant (or only the due ones with ``--due``, or none with
``--stored``), then the nearest deadline per identity and the posture findings with their
remedies. Exit code: 0 no warning, 1 a warning, 2 a critical finding (Nagios style).
"""

from __future__ import annotations

import argparse
import json
import sys

from monitor.commands._args import add_identity_option
from monitor.exits import EXIT_UNKNOWN

HELP = "read Graph / Dataverse metadata, print expiring credentials and posture findings"
DESCRIPTION = (
    "Read what Entra ID (Microsoft Graph) and each Dataverse environment know about every "
    "identity with the tenants' observer credentials: secret and certificate end dates, account, "
    "password and licence state, security roles, non-interactive users. Store the observations "
    "and print the nearest deadline per identity and the posture findings. Exit codes: 0 no "
    "warning, 1 warning, 2 critical."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_identity_option(parser, "show only this identity (repeatable); its tenant is read")
    when = parser.add_mutually_exclusive_group()
    when.add_argument(
        "--due",
        action="store_true",
        help="read only tenants due by [directory] interval_hours (what `monitor check` does)",
    )
    when.add_argument("--stored", action="store_true", help="read nothing: evaluate what is stored")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import open_for_writing
    from monitor.model.clock import utcnow
    from monitor.output.posture import posture_exit_code, posture_to_dict, render_posture_text
    from monitor.pipeline.posture import posture_from_store
    from monitor.pipeline.steps import CycleContext, read_directory

    opened = open_for_writing(args)
    if isinstance(opened, int):
        return opened
    config, store, key = opened
    selected = args.identity or None
    if selected:
        unknown = [name for name in selected if name not in config.identities]
        if unknown:
            print(f"monitor posture: unknown identity: {', '.join(unknown)}", file=sys.stderr)
            store.close()
            return EXIT_UNKNOWN
    tenants = sorted({config.identities[name].tenant for name in selected}) if selected else None
    with store:
        now = utcnow()
        if args.stored:
            posture = posture_from_store(store, config, now)
            read: tuple[str, ...] = ()
        else:
            context = CycleContext.build(config, store, fingerprint_key=key)
            report = read_directory(context, now, force=not args.due, tenants=tenants)
            posture = report.posture
            read = report.tenants_read
    if args.json:
        document = posture_to_dict(posture, config, now, identities=selected)
        document["tenants_read"] = list(read)
        print(json.dumps(document, indent=2))
    else:
        if read:
            print(f"Directory read just now: {', '.join(read)}\n")
        print(render_posture_text(posture, config, now, identities=selected))
    return posture_exit_code(posture)

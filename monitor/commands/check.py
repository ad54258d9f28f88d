"""``monitor check``: one pass of the whole pipeline, stored, printed, Nagios exit code."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="probe every identity once, read due directories, evaluate and alert",
        description="One pass of what `monitor run` does on a schedule: sign in as every "
        "configured identity (or the ones named) and call Dataverse WhoAmI in each environment, "
        "read the directories that are due (posture), evaluate findings into incidents and send "
        "the notifications that are due. Exit codes follow the Nagios plugin convention: "
        "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    )
    parser.add_argument(
        "--identity",
        action="append",
        metavar="NAME",
        help="probe only this identity (repeatable)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--force",
        action="store_true",
        help="try a password identity once even though the lockout guard holds it (use after "
        "an admin unlocked the account or reset the password in place)",
    )
    parser.add_argument(
        "--no-notify",
        action="store_true",
        help="record incidents but send no notification (and no heartbeat ping)",
    )
    parser.add_argument(
        "--no-directory",
        action="store_true",
        help="skip the directory (posture) reads even if they are due",
    )
    parser.set_defaults(run=run, nagios=True)


def run(args: argparse.Namespace) -> int:
    from monitor.commands._common import open_for_writing
    from monitor.engine import select_identities
    from monitor.outcomes import Severity, worst
    from monitor.pipeline import run_cycle
    from monitor.summary import overall

    opened = open_for_writing(args)
    if isinstance(opened, int):
        return opened
    config, store, key = opened
    with store:
        try:
            identities = select_identities(config, args.identity)
        except KeyError as exc:
            print(f"monitor check: unknown identity: {exc.args[0]}", file=sys.stderr)
            return int(Severity.UNKNOWN)
        outcome = run_cycle(
            config,
            store,
            fingerprint_key=key,
            identities=identities,
            force=args.force,
            notify=not args.no_notify,
            directory=not args.no_directory,
        )
    names = [identity.name for identity in identities] if args.identity else None
    findings = [
        f for f in outcome.findings if names is None or f.identity is None or f.identity in names
    ]
    state = worst([overall(outcome.probes.results), *(_severity(f.level) for f in findings)])
    if args.json:
        print(json.dumps(_document(outcome, config, names, findings, state), indent=2))
    else:
        print(_text(outcome, config, names, state))
    return int(state)


def _severity(level: Any) -> Any:
    from monitor.findings.base import Level
    from monitor.outcomes import Severity

    return {Level.CRITICAL: Severity.CRITICAL, Level.WARNING: Severity.WARNING}.get(
        level, Severity.OK
    )


def _text(outcome: Any, config: Any, names: list[str] | None, state: Any) -> str:
    from monitor.directory.report import render_posture_text
    from monitor.summary import render_table, status_line

    table = render_table(outcome.probes.results)
    first, rest = table.split("\n", 1)
    if state is not _probe_state(outcome):
        first = status_line(outcome.probes.results, state=state)
    note = _findings_note(outcome.findings, names)
    if note:
        text, perf = first.split(" | ", 1)
        first = f"{text}; {note} | {perf}"
    sections = [first + "\n" + rest]
    if outcome.directory is not None:
        sections.append(
            render_posture_text(
                outcome.directory.posture, config, outcome.probes.finished_at, identities=names
            )
        )
    usage = [f for f in outcome.findings if f.kind.value == "usage"]
    if usage:
        lines = ["API USAGE"]
        for finding in usage:
            where = finding.identity or finding.tenant
            lines.append(f"  [{finding.level.value.upper()}] {where}: {finding.summary}")
            lines.append(f"      fix: {finding.remedy}")
        sections.append("\n".join(lines))
    sections.append(_alerts_text(outcome))
    return "\n\n".join(sections)


def _findings_note(findings: Any, names: list[str] | None) -> str:
    from collections import Counter

    counts = Counter(
        f.level.value
        for f in findings
        if f.level.value != "info" and (names is None or f.identity is None or f.identity in names)
    )
    parts = [f"{counts[level]} {level}" for level in ("critical", "warning") if counts[level]]
    return f"findings: {', '.join(parts)}" if parts else ""


def _probe_state(outcome: Any) -> Any:
    from monitor.summary import overall

    return overall(outcome.probes.results)


def _alerts_text(outcome: Any) -> str:
    alerts = outcome.alerts
    if alerts is None:
        return "ALERTS: not evaluated"
    lines = ["ALERTS"]
    if not alerts.transitions:
        lines.append("  no incident opened, escalated or resolved in this pass")
    for transition in alerts.transitions:
        channels = ", ".join(transition.channels) if transition.channels else "no notice queued"
        who = transition.identity or transition.tenant
        lines.append(
            f"  {transition.label} {transition.event}: {transition.kind} ({transition.level}) "
            f"{who} -> {channels}"
        )
    if alerts.dispatch is None:
        lines.append("  delivery skipped (--no-notify)")
    else:
        lines.append(
            f"  delivered {alerts.dispatch.sent_rows} notice(s), "
            f"{alerts.dispatch.failed_rows} failed (retried later), "
            f"{alerts.dispatch.dead} dead-lettered"
        )
    return "\n".join(lines)


def _document(
    outcome: Any, config: Any, names: list[str] | None, findings: list[Any], state: Any
) -> dict[str, Any]:
    from monitor.directory.report import finding_to_dict, posture_to_dict
    from monitor.summary import result_to_dict, status_line

    results = outcome.probes.results
    document: dict[str, Any] = {
        "status": state.name,
        "exit_code": int(state),
        "summary": status_line(results, state=state),
        "run_id": outcome.probes.run_id,
        "results": [result_to_dict(r) for r in results],
        "findings": [finding_to_dict(f) for f in findings],
        "posture": (
            posture_to_dict(
                outcome.directory.posture, config, outcome.probes.finished_at, identities=names
            )
            if outcome.directory is not None
            else None
        ),
        "incidents": [
            {
                "id": t.label,
                "event": t.event,
                "kind": t.kind,
                "level": t.level,
                "identity": t.identity,
                "tenant": t.tenant,
                "at": t.at.isoformat(),
                "channels": list(t.channels),
            }
            for t in (outcome.alerts.transitions if outcome.alerts else ())
        ],
    }
    return document

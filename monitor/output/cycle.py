"""What ``monitor check`` prints for one cycle: text for people (its first line a Nagios/Icinga
status line with performance data) or JSON for programs, and the exit state both report."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from monitor.config.model import Config
from monitor.model.findings import Finding, Level
from monitor.model.outcomes import Severity, worst
from monitor.model.probes import ProbeResult
from monitor.output.posture import finding_to_dict, posture_to_dict, render_posture_text
from monitor.output.probes import overall, render_table, result_to_dict, status_line
from monitor.output.terminal import terminal_width
from monitor.pipeline.steps import CycleResult

_LEVEL_STATE = {Level.CRITICAL: Severity.CRITICAL, Level.WARNING: Severity.WARNING}


def selected_findings(outcome: CycleResult, names: Sequence[str] | None) -> list[Finding]:
    """Return the posture and usage findings of the selected identities (and of no identity:
    tenant and environment findings concern every identity)."""
    return [
        finding
        for finding in outcome.findings
        if names is None or finding.identity is None or finding.identity in names
    ]


def cycle_state(outcome: CycleResult, names: Sequence[str] | None) -> Severity:
    """Return the Nagios state of a cycle: the worst of its probe results and of its findings
    (a critical posture or usage finding raises the state even when every probe is OK)."""
    levels = [
        _LEVEL_STATE.get(finding.level, Severity.OK)
        for finding in selected_findings(outcome, names)
    ]
    return worst([overall(_all_results(outcome)), *levels])


def _all_results(outcome: CycleResult) -> tuple[ProbeResult, ...]:
    """The recorded results and those of the identities not checked in this pass."""
    return (*outcome.probes.results, *outcome.probes.not_checked)


def cycle_text(
    outcome: CycleResult, config: Config, names: Sequence[str] | None, state: Severity
) -> str:
    """Return the text form: probe table (status line first), posture, usage, alerts."""
    results = _all_results(outcome)
    width = terminal_width()
    first, rest = render_table(results, width=width).split("\n", 1)
    if state is not overall(results):
        first = status_line(results, state=state)
    note = _findings_note(selected_findings(outcome, names))
    if note:
        text, perf = first.split(" | ", 1)
        first = f"{text}; {note} | {perf}"
    sections = [first + "\n" + rest]
    if outcome.directory is not None:
        sections.append(
            render_posture_text(
                outcome.directory.posture,
                config,
                outcome.probes.finished_at,
                identities=names,
                line_width=width,
            )
        )
    usage = [finding for finding in outcome.findings if finding.kind.value == "usage"]
    if usage:
        lines = ["API USAGE"]
        for finding in usage:
            where = finding.identity or finding.tenant
            lines.append(f"  [{finding.level.value.upper()}] {where}: {finding.summary}")
            lines.append(f"      fix: {finding.remedy}")
        sections.append("\n".join(lines))
    sections.append(alerts_text(outcome))
    return "\n\n".join(sections)


def _findings_note(findings: Sequence[Finding]) -> str:
    counts = Counter(finding.level.value for finding in findings if finding.level is not Level.INFO)
    parts = [f"{counts[level]} {level}" for level in ("critical", "warning") if counts[level]]
    return f"findings: {', '.join(parts)}" if parts else ""


def alerts_text(outcome: CycleResult) -> str:
    """Return the ALERTS section: every incident transition and what delivery did."""
    lines = ["ALERTS"]
    if not outcome.transitions:
        lines.append("  no incident opened, escalated or resolved in this pass")
    for transition in outcome.transitions:
        channels = ", ".join(transition.channels) if transition.channels else "no notice queued"
        who = transition.identity or transition.tenant
        lines.append(
            f"  {transition.label} {transition.event}: {transition.kind} ({transition.level}) "
            f"{who} -> {channels}"
        )
    if outcome.dispatch is None:
        lines.append("  delivery skipped (--no-notify)")
    else:
        lines.append(
            f"  delivered {outcome.dispatch.sent_rows} notice(s), "
            f"{outcome.dispatch.failed_rows} failed (retried later), "
            f"{outcome.dispatch.dead} dead-lettered"
        )
    return "\n".join(lines)


def cycle_document(
    outcome: CycleResult, config: Config, names: Sequence[str] | None, state: Severity
) -> dict[str, Any]:
    """Return the JSON form (``monitor check --json``)."""
    results = _all_results(outcome)
    return {
        "status": state.name,
        "exit_code": int(state),
        "summary": status_line(results, state=state),
        "run_id": outcome.probes.run_id,
        "results": [result_to_dict(result) for result in results],
        "findings": [finding_to_dict(finding) for finding in selected_findings(outcome, names)],
        "posture": (
            posture_to_dict(
                outcome.directory.posture, config, outcome.probes.finished_at, identities=names
            )
            if outcome.directory is not None
            else None
        ),
        "incidents": [
            {
                "id": transition.label,
                "event": transition.event,
                "kind": transition.kind,
                "level": transition.level,
                "identity": transition.identity,
                "tenant": transition.tenant,
                "at": transition.at.isoformat(),
                "channels": list(transition.channels),
            }
            for transition in outcome.transitions
        ],
    }

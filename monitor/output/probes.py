"""Render the results of a pass for people (a table) and for programs (JSON).

The first line of the text form is a Nagios/Icinga plugin status line, so ``monitor check`` can be
used as a check command as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from monitor.model.outcomes import Nature, Severity, describe, info, worst
from monitor.model.probes import ProbeResult
from monitor.output.terminal import DEFAULT_WIDTH

_COLUMNS = ("IDENTITY", "ENVIRONMENT", "CREDENTIAL", "OUTCOME", "MS", "DETAIL")
_DETAIL_WIDTH = 44


def overall(results: Sequence[ProbeResult]) -> Severity:
    """Return the Nagios state of a set of results (OK for an empty set)."""
    return worst([info(r.outcome).severity for r in results])


def status_line(results: Sequence[ProbeResult], *, state: Severity | None = None) -> str:
    """Return ``MONITOR <STATE> - <counts> | <perfdata>`` (Nagios plugin output, first line).

    *state* overrides the probes' own state when other findings (posture, usage) raise it.
    """
    if state is None:
        state = overall(results)
    text, perf = state_counts([info(r.outcome).severity for r in results])
    return f"MONITOR {state.name} - {text or 'no identities probed'} | {perf}"


def state_counts(states: Sequence[Severity]) -> tuple[str, str]:
    """Return the words of a status line for probes in *states* ("all 6 probes OK", "2
    critical of 6 probes"; empty for none) and its performance data ("ok=4 warning=0 ...")."""
    counts = Counter(states)
    if not states:
        text = ""
    elif counts[Severity.OK] == len(states):
        text = f"all {len(states)} probes OK"
    else:
        parts = [
            f"{counts[sev]} {sev.name.lower()}"
            for sev in (Severity.CRITICAL, Severity.WARNING, Severity.UNKNOWN)
            if counts[sev]
        ]
        text = f"{', '.join(parts)} of {len(states)} probes"
    perf = " ".join(
        f"{sev.name.lower()}={counts[sev]}"
        for sev in (Severity.OK, Severity.WARNING, Severity.CRITICAL, Severity.UNKNOWN)
    )
    return text, perf


def _detail(result: ProbeResult) -> str:
    if result.outcome.value == "ok":
        headroom = result.rate_limit.burst_remaining
        return f"burst headroom {headroom}" if headroom is not None else ""
    code = f"AADSTS{result.aadsts_code} " if result.aadsts_code else ""
    if result.dataverse_error_code:
        code += f"{result.dataverse_error_code} "
    if not result.attempted:
        code = "held: " + code
    return code + _words(result)[0]


def _words(result: ProbeResult) -> tuple[str, str]:
    """Return (summary, remedy) of a result, refined by its code and credential type."""
    return describe(
        result.outcome, aadsts_code=result.aadsts_code, credential_type=result.credential_type
    )


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(results: Sequence[ProbeResult], *, width: int = DEFAULT_WIDTH) -> str:
    """Return the status line, a table of results (problems first) and one fix per problem.

    DETAIL is clipped at 44 characters, or on a terminal wider than 100 columns (*width*) at
    what the line leaves it."""
    ordered = sorted(
        results,
        key=lambda r: (-_rank(info(r.outcome).severity), r.identity, r.environment),
    )
    cells = [
        (r.identity, r.environment, r.credential_type, str(r.outcome), str(r.duration_ms))
        for r in ordered
    ]
    detail_width = _DETAIL_WIDTH
    if width > DEFAULT_WIDTH:
        used = sum(
            max([len(col)] + [len(row[i]) for row in cells]) + 2
            for i, col in enumerate(_COLUMNS[:-1])
        )
        detail_width = max(_DETAIL_WIDTH, width - used)
    rows = [(*row, _clip(_detail(r), detail_width)) for row, r in zip(cells, ordered, strict=True)]
    widths = [max([len(col)] + [len(row[i]) for row in rows]) for i, col in enumerate(_COLUMNS)]
    lines = [status_line(results), ""]
    lines.append("  ".join(col.ljust(widths[i]) for i, col in enumerate(_COLUMNS)).rstrip())
    for row in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    problems = [r for r in ordered if info(r.outcome).nature is not Nature.HEALTHY]
    if problems:
        lines.append("")
        seen: set[tuple[str, str]] = set()
        for r in problems:
            key = (r.identity, str(r.outcome))
            if key in seen:
                continue
            seen.add(key)
            summary, remedy = _words(r)
            lines.append(f"{r.identity} ({r.environment}): {summary}.")
            if r.message:
                lines.append(f"  {r.message}")
            if r.correlation_id:
                lines.append(f"  correlation id {r.correlation_id}")
            lines.append(f"  fix: {remedy}")
    return "\n".join(lines)


def _rank(severity: Severity) -> int:
    return {Severity.OK: 0, Severity.UNKNOWN: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}[
        severity
    ]


def result_to_dict(result: ProbeResult) -> dict[str, Any]:
    meta = info(result.outcome)
    return {
        "identity": result.identity,
        "environment": result.environment,
        "tenant": result.tenant,
        "credential_type": result.credential_type,
        "started_at": result.started_at.isoformat(),
        "duration_ms": result.duration_ms,
        "outcome": str(result.outcome),
        "severity": meta.severity.name,
        "nature": str(meta.nature),
        "attempted": result.attempted,
        "stage": result.stage,
        "message": result.message,
        "summary": _words(result)[0],
        "remedy": _words(result)[1],
        "aadsts_code": result.aadsts_code,
        "oauth_error": result.oauth_error,
        "http_status": result.http_status,
        "dataverse_error_code": result.dataverse_error_code,
        "correlation_id": result.correlation_id,
        "trace_id": result.trace_id,
        "token_source": result.token_source,
        "rate_limit": {
            "burst_remaining": result.rate_limit.burst_remaining,
            "time_remaining": result.rate_limit.time_remaining,
            "retry_after_seconds": result.rate_limit.retry_after_seconds,
        },
        "credential_fingerprint": result.credential_fingerprint,
        "user_id": result.user_id,
        "organization_id": result.organization_id,
    }

"""JSON and CSV: every column (also those the terminal leaves out), values as
:func:`monitor.report.render.values.machine` writes them."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, tzinfo

from monitor.report.model import Cell, DaemonSummary, Table, ViewResult
from monitor.report.render.values import daemon_line, machine, zone_name


def to_json(result: ViewResult, *, zone: tzinfo | None) -> str:
    """Return the view as one JSON document: its name, times, notes, the daemon object (on the
    board) and every table as a list of objects keyed by column key."""
    document: dict[str, object] = {
        "view": result.view,
        "title": result.title,
        "generated_at": machine(result.generated_at, zone=zone),
        "since": machine(result.since, zone=zone),
        "until": machine(result.until, zone=zone),
        "timezone": zone_name(zone, result.generated_at),
        "notes": list(result.notes),
    }
    if result.daemon is not None:
        document["daemon"] = daemon_object(result.daemon, zone=zone, now=result.generated_at)
    for key, value in result.facts.items():
        document[key] = machine(value, zone=zone)
    for table in result.tables:
        document[table.name] = _rows(table, zone)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def daemon_object(
    summary: DaemonSummary, *, zone: tzinfo | None, now: datetime
) -> dict[str, object]:
    """Return the daemon summary for JSON: ``status`` (running, stopping, not_running,
    never_ran, unknown), ``level``, the line people read (``summary``), and what the daemon
    recorded (None where nothing is known)."""
    status = summary.status

    def recorded(*names: str) -> dict[str, Cell]:
        return {name: None if status is None else getattr(status, name) for name in names}

    fields: dict[str, Cell] = {
        "state": summary.state,
        "stale": summary.stale,
        "clean_stop": summary.clean_stop,
        **recorded(
            "hostname", "pid", "monitor_version", "config_path", "started_at", "last_beat_at"
        ),
        "seconds_since_beat": summary.since_beat,
        "stale_after_seconds": summary.stale_after,
        **recorded(
            "last_probe_at",
            "probes_since_start",
            "identities",
            "failing_pairs",
            "stopped_at",
            "stop_reason",
        ),
        "note": summary.note,
    }
    document: dict[str, object] = {
        "status": summary.verdict,
        "level": summary.level,
        "summary": daemon_line(summary, zone=zone, now=now),
    }
    document.update({key: machine(value, zone=zone) for key, value in fields.items()})
    return document


def to_csv(result: ViewResult, *, zone: tzinfo | None) -> str:
    """Return the view's primary table as CSV with a header row of column keys; None is an
    empty field, booleans are ``true``/``false``. Notes and the daemon line are not in it
    (a CSV file is one table)."""
    table = result.table(result.primary)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.key for column in table.columns])
    for row in table.rows:
        values = []
        for column in table.columns:
            value = machine(row.get(column.key), zone=zone)
            if value is None:
                values.append("")
            elif isinstance(value, bool):
                values.append("true" if value else "false")
            else:
                values.append(str(value))
        writer.writerow(values)
    return buffer.getvalue()


def _rows(table: Table, zone: tzinfo | None) -> list[dict[str, object]]:
    return [
        {column.key: machine(row.get(column.key), zone=zone) for column in table.columns}
        for row in table.rows
    ]

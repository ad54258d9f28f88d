"""JSON and CSV: every column (also those the terminal leaves out), values as
:func:`monitor.report.render.values.machine` writes them."""

from __future__ import annotations

import csv
import io
import json
from datetime import tzinfo

from monitor.report.model import Table, ViewResult
from monitor.report.render.values import machine, zone_name


def to_json(result: ViewResult, *, zone: tzinfo | None) -> str:
    """Return the view as one JSON document: its name, times, notes and every table as a
    list of objects keyed by column key."""
    document: dict[str, object] = {
        "view": result.view,
        "title": result.title,
        "generated_at": machine(result.generated_at, zone=zone),
        "since": machine(result.since, zone=zone),
        "until": machine(result.until, zone=zone),
        "timezone": zone_name(zone, result.generated_at),
        "notes": list(result.notes),
    }
    for key, value in result.facts.items():
        document[key] = machine(value, zone=zone)
    for table in result.tables:
        document[table.name] = _rows(table, zone)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_csv(result: ViewResult, *, zone: tzinfo | None) -> str:
    """Return the view's primary table as CSV with a header row of column keys; None is an
    empty field, booleans are ``true``/``false``."""
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

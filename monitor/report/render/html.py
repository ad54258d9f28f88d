"""One self-contained HTML page: inline CSS, inline SVG, no script, no external URL (no
fonts, stylesheets, images or links to fetch), every database text escaped.

The page holds the daemon line (on the board), the view's notes, its tables (cells styled by
their level) and one figure per chart.
"""

from __future__ import annotations

from datetime import tzinfo
from html import escape

from monitor import __version__
from monitor.report.model import (
    AvailabilityChart,
    Chart,
    Column,
    ExpiryChart,
    Table,
    UsageChart,
    ViewResult,
)
from monitor.report.render import svg
from monitor.report.render.values import daemon_line, human, zone_name

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#111827;
background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
p.meta{color:#4b5563;margin:0 0 12px}ul.notes{color:#92400e;padding-left:18px}
table{border-collapse:collapse;font-size:13px}
th,td{padding:3px 10px;border-bottom:1px solid #e5e7eb;text-align:left;vertical-align:top}
th{background:#f3f4f6;position:sticky;top:0}td.num{text-align:right}
.critical{color:#b91c1c;font-weight:600}.warning{color:#b45309}.unknown{color:#6d28d9}
.info{color:#0e7490}.ok{color:#15803d}
figure{margin:0 0 8px}figcaption{color:#4b5563;font-size:12px;margin-bottom:4px}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px}
footer{margin-top:32px;color:#6b7280;font-size:12px}
"""

_LEGEND = (
    ("#15803d", "≥ 99.9%"),
    ("#65a30d", "≥ 99%"),
    ("#ca8a04", "≥ 95%"),
    ("#ea580c", "≥ 50%"),
    ("#b91c1c", "< 50%"),
    ("#a78bfa", "could not verify"),
    ("#e5e7eb", "no probes"),
)


def render(result: ViewResult, *, zone: tzinfo | None) -> str:
    """Return the page for *result*."""
    now = result.generated_at
    since = human(result.since, Column("since", "", "time"), zone=zone, now=now)
    until = human(result.until, Column("until", "", "time"), zone=zone, now=now)
    generated = now.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(result.title)} — monitor report</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>{escape(result.title)}</h1>",
        f'<p class="meta">Generated {escape(generated)}, {escape(zone_name(zone, now))}; '
        f"period {escape(since)} to {escape(until)}.</p>",
    ]
    if result.daemon is not None:
        line = daemon_line(result.daemon, zone=zone, now=now)
        level = result.daemon.level
        style = f' class="{level}"' if level != "none" else ""
        parts.append(f'<p class="daemon"><span{style}>{escape(line)}</span></p>')
    if result.notes:
        parts.append('<ul class="notes">')
        parts.extend(f"<li>{escape(note)}</li>" for note in result.notes)
        parts.append("</ul>")
    for table in result.tables:
        parts.append(_table(table, zone=zone, result=result))
    for chart in result.charts:
        parts.append(_chart(chart, zone=zone))
    parts.append(
        f"<footer>monitor {escape(__version__)} · read-only report of the monitor's "
        "database</footer></body></html>"
    )
    return "\n".join(parts) + "\n"


def _table(table: Table, *, zone: tzinfo | None, result: ViewResult) -> str:
    columns = [column for column in table.columns if column.terminal]
    out = [f"<h2>{escape(table.title)}</h2>"]
    if not table.rows:
        out.append(f"<p>{escape(table.empty)}</p>")
        return "\n".join(out)
    out.append("<table><thead><tr>")
    out.extend(f"<th>{escape(column.header)}</th>" for column in columns)
    out.append("</tr></thead><tbody>")
    for index, row in enumerate(table.rows):
        cells = []
        for column in columns:
            text = human(row.get(column.key), column, zone=zone, now=result.generated_at)
            classes: list[str] = []
            level = table.mark(index, column.key)
            if level is not None and level != "none":
                classes.append(level)
            if column.kind in ("int", "fraction", "duration"):
                classes.append("num")
            attribute = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attribute}>{escape(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _chart(chart: Chart, *, zone: tzinfo | None) -> str:
    if isinstance(chart, AvailabilityChart):
        legend = "".join(
            f'<span style="background:{colour}"></span>{escape(label)}' for colour, label in _LEGEND
        )
        body = svg.availability(chart)
        caption = (
            f'<span class="legend">{legend}</span><br>One cell per UTC day: ok / (ok + down) '
            "probe results. Results that could not verify and expiry warnings never count as "
            "downtime."
        )
    elif isinstance(chart, ExpiryChart):
        body = svg.expiry(chart, zone=zone)
        caption = "Red: ended; amber: within 14 days; teal: within 30 days; dashed line: now."
    elif isinstance(chart, UsageChart):
        body = svg.usage(chart)
        caption = "Blue: requests per UTC day; dashed red: the 24-hour allocation."
    else:  # pragma: no cover - the Chart union is exhaustive
        raise TypeError(type(chart))
    return (
        f"<h2>{escape(chart.title)}</h2><figure><figcaption>{caption}</figcaption>{body}</figure>"
    )

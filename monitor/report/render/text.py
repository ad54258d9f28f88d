"""The terminal table: fits the width (the terminal's, or 100 columns without one), colour only
when asked (the command asks on a TTY without ``NO_COLOR``)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from monitor.report.model import Column, Level, Table, ViewResult
from monitor.report.render.values import daemon_line, human, zone_name

MAX_WIDTH = 100  # the width without a terminal; a wider terminal gets its own width
MIN_WIDTH = 40
GAP = "  "

_COLOURS: dict[Level, str] = {
    "critical": "\033[1;31m",
    "warning": "\033[33m",
    "unknown": "\033[35m",
    "info": "\033[36m",
    "ok": "\033[32m",
}
_RESET = "\033[0m"


def render(
    result: ViewResult,
    *,
    zone: tzinfo | None,
    width: int = MAX_WIDTH,
    colour: bool = False,
    ellipsis: str = "…",
) -> str:
    """Return the view as text lines no wider than *width* (colour codes not counted)."""
    width = max(MIN_WIDTH, width)
    now = result.generated_at
    since = human(result.since, Column("since", "", "time"), zone=zone, now=now)
    until = human(result.until, Column("until", "", "time"), zone=zone, now=now)
    lines = [_cut(f"{result.title}: {since} to {until}, {zone_name(zone, now)}", width, ellipsis)]
    if result.daemon is not None:
        level = result.daemon.level
        for line in _wrap(daemon_line(result.daemon, zone=zone, now=now), width):
            lines.append(_COLOURS[level] + line + _RESET if colour and level in _COLOURS else line)
    for note in result.notes:
        lines.extend(_wrap(f"note: {note}", width))
    for table in result.tables:
        lines.append("")
        if len(result.tables) > 1:
            lines.append(_cut(table.title, width, ellipsis))
        lines.extend(
            _table(table, zone=zone, now=now, width=width, colour=colour, ellipsis=ellipsis)
        )
    return "\n".join(lines) + "\n"


def _table(
    table: Table, *, zone: tzinfo | None, now: datetime, width: int, colour: bool, ellipsis: str
) -> list[str]:
    if not table.rows:
        return [f"({table.empty})"]
    columns = [column for column in table.columns if column.terminal]
    cells = [
        [human(row.get(column.key), column, zone=zone, now=now) for column in columns]
        for row in table.rows
    ]
    widths = [
        max([len(column.header), *(len(line[index]) for line in cells)])
        for index, column in enumerate(columns)
    ]
    columns, cells, widths = _fit(columns, cells, widths, width)
    numeric = [column.kind in ("int", "fraction", "duration") for column in columns]
    header = GAP.join(
        _pad(column.header, widths[index], numeric[index]) for index, column in enumerate(columns)
    ).rstrip()
    out = [header]
    for row_index, line in enumerate(cells):
        parts = []
        for index, column in enumerate(columns):
            text = _pad(_cut(line[index], widths[index], ellipsis), widths[index], numeric[index])
            level = table.mark(row_index, column.key)
            if colour and level in _COLOURS:
                text = _COLOURS[level] + text + _RESET
            parts.append(text)
        out.append(GAP.join(parts).rstrip())
    return out


def _fit(
    columns: list[Column], cells: list[list[str]], widths: list[int], width: int
) -> tuple[list[Column], list[list[str]], list[int]]:
    """Shrink the widest shrinkable column (of equal widths, the one of the highest shrink
    priority) one character at a time, down to the columns' minimums, then drop columns from
    the right, until a line fits *width*. Levelling the widest first keeps every long column
    readable on a wide terminal instead of cutting one of them to its minimum."""

    def total() -> int:
        return sum(widths) + len(GAP) * (len(widths) - 1)

    excess = total() - width
    while excess > 0:
        candidates = [
            index
            for index, column in enumerate(columns)
            if column.shrink and widths[index] > max(column.min_width, len(column.header))
        ]
        if not candidates:
            break
        widest = max(candidates, key=lambda index: (widths[index], columns[index].shrink))
        widths[widest] -= 1
        excess -= 1
    while total() > width and len(columns) > 1:
        columns = columns[:-1]
        widths = widths[:-1]
        cells = [line[:-1] for line in cells]
    return columns, cells, widths


def _pad(text: str, width: int, right: bool) -> str:
    return text.rjust(width) if right else text.ljust(width)


def _cut(text: str, width: int, ellipsis: str) -> str:
    if len(text) <= width:
        return text
    return text[: max(0, width - len(ellipsis))] + ellipsis


def _wrap(text: str, width: int) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if len(candidate) > width and current:
            lines.append(current)
            current = "      " + word
        else:
            current = candidate
    if current:
        lines.append(current)
    return [line[:width] for line in lines]

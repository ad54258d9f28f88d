"""Inline SVG charts: availability strips, the expiry timeline, usage against allocation.

Plain SVG elements only (no script, no external reference, no ``xmlns`` URL: inline SVG in
HTML5 needs none). Every text from the database is escaped. Each chart returns one ``<svg>``
element, also when it has nothing to show (then it says so), so a page always has one picture
per chart.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo
from html import escape

from monitor.report.model import (
    AvailabilityChart,
    DayCell,
    ExpiryChart,
    UsageChart,
    UsageSeries,
)
from monitor.report.render.values import percent
from monitor.report.views.common import deadline_level

FONT = "font-family:system-ui,sans-serif;font-size:11px"
FONT_PX = 11
LABEL_WIDTH = 190
LABEL_PAD = 8  # space left of the longest label
ROW = 16
# Advance widths in em, an upper bound for the common sans-serif faces a browser picks for
# system-ui (DejaVu Sans, the widest of them, Segoe UI, Arial / Helvetica, Cantarell, Roboto):
# labels are right-aligned against the plot, so an estimate too small cuts them at the left
# edge, one too large only leaves a margin.
_EM_WIDE = {"W": 1.0, "M": 0.98, "m": 0.98, "@": 1.0, "w": 0.84, "%": 0.96}
_EM_NARROW = {
    **dict.fromkeys("iljI.,:;'|", 0.34),
    **dict.fromkeys("tfr()[]/\\!", 0.44),
    **dict.fromkeys(" ·", 0.33),
    "-": 0.38,
}

# Availability colours: all good, nearly, degraded, bad, down; no verdict; no data.
_AVAILABILITY_STEPS = ((0.999, "#15803d"), (0.99, "#65a30d"), (0.95, "#ca8a04"), (0.5, "#ea580c"))
DOWN = "#b91c1c"
UNVERIFIED = "#a78bfa"
NO_DATA = "#e5e7eb"
LEVEL_FILL = {
    "critical": "#b91c1c",
    "warning": "#d97706",
    "info": "#0891b2",
    "ok": "#15803d",
    "unknown": "#7c3aed",
    "none": "#6b7280",
}


def text_width(text: str, font_px: float = FONT_PX) -> float:
    """Return an upper estimate of the width in pixels of *text* in the charts' font."""
    em = 0.0
    for char in text:
        if char in _EM_WIDE:
            em += _EM_WIDE[char]
        elif char in _EM_NARROW:
            em += _EM_NARROW[char]
        elif char.isascii() and (char.islower() or char.isdigit()):
            em += 0.65
        elif char.isascii():
            em += 0.86  # capitals and the other ASCII signs
        else:
            em += 1.0  # anything else: as wide as a wide letter
    return em * font_px


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _empty(message: str, width: int = 720) -> str:
    return (
        f'<svg class="chart empty" width="{width}" height="40" viewBox="0 0 {width} 40" '
        f'role="img" aria-label="{_attr(message)}">'
        f'<rect x="0" y="0" width="{width}" height="40" fill="#f9fafb" stroke="#d1d5db"/>'
        f'<text x="12" y="25" style="{FONT}" fill="#4b5563">{escape(message)}</text></svg>'
    )


def cell_colour(cell: DayCell) -> str:
    ratio = cell.availability
    if ratio is None:
        return UNVERIFIED if cell.unverified else NO_DATA
    for threshold, colour in _AVAILABILITY_STEPS:
        if ratio >= threshold:
            return colour
    return DOWN


def _cell_title(cell: DayCell) -> str:
    ratio = cell.availability
    shown = "no verdict" if ratio is None else percent(ratio)
    if ratio is None and not cell.unverified:
        shown = "no probes"
    return (
        f"{cell.day.isoformat()}: {shown} (ok {cell.ok}, down {cell.down}, "
        f"unverified {cell.unverified})"
    )


def availability(chart: AvailabilityChart) -> str:
    """Return one strip per identity (a cell per UTC day, coloured by availability); runs of
    days with the same colour are one rectangle, so a year of a healthy install stays small."""
    if not chart.strips:
        return _empty(chart.empty)
    days = (chart.last - chart.first).days + 1
    cell = max(2.0, min(18.0, 720 / days))
    width = int(LABEL_WIDTH + cell * days + 10)
    height = ROW * len(chart.strips) + 34
    parts = [
        f'<svg class="chart availability" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_attr(chart.title)}">'
    ]
    for index, strip in enumerate(chart.strips):
        y = 4 + index * ROW
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 11}" text-anchor="end" style="{FONT}" '
            f'fill="{LEVEL_FILL.get(strip.level, "#111827")}">'
            f"{escape(_short(strip.label, 30))}</text>"
        )
        run_start = 0
        for position in range(1, len(strip.days) + 1):
            if position < len(strip.days) and cell_colour(strip.days[position]) == cell_colour(
                strip.days[run_start]
            ):
                continue
            first, last = strip.days[run_start], strip.days[position - 1]
            title = (
                _cell_title(first) if first is last else _run_title(strip.days[run_start:position])
            )
            x = LABEL_WIDTH + run_start * cell
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{cell * (position - run_start):.1f}" '
                f'height="{ROW - 3}" fill="{cell_colour(first)}"><title>'
                f"{escape(strip.label)} {escape(title)}</title></rect>"
            )
            run_start = position
    axis_y = 4 + len(chart.strips) * ROW + 14
    parts.append(
        f'<text x="{LABEL_WIDTH}" y="{axis_y}" style="{FONT}" fill="#4b5563">'
        f"{chart.first.isoformat()}</text>"
        f'<text x="{width - 10}" y="{axis_y}" text-anchor="end" style="{FONT}" '
        f'fill="#4b5563">{chart.last.isoformat()}</text></svg>'
    )
    return "".join(parts)


def _run_title(cells: tuple[DayCell, ...]) -> str:
    ok = sum(cell.ok for cell in cells)
    down = sum(cell.down for cell in cells)
    unverified = sum(cell.unverified for cell in cells)
    judged = ok + down
    shown = percent(ok / judged) if judged else ("no verdict" if unverified else "no probes")
    return (
        f"{cells[0].day.isoformat()} to {cells[-1].day.isoformat()}: {shown} "
        f"(ok {ok}, down {down}, unverified {unverified})"
    )


def expiry(chart: ExpiryChart, *, zone: tzinfo | None) -> str:
    """Return the expiry calendar as a timeline: a row per item, a marker at its date
    coloured by how close it is, month ticks and a "now" line."""
    if not chart.items:
        return _empty(chart.empty)
    plot = 520
    labels = [_short(f"{item.identity} · {item.what}", 60) for item in chart.items]
    # The labels end at label_right: as far right as the longest needs, never cut at x = 0.
    label_right = LABEL_PAD + max(120, round(max(text_width(label) for label in labels)) + 1)
    x0 = label_right + 10
    width = x0 + plot + 20
    height = ROW * len(chart.items) + 44
    span = max((chart.end - chart.start).total_seconds(), 1.0)

    def x_of(moment: datetime) -> float:
        offset = (moment - chart.start).total_seconds() / span
        return x0 + max(0.0, min(1.0, offset)) * plot

    parts = [
        f'<svg class="chart expiry" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_attr(chart.title)}">'
    ]
    top, bottom = 18, 18 + ROW * len(chart.items)
    for tick in _month_ticks(chart.start, chart.end, zone):
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{bottom}" stroke="#e5e7eb"/>'
            f'<text x="{x:.1f}" y="12" text-anchor="middle" style="{FONT}" fill="#4b5563">'
            f"{tick.astimezone(zone).strftime('%b %d')}</text>"
        )
    parts.append(
        f'<line x1="{x_of(chart.now):.1f}" y1="{top - 4}" x2="{x_of(chart.now):.1f}" '
        f'y2="{bottom}" stroke="#111827" stroke-dasharray="3,3"><title>now</title></line>'
    )
    for index, item in enumerate(chart.items):
        y = top + index * ROW + 11
        level = deadline_level(item.ends_at, chart.now)
        fill = LEVEL_FILL[level]
        label = f"{item.identity} · {item.what}"
        when = item.ends_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        parts.append(
            f'<text x="{label_right}" y="{y}" text-anchor="end" style="{FONT}">'
            f"{escape(labels[index])}</text>"
            f'<line x1="{x0}" y1="{y - 4}" x2="{x_of(item.ends_at):.1f}" y2="{y - 4}" '
            f'stroke="{fill}" stroke-opacity="0.35" stroke-width="3"/>'
            f'<circle cx="{x_of(item.ends_at):.1f}" cy="{y - 4}" r="5" fill="{fill}">'
            f"<title>{escape(label)}: ends {escape(when)} (source: {escape(item.source)})"
            "</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _month_ticks(start: datetime, end: datetime, zone: tzinfo | None) -> list[datetime]:
    local = start.astimezone(zone)
    tick = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    ticks: list[datetime] = []
    step_months = max(1, int((end - start).days / 30 / 8) + 1)
    while tick <= end:
        if tick >= start:
            ticks.append(tick)
        month = tick.month - 1 + step_months
        tick = tick.replace(year=tick.year + month // 12, month=month % 12 + 1)
    return ticks


def usage(chart: UsageChart) -> str:
    """Return small multiples: per identity, requests per day (line) against the allocation
    (dashed), on the same day axis."""
    if not chart.series:
        return _empty(chart.empty)
    panel_width, panel_height, columns = 230, 90, 3
    rows = (len(chart.series) + columns - 1) // columns
    width = columns * (panel_width + 10) + 10
    height = rows * (panel_height + 30) + 10
    days = sorted({point.day for series in chart.series for point in series.points})
    first, last = days[0], days[-1]
    parts = [
        f'<svg class="chart usage" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_attr(chart.title)}">'
    ]
    for index, series in enumerate(chart.series):
        left = 10 + (index % columns) * (panel_width + 10)
        top = 10 + (index // columns) * (panel_height + 30)
        parts.append(_panel(series, left, top, panel_width, panel_height, first, last))
    parts.append("</svg>")
    return "".join(parts)


def _panel(
    series: UsageSeries, left: int, top: int, width: int, height: int, first: date, last: date
) -> str:
    span = max((last - first).days, 1)
    peak = max(
        [1, *(p.used or 0 for p in series.points), *(p.allocation or 0 for p in series.points)]
    )
    top_value = peak * 1.1

    def xy(day: date, value: int) -> str:
        x = left + (day - first).days / span * width
        y = top + 16 + height - value / top_value * height
        return f"{x:.1f},{y:.1f}"

    used = " ".join(xy(p.day, p.used) for p in series.points if p.used is not None)
    allocation = " ".join(
        xy(p.day, p.allocation) for p in series.points if p.allocation is not None
    )
    newest = series.points[-1]
    share = (
        percent(newest.used / newest.allocation)
        if newest.used is not None and newest.allocation
        else "allocation unknown"
    )
    parts = [
        f'<g class="panel"><rect x="{left}" y="{top + 16}" width="{width}" height="{height}" '
        'fill="#f9fafb" stroke="#e5e7eb"/>'
        f'<text x="{left}" y="{top + 11}" style="{FONT}">{escape(_short(series.label, 28))} '
        f"({escape(share)} on {newest.day.isoformat()})</text>"
        f'<text x="{left + width - 4}" y="{top + 28}" text-anchor="end" style="{FONT}" '
        f'fill="#6b7280">max {peak:,}</text>'
    ]
    if allocation:
        parts.append(
            f'<polyline points="{allocation}" fill="none" stroke="#b91c1c" '
            'stroke-dasharray="4,3"><title>allocation</title></polyline>'
        )
    if used:
        parts.append(
            f'<polyline points="{used}" fill="none" stroke="#1d4ed8" stroke-width="1.5">'
            f"<title>{escape(series.label)}: requests per day</title></polyline>"
        )
    parts.append("</g>")
    return "".join(parts)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

"""The expiry chart's labels are never cut at the left edge: the label column is as wide as the
longest label measured in DejaVu Sans (the widest common sans-serif face) from its font file."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from support.fontmetrics import DEJAVU_SANS, FontMetrics

from monitor.report.model import ExpiryChart, ExpiryItem
from monitor.report.render import svg

pytestmark = pytest.mark.skipif(not DEJAVU_SANS.exists(), reason="DejaVu Sans is not installed")

NOW = datetime(2026, 12, 6, tzinfo=UTC)
OLD_LABEL_RIGHT = 350  # where labels ended before they were measured
LABELS = [
    ("MMM-Warehouse-WMS-Sync", "client secret 'WWW Mammoth Workflow 2026 MMM'"),
    ("sales-sync", "client secret 'prod-2025'"),
    ("gov-reporting", "certificate CN=Großhandel Düsseldorf Øresund GmbH"),
    ("x", "password"),
]
TEXT = re.compile(r'<text x="(\d+(?:\.\d+)?)" y="\d+" text-anchor="end"[^>]*>([^<]*)</text>')


@pytest.fixture(scope="module")
def dejavu() -> FontMetrics:
    return FontMetrics(DEJAVU_SANS)


def test_the_estimate_is_never_narrower_than_dejavu_sans(dejavu: FontMetrics) -> None:
    """Every printable ASCII character, and some of other scripts, is estimated at least as wide
    as DejaVu Sans draws it at the chart's 11 px."""
    characters = string.printable.strip() + " ·éüßøÅÆ€"

    narrower = [
        char for char in characters if svg.text_width(char) < dejavu.width(char, svg.FONT_PX) - 1e-9
    ]

    assert [] == narrower


def test_long_labels_start_inside_the_chart(dejavu: FontMetrics) -> None:
    """Each label, right-aligned at its x, starts at x >= 0 when drawn in DejaVu Sans; the
    longest would have been cut by the former fixed column."""
    chart = ExpiryChart(
        title="Expiry calendar",
        now=NOW,
        start=NOW,
        end=NOW + timedelta(days=90),
        items=tuple(
            ExpiryItem(identity, what, "secret", NOW + timedelta(days=10 * n), "graph")
            for n, (identity, what) in enumerate(LABELS, start=1)
        ),
    )

    drawn = [(float(x), text) for x, text in TEXT.findall(svg.expiry(chart, zone=UTC))]

    assert len(LABELS) == len(drawn)
    starts = {text: x - dejavu.width(unescape(text), svg.FONT_PX) for x, text in drawn}
    assert [] == [text for text, start in starts.items() if start < 0]
    widest = max(dejavu.width(unescape(text), svg.FONT_PX) for _, text in drawn)
    assert widest > OLD_LABEL_RIGHT

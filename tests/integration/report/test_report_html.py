"""The HTML page: parses as HTML, holds an inline SVG per chart, fetches nothing, escapes."""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import UTC
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_kit import build, context
from support.report_history import POSTURE

from monitor.config.model import Config
from monitor.report.render import html
from monitor.report.views import board, expiring, history, usage

# Attributes that would make a browser fetch something.
FETCHING = {"src", "href", "srcset", "xlink:href", "action", "data", "poster", "background"}


class PageParser(HTMLParser):
    """Collect tags, attributes that fetch, and check that every opened element is closed."""

    VOID = frozenset(
        {"meta", "link", "br", "img", "input", "hr", "rect", "line", "circle", "polyline"}
    )

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.fetching: list[tuple[str, str, str]] = []
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.svg_titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in FETCHING:
                self.fetching.append((tag, name, value or ""))
        if tag not in self.VOID:
            self.stack.append(tag)
        self._in_title = tag == "title"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in FETCHING:
                self.fetching.append((tag, name, value or ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        if self._in_title and "svg" in self.stack:
            self.svg_titles.append(data)


def parse(page: str) -> PageParser:
    parser = PageParser()
    parser.feed(page)
    parser.close()
    assert [] == parser.problems
    assert [] == parser.stack  # every element closed
    return parser


def assert_self_contained(page: str) -> None:
    parser = parse(page)
    assert [] == parser.fetching
    assert "script" not in parser.tags
    assert re.search(r"https?://|url\(|@import|//[a-z]", page, re.IGNORECASE) is None


def test_board_page_has_the_three_charts(feature_db: Path, config: Config) -> None:
    """The board page: the status table, an availability strip per identity, the expiry
    timeline and the usage chart, each an inline SVG; nothing fetched, no script."""
    result = build(board, feature_db, context(config=config))
    page = html.render(result, zone=UTC)
    assert_self_contained(page)
    parser = parse(page)
    assert 3 == parser.tags.count("svg")
    for kind in ("availability", "expiry", "usage"):
        assert f'class="chart {kind}"' in page
    assert 2 == parser.tags.count("table")
    assert any(title.startswith("sales-sync 2026-03-05") for title in parser.svg_titles)
    assert any("cert-app · certificate file" in title for title in parser.svg_titles)
    if POSTURE:
        assert any("secret 'prod-2025' (in use): ends" in t for t in parser.svg_titles)


def test_board_page_lists_open_incidents_with_their_remedy(
    feature_db: Path, config: Config
) -> None:
    """The board page's second table: the open incident (the locked account), its remedy in
    the REMEDY cell; the resolved one is not listed."""
    result = build(board, feature_db, context(config=config))
    page = html.render(result, zone=UTC)

    section = page.split("<h2>Open incidents, with what to do</h2>", 1)[1].split("</table>")[0]
    headers = re.findall(r"<th>([^<]*)</th>", section)
    rows = re.findall(r"<tr>(.*?)</tr>", section.split("<tbody>", 1)[1])
    cells = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in rows]

    assert ["ID", "IDENTITY", "LEVEL", "OPENED", "SUMMARY", "REMEDY"] == headers
    assert [
        [
            "CM-2",
            "dataverse-sync",
            "critical",
            "account locked",
            "Unlock the account in Entra ID, then update the password copies.",
        ]
    ] == [[row[0], row[1], row[2], row[4], row[5]] for row in cells]
    assert "client secret rejected" not in section


def test_charts_without_data_still_draw_an_svg(history_db: Path, tmp_path: Path) -> None:
    """Without usage data (or expiry dates) each chart is still an SVG saying so."""
    bare = tmp_path / "monitor.db"
    shutil.copy(history_db, bare)
    connection = sqlite3.connect(bare)
    with connection:
        connection.execute("DROP TABLE IF EXISTS usage_daily")
    connection.close()
    result = build(board, bare, context(configured=False))
    page = html.render(result, zone=UTC)
    assert_self_contained(page)
    assert 3 == parse(page).tags.count("svg")
    assert 'class="chart empty"' in page
    assert "no usage data recorded yet" in page


@pytest.mark.parametrize(
    ("view", "charts", "selection"),
    [
        (history, 1, {"identities": {"sales-sync"}}),
        (expiring, 1, {}),
        (usage, 1, {}),
    ],
)
def test_view_pages(
    feature_db: Path, view: object, charts: int, selection: dict[str, object]
) -> None:
    """Every view renders a self-contained page with one SVG per chart."""
    result = build(view, feature_db, context(**selection))
    page = html.render(result, zone=UTC)
    assert_self_contained(page)
    assert charts == parse(page).tags.count("svg")


def test_database_text_is_escaped(history_db: Path, tmp_path: Path) -> None:
    """An identity name with markup (from the database) appears escaped, never as markup."""
    path = tmp_path / "monitor.db"
    shutil.copy(history_db, path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute(
            "UPDATE identity_state SET identity = '<script>x</script>' WHERE identity = 'flaky-app'"
        )
        connection.execute(
            "UPDATE probe_stats_daily SET identity = '<script>x</script>' "
            "WHERE identity = 'flaky-app'"
        )
    connection.close()
    result = build(board, path, context(configured=False))
    page = html.render(result, zone=UTC)
    assert "<script>" not in page
    assert "&lt;script&gt;x&lt;/script&gt;" in page
    assert_self_contained(page)

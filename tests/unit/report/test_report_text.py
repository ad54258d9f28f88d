"""The terminal table: 100 columns unless the terminal is wider, colour only when asked, honest
numbers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from monitor.report.model import Column, Table, ViewResult, short_duration
from monitor.report.render import text
from monitor.report.render.values import human, percent

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _result(rows: list[dict[str, object]], marks: list[dict[str, str]] | None = None) -> ViewResult:
    columns = (
        Column("identity", "IDENTITY", shrink=1, min_width=10),
        Column("state", "STATE", "state", shrink=1, min_width=8),
        Column("at", "AT", "time"),
        Column("share", "SHARE", "fraction"),
        Column("for_seconds", "FOR", "duration"),
        Column("note", "NOTE", shrink=2, min_width=6),
        Column("hidden", "HIDDEN", terminal=False),
    )
    return ViewResult(
        view="test",
        title="Test",
        generated_at=NOW,
        since=NOW - timedelta(days=1),
        until=NOW,
        tables=(Table("t", "T", columns, tuple(rows), tuple(marks or ())),),  # type: ignore[arg-type]
        primary="t",
        notes=("a note that is long enough to need wrapping " * 4,),
    )


def test_lines_fit_100_columns_with_long_values() -> None:
    """Very long identity names and notes are cut with an ellipsis; no line passes 100."""
    row = {
        "identity": "x" * 80,
        "state": "credential_expired (held)",
        "at": NOW,
        "share": 0.5,
        "for_seconds": timedelta(hours=3),
        "note": "n" * 200,
        "hidden": "never on a terminal",
    }
    output = text.render(_result([row]), zone=UTC)
    assert max(len(line) for line in output.splitlines()) <= 100
    assert "…" in output
    assert "never on a terminal" not in output
    narrow = text.render(_result([row]), zone=UTC, width=60, ellipsis="~")
    assert max(len(line) for line in narrow.splitlines()) <= 60


def test_a_wider_terminal_shows_long_states_and_notes_whole() -> None:
    """At 200 columns nothing of a 120-character note or a long state is cut, and no line
    passes 200; at the default width the same row is cut."""
    row = {
        "identity": "sales-sync",
        "state": "credential_expired (held) since the secret was rotated",
        "at": NOW,
        "share": 0.5,
        "for_seconds": timedelta(hours=3),
        "note": "Add a new client secret to the app registration " + "n" * 40,
    }

    wide = text.render(_result([row]), zone=UTC, width=200)
    default = text.render(_result([row]), zone=UTC)

    assert max(len(line) for line in wide.splitlines()) <= 200
    assert str(row["note"]) in wide
    assert str(row["state"]) in wide
    assert str(row["note"]) not in default


def test_colour_only_when_asked() -> None:
    """Marked cells are coloured when colour is on; never otherwise; widths ignore codes."""
    rows = [{"identity": "a", "state": "credential_invalid"}, {"identity": "b", "state": "ok"}]
    marks = [{"state": "critical"}, {"state": "ok"}]
    plain = text.render(_result(rows, marks), zone=UTC)
    coloured = text.render(_result(rows, marks), zone=UTC, colour=True)
    assert ANSI.search(plain) is None
    assert "\x1b[1;31mcredential_invalid" in coloured
    assert plain == ANSI.sub("", coloured)


def test_empty_table_says_so() -> None:
    """A table without rows prints its empty message."""
    assert "(nothing to show)" in text.render(_result([]), zone=UTC)


def test_percent_never_rounds_up_to_100() -> None:
    """99.96% shows as 99.9%, not 100%; only all-good is 100%."""
    assert "99.9%" == percent(0.9996)
    assert "100%" == percent(1.0)
    assert "95.8%" == percent(276 / 288)
    assert "0.0%" == percent(0.0)


def test_human_values() -> None:
    """Times are short within the year and dated otherwise; durations in two units at most."""
    column = Column("at", "AT", "time")
    assert "03-14 09:05" == human(
        datetime(2026, 3, 14, 9, 5, tzinfo=UTC), column, zone=UTC, now=NOW
    )
    assert "2025-12-31" == human(
        datetime(2025, 12, 31, 9, 5, tzinfo=UTC), column, zone=UTC, now=NOW
    )
    assert "-" == human(None, column, zone=UTC, now=NOW)
    assert "3d 4h" == short_duration(timedelta(days=3, hours=4, minutes=5))
    assert "5h 10m" == short_duration(timedelta(hours=5, minutes=10, seconds=3))
    assert "42m" == short_duration(timedelta(minutes=42))
    assert "7s" == short_duration(timedelta(seconds=7))

"""An identity's history: periods of one outcome, failure durations, window boundaries."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from report_kit import NOW, build, context, opened

from monitor.report.errors import ReportError
from monitor.report.render import machine
from monitor.report.views import history
from monitor.report.views.common import Options

OUTAGE_START = NOW - timedelta(days=10)
OUTAGE_END = NOW - timedelta(days=9)
FIRST = NOW - timedelta(days=12)


def test_history_periods_and_failure_duration(history_db: Path) -> None:
    """The secret outage is one period of a day with its 12 probes and the causing message;
    the ok periods around it have the rest; the last one is still going on."""
    result = build(history, history_db, context(identities={"sales-sync"}))
    periods = [row for row in result.table("periods").rows if row["environment"] == "contoso-prod"]
    assert [
        (FIRST, OUTAGE_START, "ok", 24, False),
        (OUTAGE_START, OUTAGE_END, "credential_invalid", 12, False),
        (OUTAGE_END, None, "ok", 108, True),
    ] == [
        (row["start"], row["end"], row["outcome"], row["probes"], row["ongoing"]) for row in periods
    ]
    outage = periods[1]
    assert timedelta(days=1) == outage["duration_seconds"]
    assert "AADSTS7000215: Invalid client secret provided." == outage["detail"]
    assert (7000215, "definitive") == (outage["aadsts_code"], outage["nature"])
    summary = {row["environment"]: row for row in result.table("summary").rows}
    prod = summary["contoso-prod"]
    assert (132 / 144, timedelta(days=1), 1, 3, 144) == (
        prod["availability"],
        prod["down_seconds"],
        prod["failures"],
        prod["changes"],
        prod["probes"],
    )
    assert (1.0, timedelta(0), 0) == (
        summary["contoso-test"]["availability"],
        summary["contoso-test"]["down_seconds"],
        summary["contoso-test"]["failures"],
    )


def test_history_environment_filter(history_db: Path) -> None:
    """--environment keeps only that environment's periods."""
    result = build(
        history, history_db, context(identities={"sales-sync"}, environments={"contoso-test"})
    )
    assert {"contoso-test"} == {row["environment"] for row in result.table("periods").rows}


def test_history_window_starting_at_a_change_includes_it(history_db: Path) -> None:
    """--since exactly at the outage's start includes the change (the start is inclusive)."""
    result = build(
        history,
        history_db,
        context(identities={"sales-sync"}, environments={"contoso-prod"}, since=OUTAGE_START),
    )
    periods = result.table("periods").rows
    assert ["credential_invalid", "ok"] == [row["outcome"] for row in periods]
    assert OUTAGE_START == periods[0]["start"]


def test_history_window_ending_at_a_change_excludes_it(history_db: Path) -> None:
    """--until exactly at the outage's start excludes the change (the end is exclusive): the
    window's last period is ok and ended at the change after the window."""
    result = build(
        history,
        history_db,
        context(
            identities={"sales-sync"},
            environments={"contoso-prod"},
            since=FIRST,
            until=OUTAGE_START,
        ),
    )
    [period] = result.table("periods").rows
    assert ("ok", FIRST, OUTAGE_START, 24, False) == (
        period["outcome"],
        period["start"],
        period["end"],
        period["probes"],
        period["ongoing"],
    )
    [summary] = result.table("summary").rows
    assert (1.0, timedelta(0)) == (summary["availability"], summary["down_seconds"])


def test_history_period_begun_before_the_window(history_db: Path) -> None:
    """A window inside the outage shows the outage period with its real start, counts only
    the window's probes, and counts the window's time as down."""
    since = OUTAGE_START + timedelta(hours=6)
    result = build(
        history,
        history_db,
        context(
            identities={"sales-sync"},
            environments={"contoso-prod"},
            since=since,
            until=since + timedelta(hours=6),
        ),
    )
    [period] = result.table("periods").rows
    assert (OUTAGE_START, OUTAGE_END, 3) == (period["start"], period["end"], period["probes"])
    [summary] = result.table("summary").rows
    assert (0.0, timedelta(hours=6), 0) == (
        summary["availability"],
        summary["down_seconds"],
        summary["failures"],
    )


def test_history_transient_failures_are_unverified_not_down(history_db: Path) -> None:
    """Unreachable and throttled periods count as unverified time, never as downtime."""
    result = build(history, history_db, context(identities={"flaky-app"}))
    [summary] = result.table("summary").rows
    assert (1.0, timedelta(0), timedelta(hours=6), 3) == (
        summary["availability"],
        summary["down_seconds"],
        summary["unverified_seconds"],
        summary["failures"],
    )


def test_history_held_results(history_db: Path) -> None:
    """The locked account's period counts its attempted and held results."""
    result = build(history, history_db, context(identities={"dataverse-sync"}, days=1))
    last = result.table("periods").rows[-1]
    assert ("account_locked", 3, True, None) == (
        last["outcome"],
        last["probes"],
        last["ongoing"],
        last["end"],
    )
    assert timedelta(hours=6) == last["duration_seconds"]


def test_history_needs_exactly_one_identity(history_db: Path) -> None:
    """Without --identity, or with two, the history is refused with a one-line error."""
    with opened(history_db) as database, pytest.raises(ReportError, match="exactly one"):
        history.build(database, context(), Options())
    with opened(history_db) as database, pytest.raises(ReportError, match="exactly one"):
        history.build(database, context(identities={"a", "b"}), Options())


def test_history_json_and_csv_round_trip(history_db: Path) -> None:
    """JSON has the identity, the summary and the periods (durations in seconds); the CSV is
    the periods table."""
    result = build(history, history_db, context(identities={"sales-sync"}))
    document = json.loads(machine.to_json(result, zone=UTC))
    assert "sales-sync" == document["identity"]
    outage = document["periods"][1]
    assert (86400, "credential_invalid", "2026-03-05T12:00:00+00:00") == (
        outage["duration_seconds"],
        outage["outcome"],
        outage["start"],
    )
    assert 86400 == document["summary"][0]["down_seconds"]
    rows = list(csv.DictReader(io.StringIO(machine.to_csv(result, zone=UTC))))
    assert 4 == len(rows)
    assert ("86400", "12", "false") == (
        rows[1]["duration_seconds"],
        rows[1]["probes"],
        rows[1]["ongoing"],
    )
    assert "" == rows[2]["end"]

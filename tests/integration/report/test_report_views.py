"""The expiring, incidents, usage and posture views: with their tables, and without them
(a note saying what is missing instead of rows)."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from report_kit import NOW, build, context
from support.report_history import POSTURE, POSTURE_MISSING

from monitor.config.model import Config
from monitor.report.render import html, machine
from monitor.report.sources.posture import MISSING, NEEDS_CONFIG
from monitor.report.views import board, expiring, incidents, posture, usage
from monitor.report.views.common import Options

needs_posture = pytest.mark.skipif(not POSTURE, reason=POSTURE_MISSING)
PASSWORD = "the password (changed 2026-01-24, 90-day policy of contoso.com)"


@pytest.fixture(scope="module")
def bare_db(history_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The history without any feature table (as before those features' migrations)."""
    path = tmp_path_factory.mktemp("bare") / "monitor.db"
    shutil.copy(history_db, path)
    connection = sqlite3.connect(path)
    try:
        tables = [
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        foundation = {
            "alembic_version",
            "run",
            "probe_result",
            "identity_state",
            "state_change",
            "lockout_guard",
            "probe_stats_daily",
        }
        with connection:
            for table in tables:
                if table not in foundation and not table.startswith("sqlite_"):
                    connection.execute(f'DROP TABLE "{table}"')
    finally:
        connection.close()
    return path


def test_expiring_from_configuration_only(bare_db: Path) -> None:
    """Without posture tables the calendar still has the configured certificate file's date,
    and says what is missing."""
    result = build(expiring, bare_db, context())
    [row] = result.table("expiring").rows
    assert ("cert-app", "certificate", "certificate file", 10, "warning") == (
        row["identity"],
        row["kind"],
        row["source"],
        row["days_left"],
        row["level"],
    )
    assert NOW + timedelta(days=10) == row["ends_at"]
    assert any("no posture data recorded yet (requires" in note for note in result.notes)


def test_expiring_without_configuration_says_so(bare_db: Path) -> None:
    """Without a configuration there is no certificate date, and a note says why."""
    result = build(expiring, bare_db, context(configured=False))
    assert () == result.table("expiring").rows
    assert any("--config" in note for note in result.notes)


@needs_posture
def test_expiring_with_posture_rows_and_within(feature_db: Path, config: Config) -> None:
    """The posture rules' deadlines join the configured one, soonest first, each with its
    source; --within 7d keeps only the secret ending in 5 days."""
    result = build(expiring, feature_db, context(config=config))
    rows = result.table("expiring").rows
    assert [
        ("sales-sync", "client secret 'prod-2025' (in use)", "secret", "graph"),
        ("cert-app", "certificate file AB12CD34", "certificate", "certificate file"),
        ("dataverse-sync", PASSWORD, "password", "graph"),
    ] == [(row["identity"], row["what"], row["kind"], row["source"]) for row in rows]
    short = build(expiring, feature_db, context(config=config), Options(within=timedelta(days=7)))
    assert ["sales-sync"] == [row["identity"] for row in short.table("expiring").rows]
    boundary = build(
        expiring, feature_db, context(config=config), Options(within=timedelta(days=10))
    )
    # The certificate ends exactly at now + 10d: the horizon is exclusive.
    assert ["sales-sync"] == [row["identity"] for row in boundary.table("expiring").rows]


def test_expiring_filters_by_tenant_and_tag(feature_db: Path, config: Config) -> None:
    """Filters apply to deadlines through the configured tenant and tags."""
    fabrikam = build(expiring, feature_db, context(config=config, tenants={"fabrikam"}))
    assert ["cert-app"] == [row["identity"] for row in fabrikam.table("expiring").rows]
    tagged = build(expiring, feature_db, context(config=config, tagged={"cert-app"}))
    assert ["cert-app"] == [row["identity"] for row in tagged.table("expiring").rows]
    nobody = build(expiring, feature_db, context(config=config, tagged={"flaky-app"}))
    assert () == nobody.table("expiring").rows


@needs_posture
def test_expiring_json_and_csv_round_trip(feature_db: Path, config: Config) -> None:
    """JSON and CSV carry the end date, days left and source of every row."""
    result = build(expiring, feature_db, context(config=config))
    document = json.loads(machine.to_json(result, zone=UTC))
    assert [5, 10, 40] == [row["days_left"] for row in document["expiring"]]
    assert "2026-03-20T12:00:00+00:00" == document["expiring"][0]["ends_at"]
    rows = list(csv.DictReader(io.StringIO(machine.to_csv(result, zone=UTC))))
    assert ["graph", "certificate file", "graph"] == [row["source"] for row in rows]


def test_incidents_open_and_in_window(feature_db: Path) -> None:
    """--open shows the open incident; the window shows resolved ones too, open first."""
    result = build(incidents, feature_db, context(), Options(open_only=True))
    assert [("CM-2", "open", "critical")] == [
        (row["id"], row["status"], row["level"]) for row in result.table("incidents").rows
    ]
    everything = build(incidents, feature_db, context())
    assert ["CM-2", "CM-3", "CM-1"] == [row["id"] for row in everything.table("incidents").rows]
    assert timedelta(days=1) == everything.table("incidents").rows[2]["duration_seconds"]
    recent = build(incidents, feature_db, context(days=2))
    assert ["CM-2"] == [row["id"] for row in recent.table("incidents").rows]


def test_incidents_filters(feature_db: Path) -> None:
    """An identity filter drops tenant-wide incidents; a tenant filter keeps them."""
    by_identity = build(incidents, feature_db, context(identities={"sales-sync"}))
    assert ["CM-1"] == [row["id"] for row in by_identity.table("incidents").rows]
    by_tenant = build(incidents, feature_db, context(tenants={"fabrikam"}))
    assert [("CM-3", "(tenant fabrikam)")] == [
        (row["id"], row["identity"]) for row in by_tenant.table("incidents").rows
    ]


def test_incidents_csv_round_trip(feature_db: Path) -> None:
    """The incidents CSV parses back with ids, levels and an empty resolved time when open."""
    result = build(incidents, feature_db, context())
    rows = list(csv.DictReader(io.StringIO(machine.to_csv(result, zone=UTC))))
    assert [("CM-2", ""), ("CM-3", "2026-03-10T12:00:00+00:00")] == [
        (row["id"], row["resolved_at"]) for row in rows[:2]
    ]


def test_usage_share_and_peak(feature_db: Path) -> None:
    """The newest day's share and the window's peak, with the chart series."""
    result = build(usage, feature_db, context())
    [row] = result.table("usage").rows
    assert (4500, 5000, 0.9, 0.9) == (
        row["requests"],
        row["allocation"],
        row["share"],
        row["peak_share"],
    )
    [chart] = result.charts
    assert 7 == len(chart.series[0].points)  # type: ignore[union-attr]
    document = json.loads(machine.to_json(result, zone=UTC))
    assert 0.9 == document["usage"][0]["share"]


@needs_posture
def test_posture_findings(feature_db: Path, config: Config) -> None:
    """The posture view lists the posture rules' findings, worst first, with the
    classification and licences (a password identity also gets the password sign-in advice);
    the CSV parses back with the remedy."""
    result = build(posture, feature_db, context(config=config))
    rows = result.table("posture").rows
    assert [
        ("sales-sync", "critical", "credential_expiring", ""),
        ("dataverse-sync", "info", "identity_type", "ENTERPRISEPACK"),
        ("dataverse-sync", "info", "password_expiring", "ENTERPRISEPACK"),
    ] == [(row["identity"], row["severity"], row["kind"], row["licences"]) for row in rows]
    parsed = list(csv.DictReader(io.StringIO(machine.to_csv(result, zone=UTC))))
    assert parsed[0]["remedy"]
    assert "2026-03-20T12:00:00+00:00" == parsed[0]["deadline"]


@needs_posture
def test_posture_needs_the_configuration(feature_db: Path) -> None:
    """Without a configuration the posture rules cannot run: a note says so."""
    result = build(posture, feature_db, context(configured=False))
    assert () == result.table("posture").rows
    assert [NEEDS_CONFIG] == list(result.notes)


@needs_posture
def test_posture_without_any_directory_read(history_db: Path, config: Config) -> None:
    """A posture table without any fact yet: the note says no posture data is recorded."""
    result = build(posture, history_db, context(config=config))
    assert () == result.table("posture").rows
    assert [MISSING] == list(result.notes)


@pytest.mark.parametrize(
    ("view", "needle"),
    [
        (incidents, "no incidents recorded yet (requires the alerting migration"),
        (usage, "no usage data recorded yet (requires the usage migration"),
        (posture, "no posture data recorded yet (requires the posture migration"),
    ],
)
def test_views_without_their_tables_say_what_is_missing(
    bare_db: Path, view: object, needle: str
) -> None:
    """Without the feature's tables a view has no rows and one note naming the migration."""
    result = build(view, bare_db, context())
    assert () == result.tables[0].rows
    assert [note for note in result.notes if needle in note]


def test_board_without_feature_tables(bare_db: Path) -> None:
    """The board still works without feature tables: no usage share, no incident count."""
    result = build(board, bare_db, context())
    row = next(row for row in result.table("identities").rows if row["identity"] == "sales-sync")
    assert (None, None) == (row["usage_share"], row["open_incidents"])
    assert 3 <= len(result.notes)


def test_unexpected_table_shape_is_a_note(bare_db: Path, tmp_path: Path) -> None:
    """A feature table without the columns the report reads gives a note, not an error."""
    path = tmp_path / "monitor.db"
    shutil.copy(bare_db, path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("CREATE TABLE usage_daily (identity TEXT, day TEXT)")
    connection.close()
    result = build(usage, path, context())
    assert ["lacks"] == [word for word in result.notes[0].split() if word == "lacks"]


def _us(value: object) -> int:
    from datetime import datetime

    assert isinstance(value, datetime)
    return int((value - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)


@needs_posture
def test_expiring_takes_deadlines_from_open_incidents(
    feature_db: Path, tmp_path: Path, config: Config
) -> None:
    """An open expiring-credential incident adds its deadline (source: the incident); one for
    the configured certificate file's date is not listed twice; a resolved one is not listed."""
    path = tmp_path / "monitor.db"
    shutil.copy(feature_db, path)
    connection = sqlite3.connect(path)
    insert = (
        "INSERT INTO incident (id, key, kind, level, tenant, identity, environment, subject,"
        " summary, remedy, source, details, deadline, opened_at, observed_at, resolved_at)"
        " VALUES (?, ?, ?, 'warning', ?, ?, NULL, ?, '', '', ?, '{}', ?, ?, ?, ?)"
    )
    opened = _us(NOW - timedelta(days=1))
    with connection:
        connection.executemany(
            insert,
            [
                (
                    9,
                    "k9",
                    "credential_expiring",
                    "fabrikam",
                    "flaky-app",
                    "client secret 'nightly'",
                    "graph",
                    _us(NOW + timedelta(days=20)),
                    opened,
                    opened,
                    None,
                ),
                (
                    10,
                    "k10",
                    "credential_expiring",
                    "fabrikam",
                    "cert-app",
                    "certificate AB12CD34",
                    "certificate file",
                    _us(NOW + timedelta(days=10)),
                    opened,
                    opened,
                    None,
                ),
                (
                    11,
                    "k11",
                    "credential_expiring",
                    "fabrikam",
                    "flaky-app",
                    "client secret 'gone'",
                    "graph",
                    _us(NOW + timedelta(days=3)),
                    opened,
                    opened,
                    opened,
                ),
            ],
        )
    connection.close()
    result = build(expiring, path, context(config=config))
    rows = [(row["identity"], row["what"], row["source"]) for row in result.table("expiring").rows]
    assert [
        ("sales-sync", "client secret 'prod-2025' (in use)", "graph"),
        ("cert-app", "certificate file AB12CD34", "certificate file"),
        ("flaky-app", "client secret 'nightly'", "incident CM-9"),
        ("dataverse-sync", PASSWORD, "graph"),
    ] == rows


@needs_posture
def test_levels_use_the_words_of_findings_and_incidents(
    feature_db: Path, tmp_path: Path, config: Config
) -> None:
    """A deadline 20 days away and an info incident are "info" in every output of the report
    (JSON, CSV, the HTML class), the word findings, incidents and channel severities use."""
    path = tmp_path / "monitor.db"
    shutil.copy(feature_db, path)
    connection = sqlite3.connect(path)
    opened = _us(NOW - timedelta(days=1))
    with connection:
        connection.execute(
            "INSERT INTO incident (id, key, kind, level, tenant, identity, environment, subject,"
            " summary, remedy, source, details, deadline, opened_at, observed_at, resolved_at)"
            " VALUES (12, 'k12', 'credential_expiring', 'info', 'fabrikam', 'flaky-app', NULL,"
            " 'client secret ''nightly''', '', '', 'graph', '{}', ?, ?, ?, NULL)",
            (_us(NOW + timedelta(days=20)), opened, opened),
        )
    connection.close()
    calendar = build(expiring, path, context(config=config))
    [nightly] = [row for row in calendar.table("expiring").rows if row["identity"] == "flaky-app"]
    assert ("info", 20) == (nightly["level"], nightly["days_left"])
    [parsed] = [
        row
        for row in csv.DictReader(io.StringIO(machine.to_csv(calendar, zone=UTC)))
        if row["identity"] == "flaky-app"
    ]
    assert "info" == parsed["level"]
    listed = build(incidents, path, context())
    document = json.loads(machine.to_json(listed, zone=UTC))
    [info] = [row for row in document["incidents"] if row["id"] == "CM-12"]
    assert "info" == info["level"]
    page = html.render(calendar, zone=UTC)
    assert ".info{color:" in page
    assert 'class="info"' in page
    assert "notice" not in json.dumps(document) + machine.to_csv(calendar, zone=UTC) + page

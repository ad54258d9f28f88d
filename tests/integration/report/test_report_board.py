"""The status board on the known history: order, figures, filters, and JSON/CSV round trips."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from report_kit import NOW, build, context
from support.report_history import POSTURE, POSTURE_MISSING

from monitor.config.model import Config
from monitor.report.render import machine
from monitor.report.views import board


def _rows(path: Path, **kwargs: Any) -> dict[str, dict[str, object]]:
    result = build(board, path, context(**kwargs))
    return {str(row["identity"]): dict(row) for row in result.table("identities").rows}


def test_board_puts_problems_first(history_db: Path) -> None:
    """The held, locked identity comes first, then the certificate expiring in 10 days, then
    the healthy identities by name."""
    result = build(board, history_db, context())
    names = [row["identity"] for row in result.table("identities").rows]
    assert ["dataverse-sync", "cert-app", "flaky-app", "sales-sync"] == names


def test_board_figures(history_db: Path) -> None:
    """State, since, last success, availability and the configured certificate's deadline are
    what the history implies; unverified results are not downtime."""
    rows = _rows(history_db)
    locked = rows["dataverse-sync"]
    assert "account_locked (held)" == locked["state"]
    assert NOW - timedelta(hours=6) == locked["state_since"]
    assert NOW - timedelta(hours=8) == locked["last_success"]
    assert 141 / 144 == locked["availability"]
    assert "account_locked" == locked["held"]
    sales = rows["sales-sync"]
    assert (276 / 288, 12, 0) == (sales["availability"], sales["down"], sales["unverified"])
    assert "contoso-prod contoso-test" == sales["environments"]
    assert 2 == sales["environments_ok"]
    flaky = rows["flaky-app"]
    assert (1.0, 3, 144) == (flaky["availability"], flaky["unverified"], flaky["probes"])
    cert = rows["cert-app"]
    assert NOW + timedelta(days=10) == cert["deadline_at"]
    assert ("cert 10d", "certificate file") == (cert["deadline"], cert["deadline_source"])
    assert 1.0 == cert["availability"]  # an upcoming expiry is not downtime


def test_board_window_limits_availability(history_db: Path) -> None:
    """A window that ends before the secret outage (whole UTC days of rollups) shows 100%."""
    rows = _rows(history_db, until=NOW - timedelta(days=11), days=1)
    assert 1.0 == rows["sales-sync"]["availability"]


def test_board_filters(history_db: Path) -> None:
    """Tenant, environment, identity and tag filters narrow the rows (and an environment filter
    narrows the environments counted)."""
    assert {"cert-app", "flaky-app"} == set(_rows(history_db, tenants={"fabrikam"}))
    only_test = _rows(history_db, environments={"contoso-test"})
    assert {"sales-sync"} == set(only_test)
    assert 1.0 == only_test["sales-sync"]["availability"]
    assert {"flaky-app"} == set(_rows(history_db, identities={"flaky-app"}))
    tagged = _rows(history_db, tagged={"sales-sync", "dataverse-sync"})
    assert {"sales-sync", "dataverse-sync"} == set(tagged)


def test_board_lists_configured_identities_never_probed(history_db: Path) -> None:
    """An identity in the configuration without any result shows as "never probed"."""
    from dataclasses import replace

    from support.report_history import metas

    ctx = context()
    configured = dict(metas(NOW))
    configured["new-app"] = replace(configured["flaky-app"], name="new-app")
    result = build(board, history_db, replace(ctx, configured=configured))
    row = next(row for row in result.table("identities").rows if row["identity"] == "new-app")
    assert ("never probed", None, None) == (row["state"], row["availability"], row["state_since"])


def test_board_json_round_trip(history_db: Path) -> None:
    """The JSON carries every column, times as ISO 8601 with offset, fractions as numbers."""
    result = build(board, history_db, context())
    document = json.loads(machine.to_json(result, zone=UTC))
    assert "board" == document["view"]
    rows = {row["identity"]: row for row in document["identities"]}
    locked = rows["dataverse-sync"]
    assert "2026-03-15T06:00:00+00:00" == locked["state_since"]
    assert 0.979167 == locked["availability"]
    assert "critical" == locked["level"]
    assert "2026-03-25T12:00:00+00:00" == rows["cert-app"]["deadline_at"]
    assert set(column.key for column in board.COLUMNS) == set(locked)


def test_board_csv_round_trip(history_db: Path) -> None:
    """The CSV has a header of column keys and one parsable row per identity."""
    result = build(board, history_db, context())
    parsed = list(csv.DictReader(io.StringIO(machine.to_csv(result, zone=UTC))))
    assert [column.key for column in board.COLUMNS] == list(parsed[0])
    rows = {row["identity"]: row for row in parsed}
    assert "account_locked (held)" == rows["dataverse-sync"]["state"]
    assert abs(276 / 288 - float(rows["sales-sync"]["availability"])) < 1e-6
    assert "" == rows["flaky-app"]["deadline_at"]
    assert "2026-03-15T04:00:00+00:00" == rows["dataverse-sync"]["last_success"]


def test_board_reads_incidents_and_usage(feature_db: Path) -> None:
    """With incident and usage rows: the usage share and open incident counts."""
    rows = _rows(feature_db)
    assert (0.9, 0) == (rows["sales-sync"]["usage_share"], rows["sales-sync"]["open_incidents"])
    assert 1 == rows["dataverse-sync"]["open_incidents"]
    assert 0 == rows["flaky-app"]["open_incidents"]  # its tenant-wide incident is resolved


@pytest.mark.skipif(not POSTURE, reason=POSTURE_MISSING)
def test_board_reads_posture(feature_db: Path, config: Config) -> None:
    """With posture facts: the nearest deadline as the posture rules see it, the
    classification and licences; no note about missing data."""
    rows = _rows(feature_db, config=config)
    sales = rows["sales-sync"]
    assert ("client secret 'prod-2025' (in use)", "graph", "secret 5d") == (
        sales["deadline_what"],
        sales["deadline_source"],
        sales["deadline"],
    )
    locked = rows["dataverse-sync"]
    assert ("not classified (Dataverse not observed)", "ENTERPRISEPACK", "pwd 40d") == (
        locked["classification"],
        locked["licences"],
        locked["deadline"],
    )
    result = build(board, feature_db, context(config=config))
    assert all("requires" not in note for note in result.notes)

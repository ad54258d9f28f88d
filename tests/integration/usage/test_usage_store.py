"""The usage tables in a real SQLite database: idempotent imports, pushed counts, usage views."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.usage import (
    INVENTORY_APP,
    LICENSED_REPORT,
    NAMED_USER,
    NON_LICENSED_REPORT,
    POOL_SIZE,
    SALES_APP,
)

from monitor.config import Config, load_config
from monitor.findings.usage import usage_findings
from monitor.model.observations import Licence, Observation, ServicePrincipal, UserLicences
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RateLimit, RunRecord
from monitor.store import Store
from monitor.usage.csv_import import parse_report
from monitor.usage.gather import gather_usage, refresh_usage_daily

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
TENANT_ID = "3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70"
INVENTORY_OBJECT = "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"  # its service principal

CONFIG = f"""
[database]
path = "state/monitor.db"

[tenants.contoso]
tenant_id = "{TENANT_ID}"

[environments.contoso-prod]
tenant = "contoso"
url = "https://contoso.crm.dynamics.com"

[identities.sales-sync]
kind = "application"
tenant = "contoso"
client_id = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"
secret = {{ env = "SALES_SECRET" }}
environments = ["contoso-prod"]
object_id = "{SALES_APP}"

[identities.inventory-sync]
kind = "application"
tenant = "contoso"
client_id = "{INVENTORY_APP}"
secret = {{ env = "SALES_SECRET" }}
environments = ["contoso-prod"]

[identities.dataverse-sync]
kind = "user"
tenant = "contoso"
client_id = "2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a"
username = "svc-sync@contoso.com"
password = {{ env = "SALES_SECRET" }}
environments = ["contoso-prod"]
object_id = "{NAMED_USER}"
licences = ["DYN365_ENTERPRISE_SALES"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    path = tmp_path / "monitor.toml"
    path.write_text(CONFIG)
    return load_config(path, environ={"SALES_SECRET": "a-test-secret"})


@pytest.fixture
def store(config: Config) -> Any:
    with Store.open(config.database.path) as opened:
        yield opened


def count(path: Path, table: str) -> int:
    with sqlite3.connect(path) as connection:
        (number,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(number)


def test_import_then_reimport_adds_nothing(config: Config, store: Store) -> None:
    """The first import stores every row; the same file again is recognised and changes
    nothing; the same rows in another file (another hash) add nothing either."""
    report = parse_report(NON_LICENSED_REPORT.read_bytes())

    first = store.usage.import_usage_report(
        report, tenant="contoso", file_name="a.csv", imported_at=NOW
    )
    again = store.usage.import_usage_report(
        report, tenant="contoso", file_name="a.csv", imported_at=NOW
    )
    copy = parse_report(NON_LICENSED_REPORT.read_bytes() + b"\n")
    same_rows = store.usage.import_usage_report(
        copy, tenant="contoso", file_name="b.csv", imported_at=NOW
    )

    assert (False, 8, 8, 0) == (
        first.already_imported,
        first.record.rows,
        first.record.new_rows,
        first.record.updated_rows,
    )
    assert (True, first.record.id) == (again.already_imported, again.record.id)
    assert (False, 0, 0, 8) == (
        same_rows.already_imported,
        same_rows.record.new_rows,
        same_rows.record.updated_rows,
        same_rows.unchanged_rows,
    )
    assert 8 == count(config.database.path, "usage_report_row")
    assert 2 == count(config.database.path, "usage_import")


def test_a_later_download_replaces_a_days_numbers(config: Config, store: Store) -> None:
    """A row with an existing key but new quantities updates it in place (a day completed)."""
    data = NON_LICENSED_REPORT.read_bytes()
    store.usage.import_usage_report(
        parse_report(data), tenant="contoso", file_name="a", imported_at=NOW
    )
    changed = data.replace(b"3/2/2026 12:00:00 AM,201877", b"3/2/2026 12:00:00 AM,250000")

    outcome = store.usage.import_usage_report(
        parse_report(changed), tenant="contoso", file_name="b", imported_at=NOW
    )

    assert (0, 1) == (outcome.record.new_rows, outcome.record.updated_rows)
    rows = store.usage.report_usage(date(2026, 3, 2))
    sales = next(r for r in rows if r.caller_id == SALES_APP)
    assert 250_000 + 4_410 == sales.consumed


def test_the_same_rows_for_another_tenant_are_kept_apart(config: Config, store: Store) -> None:
    """The key includes the tenant."""
    report = parse_report(LICENSED_REPORT.read_bytes())
    store.usage.import_usage_report(report, tenant="contoso", file_name="a", imported_at=NOW)
    copy = parse_report(LICENSED_REPORT.read_bytes() + b"\n")

    outcome = store.usage.import_usage_report(
        copy, tenant="fabrikam", file_name="b", imported_at=NOW
    )

    assert 6 == outcome.record.new_rows


def test_report_usage_sums_environments_and_meters(config: Config, store: Store) -> None:
    """Per caller and day: environments and meters added up, the entitlement kept."""
    for path in (LICENSED_REPORT, NON_LICENSED_REPORT):
        store.usage.import_usage_report(
            parse_report(path.read_bytes()), tenant="contoso", file_name=path.name, imported_at=NOW
        )

    rows = {(r.report, r.caller_id, r.day): r for r in store.usage.report_usage(date(2026, 3, 1))}

    named = rows[("licensed", NAMED_USER, date(2026, 3, 1))]
    assert (32_100, 40_000) == (named.consumed, named.entitled)
    sales = rows[("non_licensed", SALES_APP, date(2026, 3, 2))]
    assert (206_287, POOL_SIZE, "Non-Interactive/Application") == (
        sales.consumed,
        sales.entitled,
        sales.caller_type,
    )


def test_recorded_counts_replace_and_are_never_negative(store: Store) -> None:
    """Recording a day again replaces the count and returns the old one."""
    day = date(2026, 3, 3)

    assert store.usage.record_usage("x", "prod", "contoso", day, 100, NOW) is None
    assert 100 == store.usage.record_usage("x", "prod", "contoso", day, 250, NOW)
    assert [250] == [r.requests for r in store.usage.recorded_usage(day)]
    with pytest.raises(ValueError, match="negative"):
        store.usage.record_usage("x", "prod", "contoso", day, -1, NOW)


def probe(identity: str, seconds: int, **fields: Any) -> ProbeResult:
    values: dict[str, Any] = {
        "identity": identity,
        "environment": "contoso-prod",
        "tenant": "contoso",
        "credential_type": "client_secret",
        "started_at": NOW + timedelta(seconds=seconds),
        "duration_ms": 100,
        "outcome": Outcome.OK,
        "stage": "dataverse",
        "token_source": "identity_provider",
        "rate_limit": RateLimit(5000, 1_000_000),
    }
    values.update(fields)
    return ProbeResult(**values)


def record(store: Store, *results: ProbeResult) -> None:
    run = RunRecord(
        run_id=f"run-{results[0].started_at.timestamp()}",
        kind="check",
        started_at=results[0].started_at,
    )
    store.probes.record_results(run, list(results))


def test_result_views_for_usage(store: Store) -> None:
    """Newest attempted result per pair, throttled answers, and daily probe tallies."""
    record(store, probe("sales-sync", 0), probe("dataverse-sync", 0, credential_type="password"))
    record(
        store,
        probe(
            "sales-sync",
            60,
            outcome=Outcome.THROTTLED,
            http_status=429,
            rate_limit=RateLimit(None, None, 300),
        ),
        probe(
            "dataverse-sync",
            60,
            credential_type="password",
            attempted=False,
            stage="guard",
            token_source=None,
        ),
    )
    record(
        store,
        probe(
            "sales-sync", 86_400, stage="token", outcome=Outcome.SERVICE_ERROR, token_source=None
        ),
    )

    latest = store.probes.latest_attempted_results(NOW, ["sales-sync", "dataverse-sync"])
    assert [("dataverse-sync", 0), ("sales-sync", 86_400)] == [
        (r.identity, int((r.started_at - NOW).total_seconds())) for r in latest
    ]
    assert [] == store.probes.latest_attempted_results(NOW + timedelta(days=2))
    (throttled,) = store.probes.throttled_results(NOW)
    assert (429, 300) == (throttled.http_status, throttled.rate_limit.retry_after_seconds)
    tallies = {(t.identity, t.day): t for t in store.probes.probe_tallies(NOW.date())}
    assert (2, 2, 0) == (
        tallies[("sales-sync", NOW.date())].attempted,
        tallies[("sales-sync", NOW.date())].signed_in,
        tallies[("sales-sync", NOW.date())].held,
    )
    next_day = tallies[("sales-sync", NOW.date() + timedelta(days=1))]
    assert (1, 0) == (next_day.attempted, next_day.signed_in)
    user = tallies[("dataverse-sync", NOW.date())]
    assert ("password", 1, 1, 1) == (
        user.credential_type,
        user.attempted,
        user.signed_in,
        user.held,
    )


def test_gather_usage_from_imported_reports(config: Config, store: Store) -> None:
    """Both reports imported: the named user is judged against 40,000, the application users
    go to the pool of 1,100,000 (stated by the report), unmatched callers are listed."""
    for path in (LICENSED_REPORT, NON_LICENSED_REPORT):
        store.usage.import_usage_report(
            parse_report(path.read_bytes()), tenant="contoso", file_name=path.name, imported_at=NOW
        )

    report = gather_usage(config, store, NOW)

    usages = {usage.identity: usage for usage in report.identities}
    named = usages["dataverse-sync"]
    assert (40_000, "licences") == (named.allocation.requests, named.allocation.basis)
    assert [(date(2026, 3, 1), 32_100), (date(2026, 3, 2), 33_900)] == [
        (d.day, d.requests) for d in named.series
    ]
    assert named.projection is not None
    assert "licensed-user report" == named.series[-1].source
    assert ("tenant_pool", None) == (
        usages["sales-sync"].allocation.basis,
        usages["sales-sync"].projection,
    )
    assert [206_287] == [d.requests for d in usages["sales-sync"].series[-1:]]
    assert [96_120, 88_004] == [d.requests for d in usages["inventory-sync"].series]  # client id
    (pool,) = report.pools
    assert (POOL_SIZE, "report") == (pool.allocation.requests, pool.allocation.basis)
    assert [300_221, 314_164] == [d.requests for d in pool.series]
    assert ["sales-sync", "inventory-sync", None] == [c.identity for c in pool.top_callers]
    assert {"a3c1b2d4-0e9f-4a8b-8c7d-6e5f4a3b2c1d", ""} == {
        c.caller_id for c in report.unmatched_callers
    }
    assert ("configuration (identities.dataverse-sync.licences)",) == report.licence_sources


def test_findings_and_usage_daily_from_a_real_database(config: Config, store: Store) -> None:
    """The named user at 85% yesterday is a warning; usage_daily gets one row per identity and
    day, read by a read-only reader."""
    store.usage.import_usage_report(
        parse_report(LICENSED_REPORT.read_bytes()), tenant="contoso", file_name="l", imported_at=NOW
    )
    store.usage.record_usage(
        "dataverse-sync", "contoso-prod", "contoso", date(2026, 3, 2), 34_000, NOW
    )

    findings = usage_findings(gather_usage(config, store, NOW), config.usage, NOW)
    written = refresh_usage_daily(config, store, NOW)

    (finding,) = findings
    assert "usage:contoso/dataverse-sync/-:allocation" == finding.key
    assert "34,000 of 40,000 requests (85%) on 2026-03-02" in finding.summary
    with Store.open_readonly(config.database.path) as reader:
        days = reader.usage.usage_days(date(2026, 3, 1))
    assert [
        ("dataverse-sync", date(2026, 3, 1), 32_100, 40_000, "admin center csv"),
        ("dataverse-sync", date(2026, 3, 2), 34_000, 40_000, "integration"),
    ] == [(d.identity, d.day, d.requests, d.allocation, d.source) for d in days]
    assert len(written) == len(days)


def test_licences_observed_by_the_directory_reads_win(config: Config, store: Store) -> None:
    """When the posture store is present, the licences Graph observed for a user replace the
    configured ones, and an observed object id matches the report's caller."""
    facts = [
        Observation.of(
            UserLicences(licences=(Licence("sku-1", "DYN365_ENTERPRISE_TEAM_MEMBERS"),)),
            tenant="contoso",
            source="graph",
            observed_at=NOW,
            identity="dataverse-sync",
        ),
        Observation.of(
            ServicePrincipal(found=True, object_id=INVENTORY_OBJECT.upper()),
            tenant="contoso",
            source="graph",
            observed_at=NOW,
            identity="inventory-sync",
        ),
    ]
    store.posture.record("pass-1", facts, tenants=["contoso"], at=NOW)

    report = gather_usage(config, store, NOW)

    usages = {usage.identity: usage for usage in report.identities}
    named = usages["dataverse-sync"]
    assert (6_000, ("DYN365_ENTERPRISE_TEAM_MEMBERS",)) == (
        named.allocation.requests,
        named.licence_facts.skus if named.licence_facts else None,
    )
    assert "directory reads (Graph), licenseDetails" in named.allocation.source
    assert tuple(sorted((INVENTORY_OBJECT, INVENTORY_APP))) == usages["inventory-sync"].caller_ids

"""Posture observations in the real SQLite store: facts, change rows, disappearance, reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.model.observations import (
    Licence,
    NonInteractiveUsers,
    Observation,
    SubscribedSku,
    UserLicences,
)
from monitor.store import Store

T0 = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
T1 = T0 + timedelta(hours=6)
T2 = T0 + timedelta(hours=12)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "monitor.db") as opened:
        yield opened


def licences(*names: str, at: datetime = T0, tenant: str = "contoso") -> Observation:
    return Observation.of(
        UserLicences(tuple(Licence(f"id-{n}", n) for n in names)),
        tenant=tenant,
        identity="crm-import",
        source="graph",
        observed_at=at,
    )


def count(value: int, at: datetime = T0) -> Observation:
    return Observation.of(
        NonInteractiveUsers(value),
        tenant="contoso",
        environment="prod",
        source="dataverse",
        observed_at=at,
    )


def test_first_observations_are_changes_from_nothing(store: Store) -> None:
    """Every fact seen for the first time is a change row with no previous value."""
    changes = store.posture.record("r1", [licences("SALES"), count(3)], tenants=["contoso"], at=T0)

    assert [(None, True), (None, True)] == [(c.from_observed, c.to_observed) for c in changes]
    current = store.posture.current()
    assert [T0, T0] == [o.since for o in current]


def test_unchanged_fact_keeps_its_since_and_adds_no_change(store: Store) -> None:
    """Reading the same value again stores the observation, moves last-observed, not since."""
    store.posture.record("r1", [licences("SALES")], tenants=["contoso"], at=T0)
    changes = store.posture.record("r2", [licences("SALES", at=T1)], tenants=["contoso"], at=T1)

    (fact,) = store.posture.current()
    assert [] == changes
    assert (T0, T1) == (fact.since, fact.observed_at)
    assert 2 == store.posture.observation_count()


def test_a_removed_licence_is_a_change_row_at_its_time(store: Store) -> None:
    """When a licence disappears from the user, a change row says from what to what, when."""
    store.posture.record("r1", [licences("SALES", "APPS")], tenants=["contoso"], at=T0)
    store.posture.record("r2", [licences("APPS", at=T1)], tenants=["contoso"], at=T1)

    history = store.posture.changes(identity="crm-import")
    assert [T0, T1] == [c.at for c in history]
    last = history[-1]
    assert (("APPS", "SALES"), ("APPS",)) == (last.from_fact.names, last.to_fact.names)  # type: ignore[union-attr]
    (fact,) = store.posture.current()
    assert T1 == fact.since


def missing(kind: str, cause: str, at: datetime, **scope: str) -> Observation:
    return Observation.missing(
        kind,
        tenant="contoso",
        source="graph",
        observed_at=at,
        cause=cause,  # type: ignore[arg-type]
        reason=f"not read: {cause}",
        **scope,
    )


def test_a_failed_read_keeps_the_last_known_value(store: Store) -> None:
    """Licences read, then the observer loses User.Read.All: the licences stay as last read
    (no change row), the fact says why reading it fails now and since when."""
    store.posture.record("r1", [licences("SALES")], tenants=["contoso"], at=T0)
    changes = store.posture.record(
        "r2",
        [missing("user_licences", "permission", T1, identity="crm-import")],
        tenants=["contoso"],
        at=T1,
    )

    assert [] == changes
    (fact,) = store.posture.current()
    assert (("SALES",), "permission", 1, T1) == (
        fact.fact.names,  # type: ignore[union-attr]
        fact.cause,
        fact.failed_reads,
        fact.failing_since,
    )
    assert (T0, T0) == (fact.observed_at, fact.since)  # the value is as read at T0


def test_failed_reads_count_in_a_row_until_one_succeeds(store: Store) -> None:
    """Two reads that failed count 2 since the first; the next read that succeeds with the same
    value clears the count, and no change row was ever written."""
    store.posture.record("r1", [licences("SALES")], tenants=["contoso"], at=T0)
    for run, at in (("r2", T1), ("r3", T2)):
        store.posture.record(
            run,
            [missing("user_licences", "unreachable", at, identity="crm-import")],
            tenants=["contoso"],
            at=at,
        )
    (failing,) = store.posture.current()
    later = T2 + timedelta(minutes=5)
    changes = store.posture.record(
        "r4", [licences("SALES", at=later)], tenants=["contoso"], at=later
    )

    (fact,) = store.posture.current()
    assert ((2, T1), (0, None, None), []) == (
        (failing.failed_reads, failing.failing_since),
        (fact.failed_reads, fact.failing_since, fact.cause),
        changes,
    )
    assert [T0] == [c.at for c in store.posture.changes()]


def sku(sku_id: str, at: datetime = T0) -> Observation:
    return Observation.of(
        SubscribedSku(sku_id, f"PART_{sku_id}", enabled=3, consumed=1),
        tenant="contoso",
        source="graph",
        observed_at=at,
        subject=sku_id,
    )


def test_a_failed_read_of_a_whole_kind_keeps_every_known_fact_of_it(store: Store) -> None:
    """Graph throttles the subscribed-SKU list: both SKUs read before stay (not deleted as
    disappeared), each counting the failure; no "not observed" placeholder is added."""
    store.posture.record("r1", [sku("a"), sku("b")], tenants=["contoso"], at=T0)
    changes = store.posture.record(
        "r2", [missing("subscribed_sku", "throttled", T1)], tenants=["contoso"], at=T1
    )

    facts = store.posture.current()
    assert [] == changes
    assert [("a", 1, "throttled"), ("b", 1, "throttled")] == [
        (o.fact.sku_id, o.failed_reads, o.cause)  # type: ignore[union-attr]
        for o in facts
    ]


def test_a_failure_that_says_the_fact_is_not_there_drops_its_value(store: Store) -> None:
    """No observer any more: the licences are not kept (nothing will read them again); the
    change to "not observed" is a change row with its cause."""
    store.posture.record("r1", [licences("SALES")], tenants=["contoso"], at=T0)
    (change,) = store.posture.record(
        "r2",
        [missing("user_licences", "no_observer", T1, identity="crm-import")],
        tenants=["contoso"],
        at=T1,
    )

    assert (True, False, "no_observer") == (
        change.from_observed,
        change.to_observed,
        change.to_cause,
    )
    (fact,) = store.posture.current()
    assert (None, "no_observer", 1) == (fact.fact, fact.cause, fact.failed_reads)


def test_a_fact_never_read_counts_its_failed_reads_too(store: Store) -> None:
    """A fact whose first reads fail is "not observed" with its failures counted."""
    for run, at in (("r1", T0), ("r2", T1)):
        store.posture.record(
            run,
            [missing("user_licences", "service_error", at, identity="crm-import")],
            tenants=["contoso"],
            at=at,
        )

    (fact,) = store.posture.current()
    assert (None, 2, T0) == (fact.fact, fact.failed_reads, fact.failing_since)


def test_facts_not_seen_again_disappear_with_a_change(store: Store) -> None:
    """A fact of a read tenant missing from the new pass is deleted, with a change row; the
    facts of tenants not read are untouched."""
    store.posture.record("r1", [licences("SALES"), count(3)], tenants=["contoso"], at=T0)
    store.posture.record("r1", [licences("X", tenant="fabrikam")], tenants=["fabrikam"], at=T0)
    changes = store.posture.record("r2", [count(3, at=T1)], tenants=["contoso"], at=T1)

    (gone,) = changes
    assert (licences("SALES").key, True, None) == (
        gone.fact_key,
        gone.from_observed,
        gone.to_observed,
    )
    assert ["contoso", "fabrikam"] == sorted(o.tenant for o in store.posture.current())


def test_invalid_input_writes_nothing(store: Store) -> None:
    """A naive time or an observation of a tenant not being recorded is refused up front."""
    naive = Observation.of(
        NonInteractiveUsers(1),
        tenant="contoso",
        source="dataverse",
        observed_at=datetime(2026, 1, 1),  # noqa: DTZ001 - naive on purpose
    )
    with pytest.raises(ValueError, match="naive"):
        store.posture.record("r", [naive], tenants=["contoso"], at=T0)
    with pytest.raises(ValueError, match="not in the recorded tenants"):
        store.posture.record("r", [count(1)], tenants=["fabrikam"], at=T0)

    assert 0 == store.posture.observation_count()


def test_last_directory_reads_per_tenant(store: Store) -> None:
    """The last read of each tenant is its newest observation (an aware datetime)."""
    store.posture.record("r1", [count(1)], tenants=["contoso"], at=T0)
    store.posture.record("r2", [count(1, at=T2)], tenants=["contoso"], at=T2)

    assert {"contoso": T2} == store.posture.last_reads()


def test_old_observations_can_be_deleted_but_not_the_current_ones(store: Store) -> None:
    """Retention deletes old observations in batches; facts and changes stay; an observation a
    current fact points at is kept."""
    store.posture.record("r1", [licences("A")], tenants=["contoso"], at=T0)
    store.posture.record("r2", [licences("A", at=T1)], tenants=["contoso"], at=T1)
    store.posture.record("r3", [licences("B", at=T2)], tenants=["contoso"], at=T2)

    deleted = store.posture.delete_observations_before(T2 + timedelta(days=1), batch_rows=1)
    deleted += store.posture.delete_observations_before(T2 + timedelta(days=1), batch_rows=10)

    assert (2, 1) == (deleted, store.posture.observation_count())
    assert 2 == len(store.posture.changes())
    assert 0 == store.posture.delete_observations_before(T2 + timedelta(days=1))


def test_the_read_only_view_reads_posture(store: Store, tmp_path: Path) -> None:
    """Reports read the current facts and changes through the read-only Reader."""
    store.posture.record("r1", [licences("SALES")], tenants=["contoso"], at=T0)

    with Store.open_readonly(tmp_path / "monitor.db") as reader:
        assert ["user_licences"] == [o.kind for o in reader.posture.current()]
        assert 1 == len(reader.posture.changes(tenant="contoso", since=T0, until=T1))

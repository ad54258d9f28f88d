"""Posture observations in the real SQLite store: facts, change rows, disappearance, reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.model.observations import Licence, NonInteractiveUsers, Observation, UserLicences
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


def test_becoming_unobservable_is_a_change(store: Store) -> None:
    """Observed -> not observed (e.g. a permission revoked) is recorded with its cause."""
    store.posture.record("r1", [licences("SALES")], tenants=["contoso"], at=T0)
    missing = Observation.missing(
        "user_licences",
        tenant="contoso",
        identity="crm-import",
        source="graph",
        observed_at=T1,
        cause="permission",
        reason="the observer lacks the Graph application permission User.Read.All",
    )
    (change,) = store.posture.record("r2", [missing], tenants=["contoso"], at=T1)

    assert (True, False, "permission") == (
        change.from_observed,
        change.to_observed,
        change.to_cause,
    )
    (fact,) = store.posture.current()
    assert (None, "permission") == (fact.fact, fact.cause)
    assert "User.Read.All" in (fact.reason or "")


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

"""Building records from records: same-named fields, finding keys, classified answers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

import pytest

from monitor.http import odata_error
from monitor.model.findings import Finding, FindingKind, Level
from monitor.model.outcomes import Outcome
from monitor.model.records import same_named
from monitor.probes.classify import Failure, result_fields

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class _Source:
    name: str
    tenant: str
    colour: str


@dataclass(frozen=True)
class _Target:
    name: str
    tenant: str
    size: int
    note: str = "none"


def test_same_named_takes_given_fields_then_same_named_attributes_then_defaults() -> None:
    """Given fields win over the source's, the source fills the rest it names alike, and a
    field neither has keeps its default (the source's other attributes are ignored)."""
    target = same_named(_Target, _Source("a", "contoso", "red"), tenant="fabrikam", size=3)

    assert _Target("a", "fabrikam", 3, "none") == target


def test_same_named_fails_for_a_required_field_nobody_gives() -> None:
    """A required field that neither the source nor the caller has is an error, not a guess."""
    with pytest.raises(TypeError):
        same_named(_Target, _Source("a", "contoso", "red"))


def test_finding_create_keys_by_kind_scope_and_subject_id() -> None:
    """The key is made of kind, tenant, identity, environment and subject id, unless given;
    details are kept read-only."""
    words = {"subject": "s", "summary": "x", "remedy": "r", "observed_at": NOW, "source": "t"}
    scoped = Finding.create(
        FindingKind.USAGE,
        Level.WARNING,
        tenant="contoso",
        identity="sync",
        environment=None,
        subject_id="allocation",
        details={"a": 1},
        **words,
    )
    keyed = Finding.create(
        FindingKind.USAGE,
        Level.WARNING,
        tenant="contoso",
        identity="sync",
        environment="prod",
        key="usage:contoso/sync/-:allocation",
        **words,
    )

    assert "usage:contoso/sync/-:allocation" == scoped.key == keyed.key
    assert ("prod", MappingProxyType({"a": 1})) == (keyed.environment, scoped.details)
    with pytest.raises(TypeError):
        scoped.details["a"] = 2  # type: ignore[index]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"error": {"code": "Request_ResourceNotFound", "message": "gone"}},
            "Request_ResourceNotFound",
        ),
        ({"error": "not an object"}, None),
        ({"value": []}, None),
        (["error"], None),
        (None, None),
    ],
)
def test_odata_error_reads_only_an_error_object(body: object, expected: str | None) -> None:
    """Graph's and Dataverse's ``{"error": {...}}`` is read; anything else is no error body."""
    error = odata_error(body)

    assert expected == (None if error is None else error["code"])


def test_result_fields_of_a_failure_are_its_codes_not_its_outcome_or_message() -> None:
    """What a probe result records of a classified failure: the fields it names alike."""
    failure = Failure(Outcome.THROTTLED, "slow down", 429, 50196, "invalid_grant", "c", "t", 60)

    assert {
        "http_status": 429,
        "aadsts_code": 50196,
        "oauth_error": "invalid_grant",
        "correlation_id": "c",
        "trace_id": "t",
    } == result_fields(failure)

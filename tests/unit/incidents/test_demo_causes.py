"""The demo's own check of one incident per root cause: it must catch a cause with two
incidents, a cause without one and an incident no cause explains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

from monitor.commands.demo import _cause_mismatches, _expected_causes


@dataclass(frozen=True)
class Opened:
    label: str
    identity: str | None
    tenant: str
    key: str
    event: str = "opened"
    kind: str = "credential_broken"

    @property
    def incident(self) -> SimpleNamespace:
        return SimpleNamespace(key=self.key)


def opened_for(causes: set[tuple[str, str]]) -> list[Opened]:
    found = []
    for n, (who, cause) in enumerate(sorted(causes)):
        if who.startswith("tenant "):
            tenant = who.removeprefix("tenant ")
            found.append(Opened(f"CM-{n}", None, tenant, f"cause:{cause}:{tenant}"))
        else:
            found.append(Opened(f"CM-{n}", who, "contoso", f"cause:{cause}:contoso/{who}"))
    return found


def test_the_demo_accepts_exactly_one_incident_per_cause() -> None:
    """The causes the demo sets up, one incident each: nothing to report."""
    cycle = SimpleNamespace(transitions=opened_for(_expected_causes()), at=datetime.now(UTC))
    assert [] == _cause_mismatches(cycle)


def test_the_demo_reports_a_doubled_a_missing_and_an_unexpected_incident() -> None:
    """A second incident for crm-import's credential, none for the contoso licences, and one
    for a cause nobody set up are each one line."""
    transitions = [t for t in opened_for(_expected_causes()) if t.key != "cause:licences:contoso"]
    transitions += [
        Opened("CM-90", "crm-import", "contoso", "cause:credential:contoso/crm-import"),
        Opened("CM-91", "sales-sync", "contoso", "cause:usage:contoso/sales-sync"),
    ]
    problems = _cause_mismatches(SimpleNamespace(transitions=transitions))
    assert [
        "crm-import: 2 incidents for one credential problem",
        "sales-sync: unexpected incident CM-91 (usage)",
        "tenant contoso: no incident for its licences problem",
    ] == problems

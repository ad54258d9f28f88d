"""Named users acting as integrations: the pure rule over imported daily usage."""

from __future__ import annotations

from datetime import date, timedelta

from monitor.config.model import DiscoveryConfig
from monitor.model.usage import ReportUsage
from monitor.usage.named import named_user_suspects

BOT = "1f2e3d4c-5b6a-4789-9a8b-7c6d5e4f3a2b"
PERSON = "a3c1b2d4-0e9f-4a8b-8c7d-6e5f4a3b2c1d"
FIRST = date(2026, 11, 1)


def usage(caller: str, counts: list[int], *, report: str = "licensed") -> list[ReportUsage]:
    return [
        ReportUsage("contoso", report, caller, "User", FIRST + timedelta(days=i), count, 40_000)
        for i, count in enumerate(counts)
    ]


def test_a_user_above_the_share_on_most_days_is_listed_with_its_figures() -> None:
    """Above 80% of 40,000 on 5 of 7 days: listed with days, highest share and average; a
    person's few hundred requests a day are not."""
    rows = usage(BOT, [36_000, 34_000, 1_000, 39_000, 33_000, 2_000, 35_000]) + usage(
        PERSON, [400] * 7
    )

    found = named_user_suspects(rows, DiscoveryConfig())

    assert [(BOT, 7, 5, 97.5, 25_714, 40_000)] == [
        (s.caller_id, s.days, s.days_above, s.highest_percent, s.average_requests, s.entitled)
        for s in found
    ]


def test_a_minority_of_busy_days_or_too_few_days_is_not_listed() -> None:
    """Busy on 3 of 7 days (below 50%), or busy on only 2 reported days: not listed."""
    rows = usage(BOT, [36_000, 36_000, 36_000, 10, 10, 10, 10]) + usage(PERSON, [39_000] * 2)

    assert [] == named_user_suspects(rows, DiscoveryConfig())


def test_the_thresholds_and_the_configured_name_come_from_the_configuration() -> None:
    """A lower share finds the user; a configured identity with its object id is named; the
    non-licensed report is not judged."""
    rows = usage(PERSON, [12_000] * 4) + usage(BOT, [39_000] * 4, report="non_licensed")
    settings = DiscoveryConfig(named_user_allocation_percent=25.0)

    found = named_user_suspects(rows, settings, {("contoso", PERSON): "svc-sync"})

    assert [(PERSON, "svc-sync")] == [(s.caller_id, s.configured_as) for s in found]

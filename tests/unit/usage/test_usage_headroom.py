"""Service-protection headers: parsing missing and malformed values, and the headroom they give."""

from __future__ import annotations

from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import pytest

from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult, RateLimit
from monitor.probes.classify import parse_rate_limit
from monitor.usage.headroom import headroom_of

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
BURST = "x-ms-ratelimit-burst-remaining-xrm-requests"
TIME = "x-ms-ratelimit-time-remaining-xrm-requests"


def result(rate_limit: RateLimit, **fields: Any) -> ProbeResult:
    values: dict[str, Any] = {
        "identity": "sales-sync",
        "environment": "contoso-prod",
        "tenant": "contoso",
        "credential_type": "client_secret",
        "started_at": T0,
        "duration_ms": 80,
        "outcome": Outcome.OK,
        "stage": "dataverse",
        "rate_limit": rate_limit,
    }
    values.update(fields)
    return ProbeResult(**values)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({BURST: "5999", TIME: "1,199.99"}, RateLimit(5999, 1_199_990, None)),
        ({}, RateLimit(None, None, None)),  # both missing
        ({BURST: "", TIME: "n/a"}, RateLimit(None, None, None)),  # empty / not a number
        ({BURST: "12abc", TIME: "1199.5"}, RateLimit(None, 1_199_500, None)),
        ({BURST.upper(): "42"}, RateLimit(42, None, None)),  # header names ignore case
        ({BURST: "nan", TIME: "1e400"}, RateLimit(None, None, None)),  # NaN, infinity
        ({BURST: "300", "Retry-After": "soon"}, RateLimit(300, None, None)),
        ({"Retry-After": "60"}, RateLimit(None, None, 60)),
    ],
)
def test_rate_limit_headers_missing_or_malformed(
    headers: dict[str, str], expected: RateLimit
) -> None:
    """Absent, empty, non-numeric and absurd values become None; the rest are read."""
    assert expected == parse_rate_limit(headers)


def test_headroom_shares_of_the_limits() -> None:
    """Remaining over the limit: 1,200 of 6,000 requests is 20%, 600 s of 1,200 s is 50%."""
    headroom = headroom_of(result(RateLimit(1200, 600_000)))

    assert headroom is not None
    assert (Fraction(1, 5), Fraction(1, 2)) == (headroom.burst_share, headroom.time_share)
    assert T0 == headroom.observed_at


def test_headroom_with_one_header_missing() -> None:
    """Only the header that was present gives a share."""
    headroom = headroom_of(result(RateLimit(300, None)))

    assert headroom is not None
    assert (Fraction(1, 20), None) == (headroom.burst_share, headroom.time_share)


def test_a_negative_remainder_is_an_overdrawn_budget_and_large_ones_capped() -> None:
    """A remainder below zero (the header can go there) is a share of 0, the lowest; more than
    the limit counts as 100%."""
    headroom = headroom_of(result(RateLimit(-5, 5_000_000)))
    both = headroom_of(result(RateLimit(-1, -1)))

    assert headroom is not None
    assert both is not None
    assert (-5, Fraction(0), Fraction(1)) == (
        headroom.burst_remaining,
        headroom.burst_share,
        headroom.time_share,
    )
    assert (Fraction(0), Fraction(0)) == (both.burst_share, both.time_share)


def test_configured_limits_are_used() -> None:
    """A higher configured limit lowers the share."""
    headroom = headroom_of(result(RateLimit(6000, None)), burst_limit=12_000)

    assert headroom is not None
    assert Fraction(1, 2) == headroom.burst_share
    with pytest.raises(ValueError, match="positive"):
        headroom_of(result(RateLimit(1, 1)), burst_limit=0)


@pytest.mark.parametrize(
    "fields",
    [
        {"attempted": False},  # a held result repeats, it observed nothing
        {"stage": "token", "outcome": Outcome.THROTTLED},  # never reached Dataverse
        {"rate_limit": RateLimit()},  # no header at all
    ],
)
def test_no_headroom_without_a_dataverse_answer(fields: dict[str, Any]) -> None:
    """Only an attempted Dataverse answer with a readable header says anything."""
    values: dict[str, Any] = {"rate_limit": RateLimit(10, 10)}
    values.update(fields)
    rate_limit = values.pop("rate_limit")

    assert headroom_of(result(rate_limit, **values)) is None

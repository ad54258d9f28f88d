"""Realistic Power Platform admin center request reports (written from the documented columns)
and helpers the usage tests share."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent
LICENSED_REPORT = FIXTURES / "licensed-user-report.csv"
NON_LICENSED_REPORT = FIXTURES / "non-licensed-report.csv"

# Callers in the fixtures (Entra object ids).
NAMED_USER = "1f2e3d4c-5b6a-4789-9a8b-7c6d5e4f3a2b"  # licensed, ~32,000 requests a day
TEAM_MEMBER = "a3c1b2d4-0e9f-4a8b-8c7d-6e5f4a3b2c1d"  # licensed, ~400 a day
SALES_APP = "8a7b6c5d-4e3f-4a2b-9c1d-0e9f8a7b6c5d"  # application user, ~200,000 a day
INVENTORY_APP = "7e9f0a1b-3c5d-4e6f-8a9b-0c1d2e3f4a5b"  # application user (its client id)
POOL_SIZE = 1_100_000

FIXTURE_DAYS = (date(2026, 3, 1), date(2026, 3, 2))


def report_ending(path: Path, last_day: date) -> bytes:
    """Return the fixture report at *path* with its two days moved to the day before *last_day*
    and *last_day* (subprocess tests date their data relative to the real clock)."""
    text = path.read_bytes().decode("utf-8-sig")
    for offset, fixture_day in enumerate(reversed(FIXTURE_DAYS)):
        new = last_day - timedelta(days=offset)
        text = text.replace(fixture_day.isoformat(), new.isoformat())
        text = text.replace(
            f"{fixture_day.month}/{fixture_day.day}/{fixture_day.year}",
            f"{new.month}/{new.day}/{new.year}",
        )
    return text.encode()

"""The SQLite schema as SQLAlchemy declarative models.

The schema is created and changed only by the Alembic migrations in ``migrations/``; a test
checks that a migrated database equals these models. Rules that keep a year of history cheap:

* Times are :class:`UTCDateTime`: an ``INTEGER`` of microseconds since the Unix epoch, UTC. It
  sorts and range-scans like a number, costs 8 bytes and compares correctly across writers.
* Counters are ``INTEGER`` (SQLite integers are 64-bit; no ``SMALLINT`` overflow to migrate).
* Outcome classes are plain strings checked in Python, not ``CHECK`` constraints: adding an
  outcome class must not rebuild a table of millions of rows.
* Every constraint and index has a name (the naming convention below) so that Alembic's batch
  mode can recreate SQLite tables in later migrations.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Dialect,
    Integer,
    MetaData,
    String,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def to_epoch_us(value: datetime) -> int:
    """Given an aware datetime, return microseconds since the Unix epoch (UTC).

    Raise ValueError for a naive datetime: its time zone would be a guess.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; use UTC")
    return (value - EPOCH) // _MICROSECOND


def from_epoch_us(value: int) -> datetime:
    """Given microseconds since the Unix epoch, return the aware UTC datetime."""
    return EPOCH + timedelta(microseconds=value)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as integer microseconds since the epoch, read back in UTC."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> int | None:
        return None if value is None else to_epoch_us(value)

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        return None if value is None else from_epoch_us(int(value))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        date: Date(),
        str: String(),
        int: Integer(),
        bool: Boolean(),
    }

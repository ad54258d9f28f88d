"""Optional filters, written once for every repository's reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

S = TypeVar("S", bound=Select[*tuple[Any, ...]])


def filtered(
    query: S,
    equal: Mapping[InstrumentedAttribute[Any], object] | None = None,
    *,
    time: InstrumentedAttribute[Any] | None = None,
    since: object = None,
    until: object = None,
) -> S:
    """Return *query* narrowed to ``column == value`` for each *equal* value that is not None,
    and to ``since <= time < until`` for the bounds given (*until* is exclusive)."""
    for column, value in (equal or {}).items():
        if value is not None:
            query = query.where(column == value)
    if time is not None and since is not None:
        query = query.where(time >= since)
    if time is not None and until is not None:
        query = query.where(time < until)
    return query

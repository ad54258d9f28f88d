"""Row <-> record mapping, written once per record type.

A record (a frozen dataclass of :mod:`monitor.model`) and its table share their names: a field
``since`` is the column ``since``. A :class:`RecordMap` copies the same-named values in both
directions and names only the exceptions: a field read from the row by a function (an outcome
class, a nested record, JSON text), a column written from the record by a function, and fields
that have no column of their own. Rows may be ORM objects or SQLAlchemy Core rows: both are
read by attribute.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from monitor.model.outcomes import Outcome

R = TypeVar("R")

FieldReader = Callable[[Any], object]
ColumnWriter = Callable[[Any], object]


@dataclass(frozen=True)
class RecordMap(Generic[R]):
    """How records of type ``record`` map to rows of one table.

    ``read``: field -> function of the row (instead of the same-named column).
    ``write``: column -> function of the record (instead of the same-named field).
    ``skip``: fields with no same-named column (written through ``write``, or not stored).
    """

    record: type[R]
    read: Mapping[str, FieldReader] = field(default_factory=dict)
    write: Mapping[str, ColumnWriter] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()
    fields: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        names = tuple(item.name for item in dataclasses.fields(self.record))  # type: ignore[arg-type]
        unknown = (set(self.read) | set(self.skip)) - set(names)
        if unknown:
            raise TypeError(f"{self.record.__name__} has no field {sorted(unknown)}")
        object.__setattr__(self, "fields", names)

    def to_record(self, row: Any, **given: object) -> R:
        """Return the record a row holds; *given* fields are taken as they are."""
        values: dict[str, object] = {}
        for name in self.fields:
            if name in given:
                values[name] = given[name]
            elif name in self.read:
                values[name] = self.read[name](row)
            elif name not in self.skip:
                values[name] = getattr(row, name)
        return self.record(**values)

    def to_values(self, record: R, *, exclude: frozenset[str] = frozenset()) -> dict[str, object]:
        """Return the column values of a record (for an insert, an upsert or :meth:`fill`)."""
        values = {
            name: getattr(record, name)
            for name in self.fields
            if name not in self.skip and name not in self.write and name not in exclude
        }
        values.update(
            (column, write(record)) for column, write in self.write.items() if column not in exclude
        )
        return values

    def fill(self, row: Any, record: R, *, exclude: frozenset[str] = frozenset()) -> None:
        """Set every column of an ORM row from a record."""
        for name, value in self.to_values(record, exclude=exclude).items():
            setattr(row, name, value)


# --- converters shared by several maps -----------------------------------------------------


def outcome(value: str) -> Outcome:
    """Return a stored outcome class; one this monitor does not know (written by a newer
    monitor) is shown as unclassified rather than failing a whole report."""
    try:
        return Outcome(value)
    except ValueError:
        return Outcome.UNCLASSIFIED


def optional_outcome(value: str | None) -> Outcome | None:
    return None if value is None else outcome(value)


def outcome_text(value: Outcome | str) -> str:
    """Return the stored text of an outcome; raise ValueError for anything else."""
    return Outcome(value).value


def details_json(details: Mapping[str, object]) -> str:
    return json.dumps(dict(details), default=str, sort_keys=True)


def details(text: str | None) -> Mapping[str, object]:
    if not text:
        return MappingProxyType({})
    try:
        value: Any = json.loads(text)
    except ValueError:
        return MappingProxyType({})
    return MappingProxyType(value if isinstance(value, dict) else {})


def column(name: str, convert: Callable[[Any], object] = lambda value: value) -> FieldReader:
    """Return a reader that takes another column of the row, converted."""
    return lambda row: convert(getattr(row, name))

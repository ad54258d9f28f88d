"""The database schema's revisions, as every reader of the database checks them.

:data:`SCHEMA_REVISIONS` lists every Alembic revision in ``migrations/versions``, oldest first (a
test keeps it equal to the migration scripts). The writer (:mod:`monitor.store`) and the
report's own read path (:mod:`monitor.report.database`) both check a database against it, so
neither needs Alembic to tell an older or a newer schema from the current one.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_REVISIONS: tuple[str, ...] = (
    "0001",
    "0002_alerting",
    "0005_usage",
    "0003_posture",
    "0004_daemon",
)
SCHEMA_HEAD = SCHEMA_REVISIONS[-1]


@dataclass(frozen=True)
class SchemaStatus:
    """The schema revision of a database against the newest revision this monitor knows.

    ``current`` is None when the database has no schema yet. ``known`` is False when the
    database carries a revision this monitor does not know (written by a newer version).
    """

    current: str | None
    head: str
    known: bool

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    @property
    def newer(self) -> bool:
        return not self.known


@dataclass(frozen=True)
class Upgrade:
    """What :func:`monitor.store.migrate` did: the revision before and after."""

    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

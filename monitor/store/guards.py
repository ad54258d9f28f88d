"""Lockout guards: which password identities the monitor must not sign in as, and until when.

The rules (which answers hold, for how long) are :mod:`monitor.model.lockout`; this repository
keeps one guard row per held identity. Record a guard before the result that caused it: a crash
in between then errs on the side of not signing in again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, select

from monitor.model.lockout import LockoutGuard
from monitor.store.database import Database
from monitor.store.mapping import RecordMap, column, outcome, outcome_text
from monitor.store.models.probes import LockoutGuardRow

GUARD = RecordMap(
    LockoutGuard,
    read={"outcome": column("outcome", outcome)},
    write={"outcome": lambda guard: outcome_text(guard.outcome)},
)


class GuardRepository:
    """Reads and writes of lockout guards; every method is one short transaction."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def get(self, identity: str) -> LockoutGuard | None:
        """Return the guard of *identity*, or None if its sign-ins are not held."""
        with self._database.read() as session:
            row = session.get(LockoutGuardRow, identity)
            return None if row is None else GUARD.to_record(row)

    def all(self) -> list[LockoutGuard]:
        """Return every guard, ordered by identity."""
        with self._database.read() as session:
            rows = session.scalars(select(LockoutGuardRow).order_by(LockoutGuardRow.identity))
            return [GUARD.to_record(row) for row in rows]

    def hold(self, guard: LockoutGuard) -> LockoutGuard:
        """Hold sign-ins of ``guard.identity`` (replacing any guard it had) and return the
        stored guard. ``hold_until`` None holds until the credential's fingerprint changes or
        the guard is released."""
        with self._database.write() as session:
            row = session.get(LockoutGuardRow, guard.identity)
            if row is None:
                row = LockoutGuardRow(identity=guard.identity)
                session.add(row)
            GUARD.fill(row, guard)
            session.flush()
            return GUARD.to_record(row)

    def note_blocked_attempt(self, identity: str, at: datetime) -> LockoutGuard | None:
        """Count one sign-in the guard held back at *at*; return the guard (None if none)."""
        return self._update(identity, lambda row: _blocked(row, at))

    def note_forced_probe(self, identity: str, at: datetime) -> LockoutGuard | None:
        """Record that an operator forced a probe past the guard at *at*; return the guard."""
        return self._update(identity, lambda row: setattr(row, "forced_at", at))

    def _update(
        self, identity: str, change: Callable[[LockoutGuardRow], None]
    ) -> LockoutGuard | None:
        with self._database.write() as session:
            row = session.get(LockoutGuardRow, identity)
            if row is None:
                return None
            change(row)
            session.flush()
            return GUARD.to_record(row)

    def release(self, identity: str) -> bool:
        """Lift the guard of *identity*; return whether there was one."""
        with self._database.write() as session:
            deleted = session.execute(
                delete(LockoutGuardRow).where(LockoutGuardRow.identity == identity)
            )
            return bool(getattr(deleted, "rowcount", 0))


def _blocked(row: LockoutGuardRow, at: datetime) -> None:
    row.blocked_attempts += 1
    row.last_blocked_at = at

"""SQLite storage: the writer (:class:`Store`), the read-only view (:class:`Reader`), the
records they exchange, and the Alembic glue (:func:`migrate`, :func:`schema_status`).

The store imports no probe-running, msal or apprise code; callers see only frozen dataclasses.
"""

from monitor.store.db import migrate, open_engine, schema_status
from monitor.store.errors import StoreError
from monitor.store.keyfile import fingerprint_key
from monitor.store.records import (
    DailyStats,
    IdentityState,
    LockoutGuard,
    RunKind,
    RunRecord,
    SchemaStatus,
    StateChangeRecord,
    StoredResult,
    Upgrade,
)
from monitor.store.store import Reader, Store

__all__ = [
    "DailyStats",
    "IdentityState",
    "LockoutGuard",
    "Reader",
    "RunKind",
    "RunRecord",
    "SchemaStatus",
    "StateChangeRecord",
    "Store",
    "StoreError",
    "StoredResult",
    "Upgrade",
    "fingerprint_key",
    "migrate",
    "open_engine",
    "schema_status",
]

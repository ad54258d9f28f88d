"""SQLite storage: :class:`Store` (one database, one repository per aggregate), the Alembic glue
(:func:`migrate`, :func:`schema_status`) and the install key for credential fingerprints.

The store imports no probe, msal, requests or apprise code; callers see only the records of
:mod:`monitor.model`.
"""

from monitor.store.errors import StoreError
from monitor.store.keyfile import FingerprintKeyLost, fingerprint_key
from monitor.store.migrations import migrate, schema_status
from monitor.store.store import Store

__all__ = [
    "FingerprintKeyLost",
    "Store",
    "StoreError",
    "fingerprint_key",
    "migrate",
    "schema_status",
]

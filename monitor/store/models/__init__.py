"""The SQLite schema as SQLAlchemy declarative models, one module per area.

Importing this package registers every table on ``Base.metadata`` (what Alembic compares and
the schema test checks against the migrations).
"""

from monitor.store.models import alerting, daemon, posture, probes, usage
from monitor.store.models.base import Base

__all__ = ["Base", "alerting", "daemon", "posture", "probes", "usage"]

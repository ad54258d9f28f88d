"""What the running daemon has done, for systemd's ``STATUS=`` line and its log."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

from monitor.outcomes import Outcome
from monitor.probes.base import ProbeResult


class DaemonStatus:
    """Counters shared by the job threads and the supervision loop (thread-safe)."""

    def __init__(self, identities: int = 0) -> None:
        self._lock = threading.Lock()
        self.identities = identities
        self.probes = 0
        self._not_ok: dict[tuple[str, str], str] = {}
        self.last_probe_at: datetime | None = None
        self.last_retention: str | None = None

    def set_identities(self, count: int, names: Iterable[str]) -> None:
        """Set the number of scheduled identities; forget failures of identities now gone."""
        keep = set(names)
        with self._lock:
            self.identities = count
            self._not_ok = {key: value for key, value in self._not_ok.items() if key[0] in keep}

    def record_pass(self, results: Iterable[ProbeResult], finished_at: datetime) -> None:
        """Count the results of one scheduled pass and remember which pairs are not ok."""
        with self._lock:
            for result in results:
                self.probes += 1
                key = (result.identity, result.environment)
                if result.outcome is Outcome.OK:
                    self._not_ok.pop(key, None)
                else:
                    self._not_ok[key] = str(result.outcome)
            self.last_probe_at = finished_at

    @property
    def not_ok(self) -> int:
        with self._lock:
            return len(self._not_ok)

    def summary(self) -> str:
        """Return the one-line summary systemctl status shows."""
        with self._lock:
            identities = self.identities
            probes = self.probes
            failing = len(self._not_ok)
            last = self.last_probe_at
        line = f"{identities} identities scheduled; {probes} probes since start"
        if probes:
            line += f"; {failing} identity/environment pairs not ok"
        if last is not None:
            line += f"; last probe {last.strftime('%Y-%m-%d %H:%M:%S')} UTC"
        return line

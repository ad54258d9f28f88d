"""The interface every probe kind implements."""

from __future__ import annotations

from typing import Protocol

from monitor.model.probes import ProbeResult


class Probe(Protocol):
    """Sign in as one identity and call Dataverse in each of its environments.

    Implementations never raise: every failure becomes a :class:`ProbeResult` with an outcome.
    """

    def run(self, environments: list[str]) -> list[ProbeResult]: ...

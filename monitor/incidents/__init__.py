"""Incidents: findings over time, with stable ids, stored transitions and notices.

* :func:`evaluate` (findings + now -> transitions, with their outbox rows, in one transaction);
* :func:`collect_probe_findings` (the probe rules over the stored identity states);
* :func:`alert_cycle` (one pass: probe findings + the caller's findings -> evaluate -> dispatch).

The decisions themselves are pure functions in :mod:`monitor.incidents.machine`.
"""

from monitor.incidents.cycle import CycleReport, alert_cycle
from monitor.incidents.evaluate import Transition, collect_probe_findings, evaluate

__all__ = ["CycleReport", "Transition", "alert_cycle", "collect_probe_findings", "evaluate"]

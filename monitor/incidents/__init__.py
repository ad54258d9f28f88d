"""Incidents: findings over time, with stable ids, stored transitions and notices.

The decisions are pure functions (:mod:`monitor.incidents.machine`: open, escalate, remind,
resolve, silences and acknowledgements); :func:`monitor.incidents.evaluate.evaluate_findings`
applies them to the store in one transaction, writing the outbox rows of the notices with them.
"""

"""The records every layer shares, and the pure rules over them.

Probe results and identity state (:mod:`~monitor.model.probes`), outcome classes
(:mod:`~monitor.model.outcomes`), lockout rules (:mod:`~monitor.model.lockout`), directory
observations (:mod:`~monitor.model.observations`), findings (:mod:`~monitor.model.findings`),
incidents and the outbox (:mod:`~monitor.model.incidents`, :mod:`~monitor.model.outbox`), usage
rows (:mod:`~monitor.model.usage`), the daemon's status (:mod:`~monitor.model.daemon`), the
schema revisions (:mod:`~monitor.model.schema`), the one clock (:mod:`~monitor.model.clock`) and
one record built from another (:mod:`~monitor.model.records`).

This package is the ground floor: it imports the standard library and itself, nothing else of
the project, so that any layer can use it without loading msal, requests, SQLAlchemy or apprise.
"""

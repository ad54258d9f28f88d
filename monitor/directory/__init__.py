"""Directory reads: what Entra ID (Microsoft Graph) and each Dataverse environment know about
every identity, read with the tenant's least-privilege **observer** credential.

Probes answer "does it work now?"; directory reads answer "what will stop it working?" (expiring
secrets and certificates, disabled accounts, lost licences, risky roles, capacity). They run on
their own, slower interval (``[directory] interval_hours``, default 6) and only produce
:class:`~monitor.model.observations.Observation` objects; the directory pass
(:mod:`monitor.directory.engine`) records them and :mod:`monitor.findings.posture` turns them into
findings.

Modules: ``observations`` (the facts, pure), ``client`` (JSON reads with paging, throttling and
error mapping), ``tokens`` (the observer's msal token per pass), ``graph`` and ``dataverse``
(the readers), ``engine`` (the pass: read, record, evaluate), ``report`` (findings from the store
and the check / posture output). This package's ``__init__`` imports nothing heavy: the store and
the findings import the observation types from here.
"""

"""Directory reads: what Entra ID (Microsoft Graph) and each Dataverse environment know about
every identity, read with the tenant's least-privilege **observer** credential.

``client`` (JSON reads with paging, throttling and error mapping), ``tokens`` (the observer's
msal token per pass), ``graph`` and ``dataverse`` (the readers). They only return facts
(:mod:`monitor.model.observations`); the directory pass (:mod:`monitor.pipeline.directory`)
records them and :mod:`monitor.findings.posture` judges them. What is read, with which
permission, and what a failed read means: ``docs/posture.md``, "Directory reads".
"""

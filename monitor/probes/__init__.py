"""Probes: sign in as an identity and call Dataverse with its token.

The probe step (:mod:`monitor.pipeline.probing`) calls a probe as::

    context = ProbeContext.from_config(config, fingerprint_key=key, clock=clock)  # once
    probe = PROBE_KINDS[identity.credential_type](identity, config, context)
    results = probe.run(list(identity.environments))  # one ProbeResult per environment

``run()`` never raises and returns within ``network.probe_deadline_seconds`` (plus DNS time).
The kinds are in :mod:`monitor.probes.registry`; this package face imports nothing, so that
importing a module of it (the classifier, say) does not load msal.
"""

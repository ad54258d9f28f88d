"""API usage: will an identity run out of requests before Dataverse starts refusing it?

Three kinds of signal, per identity (docs/platform.md, "Power Platform requests" and "Limits"):

* **service-protection headroom** that Dataverse reports on every answer the monitor receives
  (:mod:`monitor.usage.headroom`), and its 429 answers with ``Retry-After``
  (:mod:`monitor.usage.throttle`: which identity / environment pairs must not be called yet);
* the **24-hour Power Platform request allocation**, from licences or the tenant pool, with where
  each number came from (:mod:`monitor.usage.entitlements`, :mod:`monitor.usage.allocation`,
  :mod:`monitor.usage.licences`);
* **consumption**: the Power Platform admin center's CSV reports (:mod:`monitor.usage.csv_import`,
  matched to identities by :mod:`monitor.usage.matching`), counts pushed by integrations, and the
  monitor's own footprint (:mod:`monitor.usage.footprint`), judged against the allocation with a
  trend (:mod:`monitor.usage.projection`).

:mod:`monitor.usage.gather` gathers these from the configuration and the store; the rules that
turn them into findings are in :mod:`monitor.findings.usage`. Everything here except
``evaluate`` and ``licences`` (which read the store) and ``gate`` (the engine's side of
Retry-After) is pure: no I/O, no clock, no import of msal or the store.
"""

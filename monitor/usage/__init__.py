"""API usage: will an identity run out of requests before Dataverse starts refusing it?

Service-protection headroom and 429 answers (``headroom``, ``throttle``, ``gate``), the 24-hour
Power Platform request allocation (``allocation``, ``licences``), consumption from the admin
center's reports, pushed counts and the monitor's own footprint (``csv_import``, ``matching``,
``footprint``), judged with a trend (``projection``); ``gather`` puts it together from the
configuration and the store. The rules, and what each finding means: ``docs/usage.md``.
"""

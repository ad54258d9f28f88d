"""Read queries of the report, one module per data domain, all against a
:class:`~monitor.report.database.ReportDatabase` snapshot.

``probes`` reads what the foundation stores (states, results, state changes, daily rollups,
lockout guards). ``posture``, ``incidents``, ``usage`` and ``daemon`` read the tables their
features add; each declares the table shape it expects (``TABLES``) and returns an
:class:`Unavailable` note instead of rows while those tables do not exist, so wiring a new table
is a change to one module.
"""

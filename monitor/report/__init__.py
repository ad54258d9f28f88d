"""``monitor report``: read-only views of the database and their renderers.

Layout: :mod:`~monitor.report.database` opens a read-only snapshot (standard-library
``sqlite3``, no SQLAlchemy); :mod:`~monitor.report.sources` holds the SQL, one module per data
domain; :mod:`~monitor.report.views` turns rows into a :class:`~monitor.report.model.ViewResult`
(registry ``VIEWS``); :mod:`~monitor.report.render` writes text, JSON, CSV or HTML. Nothing
here imports msal, apprise or SQLAlchemy, so a report starts fast.
"""

"""Renderers of a :class:`~monitor.report.model.ViewResult`: terminal text, JSON, CSV and a
self-contained HTML page with inline SVG charts. None of them touches the database."""

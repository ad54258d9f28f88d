"""Delivery of incident notices: routing, rendering, the durable outbox, apprise channels.

The only package that talks to apprise (:mod:`monitor.notify.channels`), and only inside the
functions that send; importing :mod:`monitor.notify` or its pure modules does not import apprise.
Entry points: :func:`monitor.notify.dispatch.dispatch` (what is due in the outbox),
:func:`monitor.notify.testsend.send_test` (``monitor notify test``) and
:func:`monitor.notify.heartbeat.ping_heartbeat`. How it fits together: docs/notifications.md.
"""

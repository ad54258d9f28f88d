"""Delivery of incident notices: routing, rendering, the durable outbox, apprise channels.

The only package that talks to apprise (:mod:`monitor.notify.channels`), and only inside the
functions that send; importing :mod:`monitor.notify` or its pure modules (routing, rendering,
URL policy) does not import apprise. Entry points:

* :func:`monitor.notify.dispatch.dispatch` sends what is due in the outbox;
* :func:`monitor.notify.testsend.send_test` sends a test notice (``monitor notify test``);
* :func:`monitor.notify.heartbeat.ping_heartbeat` pings the heartbeat URL after a cycle.
"""

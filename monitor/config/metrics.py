"""The ``[metrics]`` section: where ``monitor run`` serves ``/metrics`` and ``/healthz``.

``listen = "HOST:PORT"`` (``[::1]:PORT`` for an IPv6 address); ``""`` turns the endpoint off.
The default port lies outside the range the Prometheus project keeps for exporters ("Default
port allocations", https://github.com/prometheus/prometheus/wiki/Default-port-allocations), as
its guide "Writing exporters" recommends for an application's own endpoint
(https://prometheus.io/docs/instrumenting/writing_exporters/#port-numbers).
"""

from __future__ import annotations

import ipaddress

from monitor.config.model import DEFAULT_METRICS_LISTEN, MetricsConfig
from monitor.config.problems import KeyPath, describe
from monitor.config.schema import Context, Field, Table, ValueType

_EXPECTED = 'an address and port such as "127.0.0.1:8479" or "[::1]:8479", or "" to turn it off'


def parse_listen(value: str) -> tuple[str, int] | None:
    """Return (host, port) of ``HOST:PORT`` / ``[IPV6]:PORT`` (an IP address, not a name; port
    1-65535), or None when *value* is not one."""
    host, colon, port_text = value.rpartition(":")
    if not colon or not port_text.isdigit() or port_text != port_text.strip():
        return None
    port = int(port_text)
    if not 0 < port < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        version = 6
    else:
        version = 4
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.version != version:
        return None  # an IPv6 address needs its brackets, an IPv4 one has none
    return str(address), port


class ListenAddress(ValueType):
    """``HOST:PORT`` with an IP address, or the empty string (off)."""

    expected = _EXPECTED

    def convert(self, value: object, path: KeyPath, ctx: Context, hint: str) -> object:
        if isinstance(value, str) and (value == "" or parse_listen(value) is not None):
            return value
        return ctx.report(path, self.expected, describe(value, show=True), hint)


METRICS = Table(
    {
        "listen": Field(
            ListenAddress(),
            hint=f'default "{DEFAULT_METRICS_LISTEN}" (loopback only); "0.0.0.0:PORT" listens '
            "on every address: put a firewall or a TLS proxy in front",
        ),
    }
)


def build_metrics(table: dict[str, object]) -> MetricsConfig:
    """Return the ``[metrics]`` settings of a checked table."""
    listen = table.get("listen", DEFAULT_METRICS_LISTEN)
    assert isinstance(listen, str)
    if listen == "":
        return MetricsConfig(listen=None)
    parsed = parse_listen(listen)
    assert parsed is not None
    return MetricsConfig(listen=listen, host=parsed[0], port=parsed[1])

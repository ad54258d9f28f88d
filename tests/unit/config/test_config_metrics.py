"""The ``[metrics]`` section: a listen address, off with "", one-line errors naming the key."""

from __future__ import annotations

import pytest
from config_testkit import MINIMAL, MINIMAL_ENVIRON, WriteConfig, load, problems_of

from monitor.config.metrics import parse_listen
from monitor.config.model import DEFAULT_METRICS_LISTEN, MetricsConfig


def test_the_default_listens_on_loopback(write_config: WriteConfig) -> None:
    """Without [metrics] the endpoint listens on 127.0.0.1 at the default port."""
    config = load(write_config(MINIMAL), MINIMAL_ENVIRON)

    assert MetricsConfig(DEFAULT_METRICS_LISTEN, "127.0.0.1", 8479) == config.metrics


def test_the_default_port_is_outside_the_exporter_range() -> None:
    """Prometheus keeps 9090-9999 for its own components and exporters; the default is not
    in it."""
    port = MetricsConfig().port

    assert not 9090 <= port <= 9999


@pytest.mark.parametrize(
    ("listen", "expected"),
    [
        ('""', MetricsConfig(listen=None)),
        ('"192.0.2.7:9000"', MetricsConfig("192.0.2.7:9000", "192.0.2.7", 9000)),
        ('"[::1]:8479"', MetricsConfig("[::1]:8479", "::1", 8479)),
    ],
)
def test_listen_values(write_config: WriteConfig, listen: str, expected: MetricsConfig) -> None:
    """An empty string turns the endpoint off; IPv4 and bracketed IPv6 addresses load."""
    config = load(write_config(MINIMAL + f"\n[metrics]\nlisten = {listen}\n"), MINIMAL_ENVIRON)

    assert expected == config.metrics


@pytest.mark.parametrize(
    "listen",
    ['"localhost:8479"', '"127.0.0.1"', '"127.0.0.1:0"', '"127.0.0.1:70000"', '"::1:8479"', "8479"],
)
def test_a_bad_listen_is_one_line_naming_the_key(write_config: WriteConfig, listen: str) -> None:
    """A host name, a missing or impossible port, an unbracketed IPv6 address or a number is
    refused with one line naming metrics.listen."""
    text = problems_of(write_config(MINIMAL + f"\n[metrics]\nlisten = {listen}\n"), MINIMAL_ENVIRON)

    lines = [line for line in text.splitlines() if "metrics.listen" in line]
    assert 1 == len(lines), text
    assert "127.0.0.1:8479" in lines[0]


def test_an_unknown_key_is_refused(write_config: WriteConfig) -> None:
    """A misspelt key of [metrics] is an error naming it."""
    text = problems_of(write_config(MINIMAL + '\n[metrics]\nlisten_on = ""\n'), MINIMAL_ENVIRON)

    assert "metrics.listen_on" in text


def test_parse_listen() -> None:
    """Only IP addresses with a port in range parse."""
    assert ("10.0.0.1", 1) == parse_listen("10.0.0.1:1")
    assert parse_listen("[127.0.0.1]:80") is None
    assert parse_listen("host.example:80") is None

"""sd_notify over a real datagram socket, and the watchdog settings systemd passes."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.daemon import NotifySocket

from monitor.daemon.notify import MAX_STATUS_CHARS, Notifier, status_line, watchdog_interval_seconds


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    sock = NotifySocket()
    yield sock
    sock.close()


def test_messages_arrive_on_an_abstract_socket(notify_socket: NotifySocket) -> None:
    """READY, STATUS, WATCHDOG and STOPPING arrive as KEY=VALUE datagrams."""
    notifier = Notifier({"NOTIFY_SOCKET": notify_socket.name})

    assert notifier.ready("3 identities scheduled")
    assert notifier.watchdog()
    assert notifier.stopping()

    ready = notify_socket.wait_for("READY", "1")
    assert {"READY": "1", "STATUS": "3 identities scheduled"} == ready.fields
    notify_socket.wait_for("WATCHDOG", "1")
    notify_socket.wait_for("STOPPING", "1")


def test_messages_arrive_on_a_filesystem_socket(tmp_path: Path) -> None:
    """A NOTIFY_SOCKET that is a path works as well as an abstract name."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        server.settimeout(2)

        assert Notifier({"NOTIFY_SOCKET": str(path)}).status("hello")

        assert b"STATUS=hello" == server.recv(100)


def test_without_notify_socket_nothing_is_sent() -> None:
    """Outside systemd every call is a no-op that reports it sent nothing."""
    notifier = Notifier({})

    assert not notifier.enabled
    assert not notifier.ready("x")
    assert not notifier.watchdog()


def test_a_vanished_socket_is_not_an_error(tmp_path: Path) -> None:
    """A socket that is gone makes send return False instead of raising."""
    assert not Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).watchdog()


def test_watchdog_interval_is_half_the_timeout_for_this_process() -> None:
    """WATCHDOG_USEC is halved; a WATCHDOG_PID of another process disables pings."""
    usec = {"WATCHDOG_USEC": "4000000"}

    assert 2.0 == watchdog_interval_seconds(usec)
    assert 2.0 == watchdog_interval_seconds({**usec, "WATCHDOG_PID": str(os.getpid())})
    assert watchdog_interval_seconds({**usec, "WATCHDOG_PID": str(os.getpid() + 1)}) is None
    assert watchdog_interval_seconds({}) is None
    assert watchdog_interval_seconds({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval_seconds({"WATCHDOG_USEC": "soon"}) is None


def test_status_is_one_bounded_line() -> None:
    """Newlines would start a new KEY=VALUE; long text is cut to the bound."""
    assert "STATUS=a b c" == status_line("a\nb\n  c")
    assert len(status_line("x" * 1000)) == len("STATUS=") + MAX_STATUS_CHARS

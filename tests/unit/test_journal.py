"""Under journald each record is one journal entry with its priority, a readable message and
its values as fields: sent over a real Unix datagram socket and parsed back as journald does."""

from __future__ import annotations

import io
import logging
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.journal import JournalWriter, encode, field_name, stream_is_journal
from monitor.logsetup import configure_logging, get_logger
from monitor.secrets import Secret


def parse(datagram: bytes) -> dict[str, str]:
    """Parse one datagram of journald's native protocol (what journald does with it)."""
    fields: dict[str, str] = {}
    rest = datagram
    while rest:
        line_end = rest.index(b"\n")
        line = rest[:line_end]
        if b"=" in line:
            name, _, value = line.partition(b"=")
            rest = rest[line_end + 1 :]
        else:
            name = line
            (size,) = struct.unpack("<Q", rest[line_end + 1 : line_end + 9])
            value = rest[line_end + 9 : line_end + 9 + size]
            assert b"\n" == rest[line_end + 9 + size : line_end + 10 + size]
            rest = rest[line_end + 10 + size :]
        fields[name.decode()] = value.decode()
    return fields


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[socket.socket]:
    """A Unix datagram socket standing where journald's is."""
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(os.fspath(tmp_path / "journal.socket"))
    receiver.settimeout(2)
    yield receiver
    receiver.close()
    configure_logging("warning", stream=io.StringIO())


def received(receiver: socket.socket, count: int) -> list[dict[str, str]]:
    return [parse(receiver.recv(1 << 20)) for _ in range(count)]


def test_each_level_gets_its_syslog_priority_and_fields_of_its_own(
    tmp_path: Path, journal: socket.socket
) -> None:
    """error 3, warning 4, info 6 (debug filtered at info); MESSAGE reads as text; identity
    and outcome are fields IDENTITY and OUTCOME; a library's stdlib warning is priority 4."""
    writer = JournalWriter(tmp_path / "journal.socket")
    configure_logging("info", stream=io.StringIO(), journal=writer)
    log = get_logger("monitor.probes")

    log.error(
        "probe", identity="sales-sync", environment="contoso-prod", outcome="credential_invalid"
    )
    log.warning("probe", identity="erp", outcome="unreachable", duration_ms=5012)
    log.info("probe", identity="hr-sync", outcome="ok")
    log.debug("not sent at info")
    logging.getLogger("apscheduler.scheduler").warning("Run time of job was missed by 0:00:05")

    error, warning, info, library = received(journal, 4)
    assert ("3", "4", "6", "4") == tuple(e["PRIORITY"] for e in (error, warning, info, library))
    assert (
        "probe identity=sales-sync environment=contoso-prod outcome=credential_invalid"
        == error["MESSAGE"]
    )
    assert ("sales-sync", "contoso-prod", "credential_invalid") == (
        error["IDENTITY"],
        error["ENVIRONMENT"],
        error["OUTCOME"],
    )
    assert ("monitor", "monitor.probes") == (error["SYSLOG_IDENTIFIER"], error["LOGGER"])
    assert ("probe", library["MESSAGE"]) == (error["EVENT"], library["EVENT"])
    assert "5012" == warning["DURATION_MS"]
    assert "Run time of job was missed by 0:00:05" == library["MESSAGE"]
    assert "apscheduler.scheduler" == library["LOGGER"]


def test_a_traceback_stays_in_one_entry_and_no_secret_reaches_the_journal(
    tmp_path: Path, journal: socket.socket
) -> None:
    """An exception's traceback is part of the one entry's MESSAGE (a value with newlines, in
    the protocol's length-prefixed form); a loaded secret is masked in MESSAGE and in every
    field, as in JSON lines."""
    secret = Secret("journal-secret-value-4711", "env:TEST")
    writer = JournalWriter(tmp_path / "journal.socket")
    configure_logging("info", stream=io.StringIO(), journal=writer)
    log = get_logger("monitor.daemon")

    try:
        raise RuntimeError(f"token endpoint echoed {secret.reveal()}")
    except RuntimeError:
        log.exception("directory read failed", tenant="contoso", detail=secret.reveal())
    (datagram,) = [journal.recv(1 << 20)]

    entry = parse(datagram)
    assert "3" == entry["PRIORITY"]
    assert entry["MESSAGE"].startswith("directory read failed tenant=contoso detail=")
    assert "Traceback (most recent call last)" in entry["MESSAGE"]
    assert "RuntimeError: token endpoint echoed" in entry["MESSAGE"]
    assert "contoso" == entry["TENANT"]
    assert b"journal-secret-value-4711" not in datagram


def test_without_the_socket_a_record_goes_to_the_stream_with_its_priority_prefix(
    tmp_path: Path,
) -> None:
    """No socket (journald restarting): each line of the record goes to the stream with
    ``<N>``, which journald's stream reader turns into the priority."""
    stream = io.StringIO()
    writer = JournalWriter(tmp_path / "missing.socket", fallback=stream)

    writer.send(3, "probe identity=a outcome=credential_invalid\nsecond line", [("A", "b")])
    writer.close()

    assert "<3>probe identity=a outcome=credential_invalid\n<3>second line\n" == stream.getvalue()


def test_journal_stream_is_recognised_only_for_the_stream_it_names(tmp_path: Path) -> None:
    """$JOURNAL_STREAM must name the device and inode of the stream itself: a redirected
    stderr that inherited the variable, or a malformed value, is not the journal."""
    with open(tmp_path / "stderr", "w") as named, open(tmp_path / "other", "w") as other:
        info = os.fstat(named.fileno())
        environ = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}

        assert stream_is_journal(named, environ)
        assert not stream_is_journal(other, environ)
        assert not stream_is_journal(named, {"JOURNAL_STREAM": "garbage"})
        assert not stream_is_journal(named, {})
        assert not stream_is_journal(io.StringIO(), environ)


def test_field_names_follow_the_journal_rules() -> None:
    """Upper case, A-Z 0-9 _ only, never a leading underscore (journald's trusted fields) or
    digit, at most 64 characters; a value with a newline uses the length-prefixed form."""
    assert "INCIDENT_ID" == field_name("incident-id")
    assert "RUN_ID" == field_name("_run_id")
    assert "F_2FA" == field_name("2fa")
    assert 64 == len(field_name("x" * 80))
    assert b"A=b\nM\n" + struct.pack("<Q", 3) + b"x\ny\n" == encode([("A", "b"), ("M", "x\ny")])

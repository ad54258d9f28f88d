"""The status board's daemon line on a real database: running, stale, stopping, stopped, never
ran and no status table; in the terminal, JSON and HTML, in UTC and local time."""

from __future__ import annotations

import itertools
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path

import pytest
from report_kit import NOW, build, context

from monitor.model.daemon import DaemonStatusRecord
from monitor.report.model import ViewResult
from monitor.report.render import html, machine, text
from monitor.report.views import board
from monitor.store import Store

STARTED = NOW - timedelta(days=3, hours=4)


def record(**fields: object) -> DaemonStatusRecord:
    """A daemon on monitor-01 (pid 812) running 1,000 identities, beating 12 s before NOW."""
    values: dict[str, object] = {
        "state": "running",
        "pid": 812,
        "hostname": "monitor-01",
        "monitor_version": "0.1.0",
        "started_at": STARTED,
        "last_beat_at": NOW - timedelta(seconds=12),
        "write_interval_seconds": 60,
        "last_probe_at": NOW - timedelta(minutes=2),
        "probes_since_start": 30_000,
        "identities": 1000,
        "failing_pairs": 2,
        "config_path": "/etc/monitor/monitor.toml",
    }
    values.update(fields)
    return DaemonStatusRecord(**values)  # type: ignore[arg-type]


def board_with(history_db: Path, tmp_path: Path, status: DaemonStatusRecord | None) -> ViewResult:
    """Build the board on a copy of the history (in *tmp_path*) with *status* as the daemon's
    row."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "monitor.db"
    shutil.copy(history_db, path)
    if status is not None:
        with Store.open(path) as store:
            store.daemon.write(status)
    return build(board, path, context())


def daemon_text(result: ViewResult, zone: tzinfo = UTC) -> str:
    """Return the terminal's daemon line (the line under the title, with its wrapped
    continuation lines joined)."""
    lines = text.render(result, zone=zone).splitlines()
    parts = [lines[1]]
    parts.extend(line.strip() for line in itertools.takewhile(_continued, lines[2:]))
    return " ".join(parts)


def _continued(line: str) -> bool:
    return line.startswith("      ")


def test_running(history_db: Path, tmp_path: Path) -> None:
    """A fresh heartbeat: running, where, since when, and what it does; right under the title."""
    result = board_with(history_db, tmp_path, record())

    assert result.daemon is not None
    assert ("running", "ok", False) == (
        result.daemon.verdict,
        result.daemon.level,
        result.daemon.stale,
    )
    assert (
        "daemon: running on monitor-01 (pid 812), last heartbeat 12s ago, up 3d 4h, "
        "1,000 identities, last probe 2m ago, 2 pairs not ok"
    ) == daemon_text(result)


def test_running_before_the_first_probe(history_db: Path, tmp_path: Path) -> None:
    """Just started: no probe yet, and no failing-pair count that would mean nothing."""
    result = board_with(
        history_db,
        tmp_path,
        record(started_at=NOW - timedelta(seconds=20), last_probe_at=None, probes_since_start=0),
    )

    assert (
        "daemon: running on monitor-01 (pid 812), last heartbeat 12s ago, up 20s, "
        "1,000 identities, no probe yet"
    ) == daemon_text(result)


@pytest.mark.parametrize(
    ("seconds", "verdict"), [(180, "running"), (181, "not_running")], ids=["3 min", "3 min 1 s"]
)
def test_stale_after_three_write_intervals(
    history_db: Path, tmp_path: Path, seconds: int, verdict: str
) -> None:
    """A running daemon writes every 60 s: three missed writes (180 s) and it is dead."""
    result = board_with(history_db, tmp_path, record(last_beat_at=NOW - timedelta(seconds=seconds)))

    assert result.daemon is not None
    assert verdict == result.daemon.verdict


def test_a_stale_running_row_is_not_running(history_db: Path, tmp_path: Path) -> None:
    """A row that says running with a heartbeat 3 hours old: NOT RUNNING, no clean stop,
    critical, the time of the last heartbeat in full."""
    result = board_with(history_db, tmp_path, record(last_beat_at=NOW - timedelta(hours=3)))

    assert result.daemon is not None
    assert ("not_running", "critical", True, False) == (
        result.daemon.verdict,
        result.daemon.level,
        result.daemon.stale,
        result.daemon.clean_stop,
    )
    assert (
        "daemon: NOT RUNNING, last heartbeat 2026-03-15 09:00 (3h ago) on monitor-01 (pid 812); "
        "no clean stop recorded (crashed, killed or hung?)"
    ) == daemon_text(result)


def test_stopped_cleanly(history_db: Path, tmp_path: Path) -> None:
    """A clean stop: NOT RUNNING, stopped cleanly, and why; a warning, not critical."""
    stopped_at = NOW - timedelta(hours=3)
    result = board_with(
        history_db,
        tmp_path,
        record(
            state="stopped", last_beat_at=stopped_at, stopped_at=stopped_at, stop_reason="SIGTERM"
        ),
    )

    assert result.daemon is not None
    assert ("not_running", "warning", False, True) == (
        result.daemon.verdict,
        result.daemon.level,
        result.daemon.stale,
        result.daemon.clean_stop,
    )
    assert (
        "daemon: NOT RUNNING, last heartbeat 2026-03-15 09:00 (3h ago) on monitor-01 (pid 812); "
        "stopped cleanly (SIGTERM)"
    ) == daemon_text(result)


def test_stopping(history_db: Path, tmp_path: Path) -> None:
    """Stopping with a fresh row is stopping; a stale stopping row was killed while stopping."""
    fresh = board_with(
        history_db,
        tmp_path,
        record(state="stopping", last_beat_at=NOW - timedelta(seconds=5), stop_reason="SIGTERM"),
    )
    assert (
        "daemon: stopping (SIGTERM) on monitor-01 (pid 812), last heartbeat 5s ago"
        == daemon_text(fresh)
    )

    stale = board_with(
        history_db,
        tmp_path / "stale",
        record(state="stopping", last_beat_at=NOW - timedelta(hours=1), stop_reason="SIGTERM"),
    )
    assert stale.daemon is not None
    assert ("not_running", "critical") == (stale.daemon.verdict, stale.daemon.level)
    assert "killed while stopping?" in text.render(stale, zone=UTC)


def test_never_ran(history_db: Path) -> None:
    """A database the daemon never wrote (only `monitor check` ran) says so, without colour."""
    result = build(board, history_db, context())

    assert result.daemon is not None
    assert ("never_ran", "none") == (result.daemon.verdict, result.daemon.level)
    assert "daemon: never ran against this database" == daemon_text(result)
    assert {"status": "never_ran", "state": None, "last_beat_at": None} == {
        key: json.loads(machine.to_json(result, zone=UTC))["daemon"][key]
        for key in ("status", "state", "last_beat_at")
    }


def test_without_the_status_table(history_db: Path, tmp_path: Path) -> None:
    """A database without the daemon's table (an older layout) is not an error: the line says
    what is missing."""
    path = tmp_path / "monitor.db"
    shutil.copy(history_db, path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("DROP TABLE daemon_status")
    connection.close()

    result = build(board, path, context())

    assert result.daemon is not None
    assert ("unknown", "unknown") == (result.daemon.verdict, result.daemon.level)
    assert daemon_text(result).startswith("daemon: unknown; the daemon's status is not")
    assert "0004_daemon" in text.render(result, zone=UTC)
    assert result.table("identities").rows  # the rest of the board is there


def test_json_has_a_daemon_object(history_db: Path, tmp_path: Path) -> None:
    """--json carries the verdict, the line and every recorded field (ISO times, seconds)."""
    result = board_with(history_db, tmp_path, record())

    daemon = json.loads(machine.to_json(result, zone=UTC))["daemon"]

    assert {
        "status": "running",
        "level": "ok",
        "state": "running",
        "stale": False,
        "clean_stop": None,
        "hostname": "monitor-01",
        "pid": 812,
        "monitor_version": "0.1.0",
        "config_path": "/etc/monitor/monitor.toml",
        "started_at": "2026-03-12T08:00:00+00:00",
        "last_beat_at": "2026-03-15T11:59:48+00:00",
        "seconds_since_beat": 12,
        "stale_after_seconds": 180,
        "last_probe_at": "2026-03-15T11:58:00+00:00",
        "probes_since_start": 30000,
        "identities": 1000,
        "failing_pairs": 2,
        "stopped_at": None,
        "stop_reason": None,
        "note": None,
    } == {key: value for key, value in daemon.items() if key != "summary"}
    assert daemon["summary"].startswith("daemon: running on monitor-01 (pid 812)")


def test_times_follow_the_report_zone(history_db: Path, tmp_path: Path) -> None:
    """Without --utc the last heartbeat is wall-clock time in the report's zone (here +09:00),
    in the line and in JSON."""
    tokyo = timezone(timedelta(hours=9))
    result = board_with(history_db, tmp_path, record(last_beat_at=NOW - timedelta(hours=3)))

    assert "last heartbeat 2026-03-15 18:00 (3h ago)" in text.render(result, zone=tokyo)
    daemon = json.loads(machine.to_json(result, zone=tokyo))["daemon"]
    assert "2026-03-15T18:00:00+09:00" == daemon["last_beat_at"]


def test_html_shows_the_line_styled_by_its_level(history_db: Path, tmp_path: Path) -> None:
    """The page has the daemon line under its heading, escaped and coloured like a critical
    cell."""
    result = board_with(
        history_db,
        tmp_path,
        record(hostname="<host>", last_beat_at=NOW - timedelta(hours=3)),
    )

    page = html.render(result, zone=UTC)

    assert (
        '<p class="daemon"><span class="critical">daemon: NOT RUNNING, last heartbeat '
        "2026-03-15 09:00 (3h ago) on &lt;host&gt; (pid 812)"
    ) in page
    assert "<host>" not in page


def test_csv_is_still_the_identities_table(history_db: Path, tmp_path: Path) -> None:
    """--csv is one table: the daemon line is not in it."""
    result = board_with(history_db, tmp_path, record())

    output = machine.to_csv(result, zone=UTC)

    assert output.startswith("identity,state,")
    assert "daemon" not in output


def test_other_views_have_no_daemon_line(history_db: Path) -> None:
    """Only the board reports on the daemon."""
    from monitor.report.views import expiring

    result = build(expiring, history_db, context())
    assert result.daemon is None
    assert "daemon" not in json.loads(machine.to_json(result, zone=UTC))


def test_a_clock_ahead_of_the_report_reads_zero_seconds(history_db: Path, tmp_path: Path) -> None:
    """A heartbeat stamped after the report's now (another host's clock ahead) is fresh."""
    ahead = datetime(2026, 3, 15, 12, 0, 30, tzinfo=UTC)
    result = board_with(history_db, tmp_path, record(last_beat_at=ahead))

    assert result.daemon is not None
    assert "running" == result.daemon.verdict
    assert "last heartbeat 0s ago" in daemon_text(result)

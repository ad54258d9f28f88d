"""`monitor report` as an operator runs it: the real CLI in a subprocess on a real database,
every view and format, one-line errors, no secret in any output, nothing heavy imported."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import pty
import re
import select
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.report_history import (
    POSTURE,
    POSTURE_MISSING,
    SECRETS,
    add_feature_tables,
    write_config,
    write_history,
)

pytestmark = pytest.mark.e2e

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class Install:
    root: Path
    config: Path
    database: Path
    features: Path
    now: dt.datetime

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MONITOR_CONFIG", None)
        env.pop("NO_COLOR", None)
        env.update(SECRETS)
        env.update(extra)
        return env

    def run(
        self, *args: str, config: bool = True, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "monitor"]
        if config:
            command += ["--config", str(self.config)]
        return subprocess.run(
            [*command, "report", *args],
            capture_output=True,
            text=True,
            env=self.env(**extra),
            timeout=60,
            check=False,
            stdin=subprocess.DEVNULL,
        )


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Install:
    """A configuration and a database whose history ends now (the CLI reads the real clock)."""
    root = tmp_path_factory.mktemp("report-cli")
    now = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
    database = root / "state" / "monitor.db"
    write_history(database, now)
    config = write_config(root, database, now)
    features = root / "features.db"
    shutil.copy(database, features)
    add_feature_tables(features, now)
    return Install(root, config, database, features, now)


def _one_line_error(done: subprocess.CompletedProcess[str], code: int, needle: str) -> None:
    assert code == done.returncode, done.stderr
    assert "" == done.stdout
    lines = done.stderr.splitlines()
    assert 1 == len(lines), done.stderr
    assert lines[0].startswith("monitor report: ")
    assert needle in lines[0]
    assert "Traceback" not in done.stderr


def test_board_on_a_terminal_width(install: Install) -> None:
    """The default view prints the board, problems first, no line over 100 columns and no
    colour when stdout is not a terminal."""
    done = install.run()
    assert 0 == done.returncode, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    assert ANSI.search(done.stdout) is None
    header = next(index for index, line in enumerate(lines) if line.startswith("IDENTITY"))
    assert lines[header + 1].startswith("dataverse-sync")
    assert "account_locked (held)" in lines[header + 1]


@pytest.mark.skipif(not POSTURE, reason=POSTURE_MISSING)
def test_a_wide_terminal_gets_wide_findings_and_remedies(install: Install) -> None:
    """COLUMNS=250 (what a terminal wider than 100 columns sets): the posture view uses the
    width, showing at least the first 80 characters of every FINDING and REMEDY (the longest
    columns are levelled, not one cut to its minimum); without a terminal or COLUMNS it keeps
    to 100 columns, where they are cut shorter."""
    features = ["--database", str(install.features)]
    rows = json.loads(install.run("posture", "--json", *features).stdout)["posture"]
    texts = [row[key][:80] for row in rows for key in ("message", "remedy")]

    wide = install.run("posture", *features, COLUMNS="250")
    piped = install.run("posture", *features)

    assert 0 == wide.returncode, wide.stderr
    assert [] == [text for text in texts if text not in wide.stdout]
    assert 100 < max(len(line) for line in wide.stdout.splitlines()) <= 250
    assert max(len(line) for line in piped.stdout.splitlines()) <= 100
    assert [] == [text for text in texts if text in piped.stdout]


def test_board_json_and_csv(install: Install) -> None:
    """--json and --csv parse back to the same identities with the configured certificate's
    deadline; a tag filter narrows both."""
    document = json.loads(install.run("--json").stdout)
    rows = {row["identity"]: row for row in document["identities"]}
    assert {"sales-sync", "dataverse-sync", "cert-app", "flaky-app"} == set(rows)
    assert "certificate file" == rows["cert-app"]["deadline_source"]
    parsed = list(csv.DictReader(io.StringIO(install.run("--csv", "--tag", "sales").stdout)))
    assert ["dataverse-sync", "sales-sync"] == [row["identity"] for row in parsed]
    assert "critical" == parsed[0]["level"]


def test_board_html(install: Install) -> None:
    """--html writes one self-contained page with three inline SVG charts."""
    page_path = install.root / "board.html"
    done = install.run("--html", str(page_path))
    assert 0 == done.returncode, done.stderr
    assert f"report written to {page_path}\n" == done.stdout
    page = page_path.read_text()
    assert 3 == page.count("<svg ")
    assert re.search(r"https?://|<script|url\(", page) is None


def test_history_view(install: Install) -> None:
    """history --identity: the secret outage of a day, in JSON and CSV."""
    document = json.loads(
        install.run("history", "--identity", "sales-sync", "--since", "11d", "--json").stdout
    )
    outages = [row for row in document["periods"] if row["outcome"] == "credential_invalid"]
    assert [(86400, 12)] == [(row["duration_seconds"], row["probes"]) for row in outages]
    parsed = list(
        csv.DictReader(
            io.StringIO(
                install.run(
                    "history", "--identity", "sales-sync", "--environment", "contoso-test", "--csv"
                ).stdout
            )
        )
    )
    assert ["contoso-test"] == [row["environment"] for row in parsed]


def test_expiring_incidents_usage(install: Install) -> None:
    """The expiry calendar (the configured certificate), open incidents and usage on the
    database with feature tables (--database), as JSON."""
    features = ["--database", str(install.features)]
    expiring = json.loads(install.run("expiring", "--within", "30d", "--json", *features).stdout)
    assert "cert-app" in [row["identity"] for row in expiring["expiring"]]
    incidents = json.loads(install.run("incidents", "--open", "--json", *features).stdout)
    assert ["CM-2"] == [row["id"] for row in incidents["incidents"]]
    usage = json.loads(install.run("usage", "--json", *features).stdout)
    assert [0.9] == [row["share"] for row in usage["usage"]]


@pytest.mark.skipif(not POSTURE, reason=POSTURE_MISSING)
def test_expiring_and_posture_from_directory_facts(install: Install) -> None:
    """With directory facts, the expiry calendar and the posture advice come from the posture
    rules judged against the configuration."""
    features = ["--database", str(install.features)]
    expiring = json.loads(install.run("expiring", "--within", "30d", "--json", *features).stdout)
    assert ["sales-sync", "cert-app"] == [row["identity"] for row in expiring["expiring"]]
    posture = json.loads(install.run("posture", "--json", *features).stdout)
    assert [
        ("sales-sync", "credential_expiring"),
        ("dataverse-sync", "identity_type"),  # password sign-in (ROPC) is deprecated
        ("dataverse-sync", "password_expiring"),
    ] == [(row["identity"], row["kind"]) for row in posture["posture"]]


def test_views_without_feature_tables_print_a_note(install: Install, tmp_path: Path) -> None:
    """Usage and posture on a database without their tables: exit 0 and a note naming the
    migration they need."""
    path = tmp_path / "monitor.db"
    shutil.copy(install.database, path)
    connection = sqlite3.connect(path)
    with connection:
        for table in ("usage_daily", "posture_fact"):
            connection.execute(f"DROP TABLE IF EXISTS {table}")
    connection.close()
    for view, needle in (
        ("usage", "no usage data recorded yet (requires the usage migration 0005_usage"),
        ("posture", "no posture data recorded yet (requires the posture migration 0003"),
    ):
        done = install.run(view, "--database", str(path))
        assert 0 == done.returncode
        assert needle in " ".join(done.stdout.split())


def test_database_without_configuration(install: Install) -> None:
    """--database reads a database without any configuration file; --tag then needs one."""
    missing = str(install.root / "no-such.toml")
    done = install.run(
        "--database", str(install.database), "--json", config=False, MONITOR_CONFIG=missing
    )
    assert 0 == done.returncode, done.stderr
    assert 4 == len(json.loads(done.stdout)["identities"])
    _one_line_error(
        install.run(
            "--database",
            str(install.database),
            "--tag",
            "sales",
            config=False,
            MONITOR_CONFIG=missing,
        ),
        2,
        "--tag needs the configuration",
    )


def test_one_line_errors(install: Install, tmp_path: Path) -> None:
    """Missing or empty database, unknown identity, bad time expression: one line, no
    traceback, exit 1 for the database and 2 for the options."""
    _one_line_error(install.run("--database", str(tmp_path / "none.db")), 1, "no database at")
    empty = tmp_path / "empty.db"
    empty.touch()
    _one_line_error(install.run("--database", str(empty)), 1, "run `monitor db upgrade`")
    _one_line_error(install.run("history", "--identity", "nobody"), 2, "unknown identity 'nobody'")
    _one_line_error(install.run("--since", "7x"), 2, "bad time expression '7x' for --since")
    _one_line_error(install.run("history"), 2, "needs exactly one --identity")
    _one_line_error(install.run("--since", "2d", "--until", "3d"), 2, "must be before --until")


def test_database_without_results_is_an_error(install: Install, tmp_path: Path) -> None:
    """A migrated database without any result yet says to run `monitor check`."""
    from monitor.store import migrate

    path = tmp_path / "fresh.db"
    migrate(path)
    _one_line_error(install.run("--database", str(path)), 1, "run `monitor check` first")


def test_older_schema_says_upgrade(install: Install, tmp_path: Path) -> None:
    """A database at an older revision: run `monitor db upgrade`."""
    from monitor.model.schema import SCHEMA_REVISIONS

    revisions = SCHEMA_REVISIONS
    if len(revisions) < 2:
        pytest.skip("only one schema revision exists; nothing is older")
    path = tmp_path / "old.db"
    shutil.copy(install.database, path)
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE alembic_version SET version_num = ?", (revisions[-2],))
    connection.close()
    _one_line_error(install.run("--database", str(path)), 1, "run `monitor db upgrade`")


def test_no_secret_in_any_output(install: Install) -> None:
    """The configured secrets never appear in any view or format."""
    page = install.root / "secrets.html"
    outputs = [
        install.run(*args)
        for args in (
            (),
            ("--json",),
            ("--csv",),
            ("--html", str(page)),
            ("history", "--identity", "sales-sync", "--json"),
            ("expiring", "--json"),
        )
    ]
    texts = [done.stdout + done.stderr for done in outputs] + [page.read_text()]
    for secret in SECRETS.values():
        assert all(secret not in text for text in texts)


def test_report_imports_nothing_heavy(install: Install) -> None:
    """A whole report run imports neither msal nor apprise (nor SQLAlchemy)."""
    code = (
        "import sys\n"
        "from monitor.cli import main\n"
        f"main(['--config', {str(install.config)!r}, 'report', '--json'])\n"
        "heavy = [m for m in ('msal', 'apprise', 'sqlalchemy', 'requests') if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=install.env(),
        timeout=60,
        check=False,
    )
    assert 0 == done.returncode, done.stderr
    assert "HEAVY []" in done.stderr


def test_times_local_unless_utc(install: Install) -> None:
    """Times are shown in the local zone (TZ) unless --utc."""
    local = json.loads(install.run("--json", TZ="Asia/Tokyo").stdout)
    assert local["generated_at"].endswith("+09:00")
    assert local["timezone"].startswith("local time (JST, +09:00)")
    utc = json.loads(install.run("--json", "--utc", TZ="Asia/Tokyo").stdout)
    assert utc["generated_at"].endswith("+00:00")
    assert "UTC" == utc["timezone"]


def _run_on_terminal(install: Install, **extra: str) -> str:
    """Run the board with stdout on a pseudo-terminal; return what it printed."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(install.config), "report"],
        stdout=terminal,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=install.env(**extra),
    )
    os.close(terminal)
    output = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=30)
    os.close(controller)
    assert 0 == process.returncode
    return output.decode()


def test_colour_only_on_a_terminal_without_no_color(install: Install) -> None:
    """On a terminal states are coloured; NO_COLOR turns colour off."""
    assert ANSI.search(_run_on_terminal(install, TERM="xterm")) is not None
    assert ANSI.search(_run_on_terminal(install, TERM="xterm", NO_COLOR="1")) is None

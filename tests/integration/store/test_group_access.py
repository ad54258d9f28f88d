"""``[database] group_access``: the history's files are 0600, or 0660 for the service's group,
whoever creates them; a member of the group reads and annotates the daemon's database from a
shell (real processes under other user ids when the tests run as root, as CI does)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import stat
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.cli import main
from monitor.store import Store, migrate

SERVICE_UID = SERVICE_GID = 64101
MEMBER_UID = 64102
STRANGER_UID = 64103


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def companions(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


def test_files_are_private_unless_shared_and_follow_the_setting(tmp_path: Path) -> None:
    """Shared: database, -wal and -shm 0660 (whatever the umask); back to "none": 0600 at the
    next open; a schema upgrade leaves the mode alone."""
    path = tmp_path / "state" / "monitor.db"
    old_umask = os.umask(0o077)  # the unit's UMask=
    try:
        with Store.open(path, shared=True) as store:
            store.guards.all()
            shared = [mode(p) for p in (path, *companions(path))]
            migrate(path)
            after_upgrade = mode(path)
        with Store.open(path) as store:
            store.guards.all()
            private = [mode(p) for p in (path, *companions(path)) if p.exists()]
    finally:
        os.umask(old_umask)

    assert [0o660, 0o660, 0o660] == shared
    assert 0o660 == after_upgrade
    assert {0o600} == set(private)
    assert 0o750 == mode(path.parent)  # created 2770 while shared; the group's rights taken back


@dataclass(frozen=True)
class Finished:
    code: int
    out: str
    err: str


def as_user(uid: int, groups: list[int], action: Callable[[], int]) -> Finished:
    """Run *action* in a forked child with the user id *uid* and *groups* (the first is the
    primary group), as a process of that user would; return its exit code and output.

    A fork rather than a new interpreter: the test's interpreter may live where other users
    cannot read it (a home directory), and everything *action* needs is already imported.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code, out, err = 99, io.StringIO(), io.StringIO()
        try:
            os.close(reader)
            os.setgroups(groups)
            os.setgid(groups[0])
            os.setuid(uid)
            os.environ.pop("CREDENTIALS_DIRECTORY", None)  # a shell user has none
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = action()
        except BaseException:
            err.write(traceback.format_exc())
        finally:
            with os.fdopen(writer, "w") as pipe:
                pipe.write(json.dumps([code, out.getvalue(), err.getvalue()]))
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        code, out, err = json.loads(pipe.read() or '[98, "", "no answer"]')
    os.waitpid(pid, 0)
    return Finished(code, out, err)


def monitor(config: Path, uid: int, groups: list[int], *args: str) -> Finished:
    """``monitor --config CONFIG ARGS`` as *uid*."""
    return as_user(uid, groups, lambda: main(["--config", str(config), *args]))


def write_config(directory: Path, database: Path) -> Path:
    config = directory / "monitor.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [database]
            path = "{database}"
            group_access = "read-write"

            [tenants.contoso]
            tenant_id = "3f2c9a1e-0000-4000-8000-000000000001"

            [environments.contoso-prod]
            tenant = "contoso"
            url = "https://contoso.crm4.dynamics.com"

            [identities.sales-sync]
            kind = "application"
            tenant = "contoso"
            client_id = "5c1e8b3a-0000-4000-8000-000000000002"
            secret = {{ credential = "sales-sync-secret" }}
            environments = ["contoso-prod"]
            """
        )
    )
    config.chmod(0o644)
    return config


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Path]:
    """A deployment as the unit makes it: /tmp/X/state owned by the service, mode 0750, and a
    world-readable configuration that refers to a credential nobody here has. The commands run
    once as root elsewhere first, so that the forked children find every module imported."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run processes as other users (CI runs as root)")
    warm = write_config(tmp_path, tmp_path / "warm" / "monitor.db")
    for args in WARM_UP:
        main(["--config", str(warm), *args])
    base = Path(tempfile.mkdtemp(prefix="monitor-group-", dir="/tmp"))
    base.chmod(0o755)
    state = base / "state"
    state.mkdir(mode=0o750)
    os.chown(state, SERVICE_UID, SERVICE_GID)
    yield write_config(base, state / "monitor.db")
    shutil.rmtree(base)


WARM_UP = (
    ("silence", "add", "--identity", "sales-sync", "--until", "2h", "--reason", "warm"),
    ("silence", "list"),
    ("report", "--json"),
    ("check", "--stored"),
    ("config", "validate"),  # fails here (no credentials), after importing what it needs
)


def test_a_member_of_the_group_annotates_the_daemons_database(
    deployed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The service creates the database (0660) and keeps it open, as the daemon does; a member
    of its group adds a silence and reads the report and the stored check without any
    credential; the -wal and -shm files stay in the service's group, so the service still
    writes; a user outside the group cannot read the history."""
    database = deployed.parent / "state" / "monitor.db"
    created = monitor(deployed, SERVICE_UID, [SERVICE_GID], *WARM_UP[0][:-1], "by the service")
    assert 0 == created.code, created.err
    go_on, release = os.pipe()

    def daemon() -> int:
        with Store.open(database, shared=True) as store:  # held open, as by the daemon
            store.guards.all()
            os.read(go_on, 1)
            # Still writable after the group member's writes: the -wal and -shm are usable.
            now = datetime.now(UTC)
            store.alerting.add_silence(
                identity="sales-sync",
                starts_at=now,
                until=now + timedelta(hours=1),
                reason="after",
                created_by="service",
            )
            return 0

    holder = os.fork()
    if holder == 0:
        try:
            os.setgroups([SERVICE_GID])
            os.setgid(SERVICE_GID)
            os.setuid(SERVICE_UID)
            os._exit(daemon())
        finally:
            os._exit(97)
    try:
        time.sleep(0.5)
        member = [MEMBER_UID, SERVICE_GID]
        silenced = monitor(deployed, MEMBER_UID, member, *WARM_UP[0][:-1], "from a shell")
        listed = monitor(deployed, MEMBER_UID, member, "silence", "list")
        report = monitor(deployed, MEMBER_UID, member, "report", "--json")
        stored = monitor(deployed, MEMBER_UID, member, "check", "--stored")
        stranger = monitor(deployed, STRANGER_UID, [STRANGER_UID], "report")
        owners = {(p.stat().st_gid, mode(p)) for p in (database, *companions(database))}
    finally:
        os.write(release, b"x")
        _, status = os.waitpid(holder, 0)
    capsys.readouterr()

    assert 0 == silenced.code, silenced.err
    assert 0 == listed.code, listed.err
    assert "by the service" in listed.out
    # The report read the daemon's database: it has no probe results yet (exit 1, one line).
    assert 1 == report.code
    assert "has no probe results yet" in report.err
    assert 3 == stored.code, stored.err  # never probed: UNKNOWN, but it answered
    assert stored.out.startswith("MONITOR UNKNOWN")
    assert 0 != stranger.code
    assert "permission denied; run as the service's user" in stranger.err
    assert {(SERVICE_GID, 0o660)} == owners
    assert 0 == os.waitstatus_to_exitcode(status)
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        reasons = [row[0] for row in db.execute("SELECT reason FROM silence ORDER BY id")]
    assert ["by the service", "from a shell", "after"] == reasons


def test_a_member_validating_with_the_root_only_credentials_is_told_not_to_loosen_them(
    deployed: Path, tmp_path: Path
) -> None:
    """`CREDENTIALS_DIRECTORY=/etc/monitor/credentials monitor config validate` as a group
    member: one line that says to run it as root or through systemd-run, never to chown."""
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o700)
    (credentials / "sales-sync-secret").write_text("value")
    (credentials / "sales-sync-secret").chmod(0o600)
    tmp_path.chmod(0o755)

    def validate() -> int:
        os.environ["CREDENTIALS_DIRECTORY"] = str(credentials)
        return main(["--config", str(deployed), "config", "validate"])

    finished = as_user(MEMBER_UID, [MEMBER_UID, SERVICE_GID], validate)

    assert 78 == finished.code
    assert "Permission denied" in finished.err
    assert "run this as root, or as the service through systemd-run" in finished.err
    assert "chown" not in finished.err


def test_a_member_uses_the_history_while_the_service_is_stopped(deployed: Path) -> None:
    """The state directory as the unit makes it (2770: setgid, owned by the service): with the
    service stopped there are no -wal and -shm files, yet a member of the group adds a silence
    and reads the stored check (SQLite creates both files, in the service's group by the
    setgid bit, with the database's mode); the service then opens and writes its database as
    before. With group_access = "none" the service takes the group's rights back."""
    state = deployed.parent / "state"
    database = state / "monitor.db"
    state.chmod(0o2770)  # what StateDirectoryMode=2770 gives, after the owner was set
    service = [SERVICE_GID]

    def service_run(reason: str) -> Callable[[], int]:
        def run() -> int:
            with Store.open(database, shared=True) as store:  # a daemon's life, closed at stop
                now = datetime.now(UTC)
                store.alerting.add_silence(
                    identity="sales-sync",
                    starts_at=now,
                    until=now + timedelta(hours=1),
                    reason=reason,
                    created_by="service",
                )
            return 0

        return run

    created = as_user(SERVICE_UID, service, service_run("by the service"))
    assert 0 == created.code, created.err
    assert [] == [p for p in companions(database) if p.exists()]  # stopped: none left

    member = [MEMBER_UID, SERVICE_GID]
    silenced = monitor(deployed, MEMBER_UID, member, *WARM_UP[0][:-1], "service stopped")
    stored = monitor(deployed, MEMBER_UID, member, "check", "--stored")
    made = {(p.stat().st_gid, mode(p)) for p in companions(database) if p.exists()}
    again = as_user(SERVICE_UID, service, service_run("service again"))

    assert 0 == silenced.code, silenced.err
    assert 3 == stored.code, stored.err  # never probed: UNKNOWN, but it answered
    assert made <= {(SERVICE_GID, 0o660)}
    assert 0 == again.code, again.err
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        reasons = [row[0] for row in db.execute("SELECT reason FROM silence ORDER BY id")]
    assert ["by the service", "service stopped", "service again"] == reasons
    assert 0o2770 == mode(state)

    deployed.write_text(deployed.read_text().replace('"read-write"', '"none"'))
    private = monitor(deployed, SERVICE_UID, service, "silence", "list")
    assert 0 == private.code, private.err
    assert 0o750 == mode(state)
    assert 0o600 == mode(database)

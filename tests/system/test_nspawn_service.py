"""The README's deployment, as written, on a fresh Debian 12 booted with ``systemd-nspawn -b``.

The commands come from README.md itself: the code blocks marked ``<!-- deploy-install -->``,
``<!-- deploy-sign-in -->``, ``<!-- deploy-group -->`` and ``<!-- deploy-operate -->`` are read
and run line by line inside the container (as ``.ci/run`` runs the quick start), so a README that
no longer deploys fails this test. Where the README leaves something to the operator the test
plays the operator, and only there:

* "then edit it": the configuration is written over the installed example, keeping the example's
  ``[database]`` settings (path and ``group_access``) and ``[metrics]`` listener;
* the secrets are put into ``/etc/monitor/credentials/`` before the README's ``chmod``;
* ``systemctl edit monitor`` runs in a terminal (``script``) with an editor that writes the
  ``LoadCredential=`` lines the README asks for;
* ``pip`` takes wheels built on the host (``PIP_NO_INDEX``, ``PIP_FIND_LINKS``: the README's
  route for a host without PyPI), so the run does not depend on PyPI from inside the container;
* the incident id of ``monitor ack CM-42`` is the real one, and ``journalctl -f`` is not run.

Beyond the README the test adds a simulator unit (the stand-in for Microsoft), an SMTP receiver
on the host's loopback (the container shares the host's network) and a drop-in with a shorter
``WatchdogSec=`` so the watchdog restart takes seconds.

It shows: ``systemctl start`` returns only after READY=1; STATUS= is visible; secrets come only
from ``$CREDENTIALS_DIRECTORY`` and never reach the journal; the database is the one every command
uses, in the StateDirectory; a member of the ``monitor`` group, without credentials, runs
``report``, ``check --stored``, ``silence add``, ``ack`` and ``notify outbox`` against it and the
daemon honours the silence; ``journalctl -p err`` shows an injected failure and ``-p warning``
no healthy probe; ``/metrics`` and ``/healthz`` answer inside the container (and ``promtool check
metrics`` accepts the scrape); an invalid configuration makes ``systemctl reload`` fail while the
daemon keeps running; a stalled scheduler gets the unit restarted by the watchdog;
``systemctl stop`` is clean; the online security score equals the offline one and stays <= 1.5.

Needs root, systemd-nspawn and debootstrap, and the network to reach a Debian mirror (and PyPI
for the wheels). The pristine rootfs is kept in ``.cache/system-test/`` inside the repository and
copied for each run, so every run starts from a fresh system and the second one boots in seconds.
Marker ``system``: not part of the default run; ``.ci/run`` runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from support.notify.receivers import SmtpReceiver

pytestmark = [pytest.mark.system, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".cache" / "system-test"
BASE = WORK / "rootfs"  # debootstrap's result, never booted
ROOTFS = WORK / "run-rootfs"  # this run's copy
MACHINE = "monitor-systest"
SUITE = "bookworm"
PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv,jq"
CHECKOUT = "/root/monitor"  # where the "git clone" of the README's install lives
ROOT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

TENANT_ID = "6a1c1f5e-2b7d-4c39-9a55-3f0e8d2b7c11"
APP_ID = "0f9d3c2a-5b7e-4d11-8c3a-7e2f6b1d9a01"
PUBLIC_APP_ID = "1e8c2b3d-6a7f-4e22-9d4b-8f3a7c2e0b02"
APP_SECRET = "SYS-app-secret-Qw8~3kPq9ZrT1mW"
USER_UPN = "svc-erp@system.example"
USER_PASSWORD = "SYS-user-password-7hG2kL9q"
PORT = 8443
OPERATOR = "alice"


def _why_not() -> str | None:
    if sys.platform != "linux":
        return "systemd-nspawn needs Linux"
    if os.geteuid() != 0:
        return "systemd-nspawn needs root (CI runs as root)"
    for tool in ("systemd-nspawn", "debootstrap", "nsenter", "systemd-analyze"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install systemd-container debootstrap)"
    return None


def run(
    args: Sequence[str], *, timeout: float = 600, check: bool = True, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False, **kwargs
    )  # type: ignore[call-overload]
    if check and done.returncode != 0:
        raise AssertionError(f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done  # type: ignore[no-any-return]


# -- the README ---------------------------------------------------------------------------------


def readme_block(tag: str) -> list[str]:
    """The commands of the code block after ``<!-- tag -->`` in README.md: one per line, a
    trailing backslash joining lines, comment-only lines dropped."""
    lines = (REPO / "README.md").read_text().splitlines()
    marker = lines.index(f"<!-- {tag} -->")
    assert lines[marker + 1].startswith("```"), f"README: no code block after <!-- {tag} -->"
    commands: list[str] = []
    pending = ""
    for line in lines[marker + 2 :]:
        if line.startswith("```"):
            break
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        commands.append(pending + line)
        pending = ""
    assert commands, f"README: the block after <!-- {tag} --> is empty"
    return commands


def uncommented(command: str) -> str:
    """*command* without its trailing ``# comment`` (the README aligns comments after commands)."""
    return re.sub(r"\s+#\s.*$", "", command)


# -- the container ------------------------------------------------------------------------------


def debian_mirror() -> str:
    pattern = re.compile(r"^(?:URIs:|deb)\s+(https?://\S+/debian/?)(?:\s|$)", re.MULTILINE)
    sources = [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*")]
    for source in sources:
        try:
            match = pattern.search(source.read_text())
        except OSError:
            continue
        if match:
            return match[1]
    return "http://deb.debian.org/debian"


def ensure_base() -> None:
    """Debootstrap a minimal bookworm with systemd, python3-venv and jq, unless one is cached."""
    needed = (
        "usr/lib/systemd/systemd",
        "usr/bin/python3",
        "usr/lib/python3.11/ensurepip",
        "usr/bin/jq",
    )
    if all((BASE / path).exists() for path in needed):
        return
    shutil.rmtree(BASE, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            SUITE,
            str(BASE),
            debian_mirror(),
        ],
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"debootstrap failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    print(f"debootstrap: {time.monotonic() - started:.0f} s")


def fresh_rootfs() -> None:
    """This run's system: a copy of the pristine base (nothing of an earlier run survives)."""
    shutil.rmtree(ROOTFS, ignore_errors=True)
    run(["cp", "-a", "--reflink=auto", str(BASE), str(ROOTFS)])
    (ROOTFS / "etc/hostname").write_text(MACHINE + "\n")
    # debootstrap --variant=minbase writes no /etc/hosts: "localhost" would not resolve.
    write(ROOTFS / "etc/hosts", f"127.0.0.1 localhost {MACHINE}\n::1 localhost ip6-localhost\n")


def build_wheels() -> Path:
    """The package, its dependencies and its build backend as wheels, built on the host."""
    wheelhouse = WORK / "wheelhouse"
    shutil.rmtree(wheelhouse, ignore_errors=True)
    started = time.monotonic()
    # pip's cache goes under .cache/ too: the test leaves nothing outside the work tree.
    env = {**os.environ, "PIP_CACHE_DIR": str(WORK / "pip-cache")}
    backend = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "-w",
            str(wheelhouse),
            str(REPO),
            *backend,
        ],
        timeout=900,
        env=env,
    )
    print(f"pip wheel: {time.monotonic() - started:.0f} s")
    return wheelhouse


def copy_checkout(target: Path) -> None:
    """The repository as ``git clone`` would give it (tracked and new, not ignored, files)."""
    files = run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    ).stdout.split("\0")
    for name in filter(None, files):
        source = REPO / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


class Container:
    """A booted container; commands run in it through nsenter (no host systemd needed)."""

    def __init__(self) -> None:
        self.log = (WORK / "nspawn.log").open("wb")
        self.process = subprocess.Popen(
            [  # noqa: S607 - systemd-nspawn from PATH
                "systemd-nspawn",
                "-D",
                str(ROOTFS),
                "-M",
                MACHINE,
                "-b",
                "--register=no",
                "--keep-unit",
                "--console=read-only",
            ],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.leader = self._find_leader()

    def _find_leader(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nspawn exited: {(WORK / 'nspawn.log').read_text()[-3000:]}")
            children = run(["pgrep", "-P", str(self.process.pid)], check=False).stdout.split()
            for child in children:
                try:
                    if Path(f"/proc/{child}/comm").read_text().strip() == "systemd":
                        return int(child)
                except OSError:
                    continue
            time.sleep(0.2)
        raise AssertionError("no systemd PID 1 in the container")

    def __call__(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 120,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        extra = [f"{name}={value}" for name, value in (env or {}).items()]
        return run(
            [
                "nsenter",
                "-t",
                str(self.leader),
                "-a",
                "--",
                "env",
                "-i",
                f"PATH={ROOT_PATH}",
                "HOME=/root",
                "LANG=C.UTF-8",
                "SYSTEMD_PAGER=cat",
                "SYSTEMD_COLORS=0",
                *extra,
                *args,
            ],
            check=check,
            timeout=timeout,
        )

    def sh(
        self,
        command: str,
        *,
        check: bool = True,
        timeout: float = 300,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run *command* as root in a shell in the checkout, as the README's install does."""
        script = f"set -euo pipefail; cd {CHECKOUT}; {command}"
        return self("bash", "-c", script, check=check, timeout=timeout, env=env)

    def as_operator(
        self, command: str, *, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run *command* in a login shell of the group member (no credentials, no sudo)."""
        return self("runuser", "-l", OPERATOR, "-c", command, check=False, timeout=timeout)

    def show(self, prop: str, unit: str = "monitor.service") -> str:
        return self("systemctl", "show", "-P", prop, unit).stdout.strip()

    def wait_running(self) -> None:
        deadline = time.monotonic() + 90
        state = ""
        while time.monotonic() < deadline:
            state = self("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.3)
        raise AssertionError(f"container never finished booting: {state}")

    def sql(self, query: str, *parameters: object) -> list[tuple[object, ...]]:
        """Rows of *query* on the daemon's database (read-only, through the container's root)."""
        uri = f"file:{ROOTFS}/var/lib/monitor/monitor.db?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return list(db.execute(query, parameters))

    def stop(self) -> None:
        if self.process.poll() is None:
            self("systemctl", "poweroff", check=False, timeout=20)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
        # nspawn without a host systemd leaves empty cgroups and a propagation folder behind.
        for pattern in (
            "/sys/fs/cgroup/*/payload/init.scope",
            "/sys/fs/cgroup/*/payload",
            "/sys/fs/cgroup/*/supervisor",
            "/sys/fs/cgroup/payload/init.scope",
            "/sys/fs/cgroup/payload",
            "/sys/fs/cgroup/supervisor",
        ):
            for folder in sorted(Path("/").glob(pattern.lstrip("/")), reverse=True):
                with contextlib.suppress(OSError):
                    folder.rmdir()
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{MACHINE}", ignore_errors=True)


# -- what the operator and the test bring -------------------------------------------------------

SCENARIO = f"""
name = "system"

[[tenants]]
name = "system"
id = "{TENANT_ID}"
domain = "system.example"

[[apps]]
client_id = "{APP_ID}"
tenant = "system"
secrets = [{{ value = "{APP_SECRET}", end = "+30d" }}]

[[apps]]
client_id = "{PUBLIC_APP_ID}"
tenant = "system"
allow_public_client = true

[[users]]
upn = "{USER_UPN}"
password = "{USER_PASSWORD}"

[[environments]]
name = "system-prod"
tenant = "system"
members = [
  {{ app = "{APP_ID}", roles = ["Integration"] }},
  {{ user = "{USER_UPN}", roles = ["Integration"], access_mode = 4 }},
]
"""

SIMULATOR_UNIT = f"""[Unit]
Description=Entra ID / Dataverse simulator for the system test

[Service]
ExecStart=/opt/monitor/venv/bin/monitor simulator --scenario /etc/monitor-simulator/scenario.toml \\
  --port {PORT} --state-dir /var/lib/monitor-simulator
"""

# The shipped WatchdogSec=120 would make the restart test take minutes.
WATCHDOG_DROPIN = """[Service]
WatchdogSec=6
RestartSec=1
"""

# The operator's secrets, by the name the configuration references them with.
SECRETS = {
    "sales-sync-secret": APP_SECRET,
    "erp-import-password": USER_PASSWORD,
}

# `systemctl edit monitor` in a terminal, with this editor: it writes what the README asks for,
# one LoadCredential=NAME:/etc/monitor/credentials/NAME per secret.
EDITOR = "/usr/local/sbin/write-credentials-dropin"


def operator_config(mail_url_credential: str) -> str:
    """The configuration the operator writes over the installed example ("then edit it"): the
    example's [database] and [metrics] settings, this deployment's tenant and identities."""
    example = tomllib.loads((REPO / "config.example.toml").read_text())
    database, metrics = example["database"], example["metrics"]
    assert "read-write" == database["group_access"]
    return f"""
[network]
ca_bundle = "/var/lib/monitor-simulator/ca.pem"
probe_deadline_seconds = 10

[database]
path = "{database["path"]}"
fingerprint_key = {{ credential = "{database["fingerprint_key"]["credential"]}" }}
group_access = "{database["group_access"]}"

[metrics]
listen = "{metrics["listen"]}"

[schedule]
probe_interval_seconds = 3
probe_jitter_seconds = 0
password_probe_interval_seconds = 3
evaluate_interval_seconds = 3
dispatch_interval_seconds = 2
stop_timeout_seconds = 10

[tenants.system]
tenant_id = "{TENANT_ID}"
cloud = "custom"
authority_host = "https://localhost:{PORT}"
graph_url = "https://localhost:{PORT}/graph"

[environments.system-prod]
tenant = "system"
url = "https://localhost:{PORT}/env/system-prod"

[identities.sales-sync]
kind = "application"
tenant = "system"
client_id = "{APP_ID}"
secret = {{ credential = "sales-sync-secret" }}
environments = ["system-prod"]

[identities.erp-import]
kind = "user"
tenant = "system"
client_id = "{PUBLIC_APP_ID}"
username = "{USER_UPN}"
password = {{ credential = "erp-import-password" }}
environments = ["system-prod"]

[[channels]]
name = "ops-email"
urls = [{{ credential = "{mail_url_credential}" }}]
"""


def write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    path.chmod(mode)


def stage(wheelhouse: Path) -> None:
    """What is on the host before the README starts: the checkout, the wheels, the simulator
    (scenario, CA, unit) and the operator's editor. Nothing of monitor is installed."""
    from monitor.simulator.ca import ensure_tls_files

    copy_checkout(ROOTFS / CHECKOUT.lstrip("/"))
    shutil.copytree(wheelhouse, ROOTFS / "opt/wheelhouse")
    write(ROOTFS / "etc/monitor-simulator/scenario.toml", SCENARIO, 0o600)
    write(ROOTFS / "etc/systemd/system/monitor-simulator.service", SIMULATOR_UNIT)
    simulator_state = ROOTFS / "var/lib/monitor-simulator"
    ensure_tls_files(simulator_state)
    simulator_state.chmod(0o755)
    (simulator_state / "ca.pem").chmod(0o644)
    dropin = "[Service]\n" + "".join(
        f"LoadCredential={name}:/etc/monitor/credentials/{name}\n"
        for name in (*SECRETS, "ops-mail-url")
    )
    write(ROOTFS / "root/credentials-dropin.conf", dropin)
    write(
        ROOTFS / EDITOR.lstrip("/"),
        '#!/bin/sh\ncat /root/credentials-dropin.conf > "$1"\n',
        0o755,
    )


Hook = Callable[[], None]


def run_block(
    box: Container,
    tag: str,
    *,
    before: dict[str, Hook] | None = None,
    after: dict[str, Hook] | None = None,
    env: dict[str, str] | None = None,
) -> list[str]:
    """Run the README block *tag* as root, a line at a time; a hook runs before or after the
    line that starts with its key (every hook must find its line)."""
    before, after = dict(before or {}), dict(after or {})
    commands = readme_block(tag)
    for command in commands:
        for key in [k for k in before if command.startswith(k)]:
            before.pop(key)()
        if command.startswith("systemctl edit "):
            # An editor needs a terminal: systemctl refuses to edit without one.
            line = f"script -qec {shlex.quote(command)} /dev/null"
            box.sh(line, env={**(env or {}), "SYSTEMD_EDITOR": EDITOR})
        else:
            box.sh(command, env=env)
        for key in [k for k in after if command.startswith(k)]:
            after.pop(key)()
    assert not before, f"README <!-- {tag} -->: no line for {list(before)}"
    assert not after, f"README <!-- {tag} -->: no line for {list(after)}"
    return commands


def journal(box: Container, unit: str = "monitor.service") -> list[str]:
    return box("journalctl", "-b", "-u", unit, "-o", "cat", "--no-pager").stdout.splitlines()


def journal_entries(box: Container, unit: str = "monitor.service") -> list[dict[str, str]]:
    """Every journal entry of *unit* in this boot (``journalctl -o json``), as journald has it."""
    out = box("journalctl", "-b", "-u", unit, "-o", "json", "--no-pager").stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _field(value: str) -> object:
    """A structured value as logged: numbers, booleans and lists were written as JSON."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def json_events(box: Container) -> list[dict[str, object]]:
    """The monitor's own log records: each entry with an EVENT field, its fields by their
    lower-case names (``event``, ``identity``, ``outcome`` ...) and ``priority``."""
    events = []
    for entry in journal_entries(box):
        if "EVENT" not in entry or not isinstance(entry.get("MESSAGE"), str):
            continue
        event: dict[str, object] = {
            name.lower(): _field(value) if name != "EVENT" else value
            for name, value in entry.items()
            if not name.startswith("_") and name.isupper() and isinstance(value, str)
        }
        event["priority"] = int(entry.get("PRIORITY", "6"))
        events.append(event)
    return events


def wait_for(condition: Callable[[], object], timeout: float = 60, step: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


# -- the test -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mail() -> Iterator[SmtpReceiver]:
    receiver = SmtpReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


@pytest.fixture(scope="module")
def container() -> Iterator[Container]:
    reason = _why_not()
    if reason:
        pytest.skip(f"system test skipped: {reason}")
    ensure_base()
    wheelhouse = build_wheels()
    fresh_rootfs()
    stage(wheelhouse)
    started = time.monotonic()
    box = Container()
    try:
        box.wait_running()
        print(f"boot: {time.monotonic() - started:.1f} s")
        yield box
    finally:
        box.stop()


def test_readme_deployment_under_systemd(container: Container, mail: SmtpReceiver) -> None:
    """The whole life of a deployment, in order: the README's install, start, status,
    credentials, state, the group's shell commands, a silence, journal, metrics, reload,
    watchdog restart, security score, stop."""
    try:
        deploy(container, mail)
        check_the_unit(container)
        sign_in_through_systemd_run(container)
        the_group_without_credentials(container, mail)
        operating_it(container)
        metrics_inside(container)
        reload_tells_the_truth(container)
        watchdog_and_stop(container)
        the_group_while_stopped(container)
    except AssertionError:
        print("---- journal of monitor.service (last 40 lines) ----")
        print("\n".join(journal(container)[-40:]))
        print("---- journal of monitor-simulator.service (last 15 lines) ----")
        print("\n".join(journal(container, "monitor-simulator.service")[-15:]))
        raise


def deploy(box: Container, mail: SmtpReceiver) -> None:
    """The README's install block, line by line, with the operator's parts in between."""
    secrets = {**SECRETS, "ops-mail-url": mail.url()}

    def edit_config() -> None:
        write(ROOTFS / "etc/monitor/monitor.toml", operator_config("ops-mail-url"), 0o644)

    def put_secrets() -> None:
        for name, value in secrets.items():
            write(ROOTFS / "etc/monitor/credentials" / name, value, 0o644)  # chmod 600 follows

    def start_simulator_and_short_watchdog() -> None:
        write(
            ROOTFS / "etc/systemd/system/monitor.service.d/watchdog-for-test.conf", WATCHDOG_DROPIN
        )
        box("systemctl", "daemon-reload")
        box("systemctl", "start", "monitor-simulator.service")
        box(
            "bash",
            "-c",
            f"for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/{PORT}) "
            "2>/dev/null && exit 0; sleep 0.2; done; exit 1",
        )

    started = time.monotonic()
    commands = run_block(
        box,
        "deploy-install",
        after={"install -m 0644 config.example.toml /etc/monitor/monitor.toml": edit_config},
        before={
            "chmod 600 /etc/monitor/credentials/": put_secrets,
            "systemctl enable --now monitor": start_simulator_and_short_watchdog,
        },
        env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/opt/wheelhouse"},
    )
    print(f"README install ({len(commands)} commands): {time.monotonic() - started:.1f} s")
    assert "active" == box.show("ActiveState")
    assert "enabled" == box("systemctl", "is-enabled", "monitor").stdout.strip()
    # `systemctl edit` wrote the operator's drop-in; the service was given each credential.
    override = ROOTFS / "etc/systemd/system/monitor.service.d/override.conf"
    assert "LoadCredential=sales-sync-secret:" in override.read_text()
    stat = box("stat", "-c", "%U %G %a", "/etc/monitor/credentials").stdout.split()
    assert ["root", "root", "700"] == stat


def check_the_unit(box: Container) -> None:
    """READY, STATUS=, where the database is, the credentials, the journal of healthy probes."""
    exec_start = int(box.show("ExecMainStartTimestampMonotonic"))
    active_enter = int(box.show("ActiveEnterTimestampMonotonic"))
    ready_after = (active_enter - exec_start) / 1e6
    print(f"READY {ready_after:.2f} s after the process started")
    assert ready_after > 0.2  # Type=simple would be active at once; notify waits for READY=1
    started_event = next(e for e in json_events(box) if e["event"] == "daemon started")
    assert 2 == started_event["identities"]

    # STATUS= is visible and counts probes.
    assert "identities scheduled" in box.show("StatusText")
    wait_for(lambda: "pairs not ok" in box.show("StatusText"), timeout=60)
    print("StatusText:", box.show("StatusText"))

    # The database is where the example's [database] path says, in the StateDirectory, owned
    # by the static user; with group_access = "read-write" the group may use the files.
    stat = box(
        "bash", "-c", "stat -c '%n %U %G %a' /var/lib/monitor /var/lib/monitor/monitor.db*"
    ).stdout.splitlines()
    assert "/var/lib/monitor monitor monitor 2770" == stat[0]
    assert stat[1:], stat
    for line in stat[1:]:
        assert line.split()[1:] == ["monitor", "monitor", "660"], stat
    wait_for(
        lambda: box.sql("SELECT count(*) FROM probe_result WHERE outcome = 'ok'")[0][0] >= 2,  # type: ignore[operator]
        timeout=30,
    )

    # Secrets: only through $CREDENTIALS_DIRECTORY; the originals are unreadable to the service
    # user, and no secret value is in the journal.
    pid = box.show("MainPID")
    environ = box("cat", f"/proc/{pid}/environ").stdout.split("\0")
    assert "CREDENTIALS_DIRECTORY=/run/credentials/monitor.service" in environ
    denied = box(
        "setpriv",
        "--reuid=monitor",
        "--regid=monitor",
        "--clear-groups",
        "cat",
        "/etc/monitor/credentials/sales-sync-secret",
        check=False,
    )
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr

    # One entry per record with its priority and fields; one canonical entry per probe.
    events = json_events(box)
    probes = [e for e in events if e["event"] == "probe"]
    assert {"sales-sync", "erp-import"} <= {e["identity"] for e in probes}
    assert all(e["outcome"] == "ok" and e["priority"] == 6 for e in probes)
    assert any(line.startswith("probe identity=") for line in journal(box))


def sign_in_through_systemd_run(box: Container) -> None:
    """The README's way to run a command that signs in: as the service, with its credentials."""
    done = box.sh("\n".join(readme_block("deploy-sign-in")), check=False, timeout=120)
    assert 0 == done.returncode, (done.stdout, done.stderr)
    assert "sales-sync" in done.stdout, done.stdout
    assert "erp-import" in done.stdout, done.stdout


def the_group_without_credentials(box: Container, mail: SmtpReceiver) -> None:
    """A member of the `monitor` group runs the README's shell commands against the daemon's
    database, without credentials; the daemon honours the silence set from the shell."""
    readme = (REPO / "README.md").read_text()
    add_to_group = f"usermod -aG monitor {OPERATOR}"
    assert f"`{add_to_group}`" in readme
    box("useradd", "--create-home", "--shell", "/bin/bash", OPERATOR)
    box.sh(add_to_group)
    denied = box.as_operator("cat /etc/monitor/credentials/sales-sync-secret")
    assert denied.returncode != 0  # the group never sees the secrets

    commands = {uncommented(c).split()[1]: c for c in readme_block("deploy-group")}
    assert ["report", "check", "silence", "ack", "notify"] == list(commands)

    report = box.as_operator(commands["report"])
    assert 0 == report.returncode, (report.stdout, report.stderr)
    assert "sales-sync" in report.stdout
    assert "erp-import" in report.stdout
    stored = box.as_operator(commands["check"])
    assert 0 == stored.returncode, (stored.stdout, stored.stderr)
    assert stored.stdout.startswith("MONITOR OK"), stored.stdout
    silence = box.as_operator(commands["silence"])
    assert 0 == silence.returncode, (silence.stdout, silence.stderr)
    assert "sales-sync" in commands["silence"]
    assert [(OPERATOR,)] == box.sql(
        "SELECT created_by FROM silence WHERE identity = ?", "sales-sync"
    )

    # Break both identities: the silenced one's notice is held back, the other one's goes out.
    control = (
        "/opt/monitor/venv/bin/monitor simulator control --state-dir /var/lib/monitor-simulator"
    )
    box.sh(f"{control} revoke-secret {APP_ID}")
    box.sh(f"{control} disable-user {USER_UPN}")

    def incident(identity: str) -> int | None:
        rows = box.sql(
            "SELECT id FROM incident WHERE identity = ? AND resolved_at IS NULL", identity
        )
        return int(rows[0][0]) if rows else None  # type: ignore[call-overload]

    wait_for(lambda: incident("sales-sync") and incident("erp-import"), timeout=60)
    wait_for(lambda: any("erp-import" in m.subject for m in mail.messages), timeout=60)
    time.sleep(5)  # two more evaluations and deliveries: nothing for the silenced identity
    subjects = [m.subject for m in mail.messages]
    assert not any("sales-sync" in s for s in subjects), subjects
    sales = incident("sales-sync")
    notes = [
        str(n)
        for (n,) in box.sql("SELECT note FROM incident_transition WHERE incident_id = ?", sales)
    ]
    assert any(note.startswith("silenced") for note in notes), notes

    ack = box.as_operator(commands["ack"].replace("CM-42", f"CM-{sales}"))
    assert 0 == ack.returncode, (ack.stdout, ack.stderr)
    assert [(OPERATOR,)] == box.sql("SELECT acknowledged_by FROM incident WHERE id = ?", sales)
    outbox = box.as_operator(commands["notify"])
    assert 0 == outbox.returncode, (outbox.stdout, outbox.stderr)
    status = box.as_operator("monitor db status")
    assert 0 == status.returncode, (status.stdout, status.stderr)

    # The stored state now says CRITICAL, still without signing in.
    wait_for(lambda: box.as_operator(commands["check"]).returncode == 2, timeout=30)


def operating_it(box: Container) -> None:
    """The README's operating block: each command works and shows what it says it shows."""
    outputs: dict[str, subprocess.CompletedProcess[str]] = {}
    for command in readme_block("deploy-operate"):
        if command.startswith("journalctl -u monitor -f"):
            continue  # follows for ever
        outputs[uncommented(command)] = box.sh(command, check=False)
    failed = {c: (o.returncode, o.stderr) for c, o in outputs.items() if o.returncode != 0}
    assert not failed, failed

    def out(start: str) -> str:
        return next(o.stdout for c, o in outputs.items() if c.startswith(start))

    assert "STATUS" in out("systemctl status monitor") or "Status:" in out("systemctl status")
    warnings = out("journalctl -u monitor -p warning")
    assert "identity=sales-sync" in warnings
    assert "outcome=ok" not in warnings
    errors = out("journalctl -u monitor -p err")
    assert re.search(r"probe identity=sales-sync .*outcome=credential_invalid", errors), errors
    assert "outcome=ok" not in errors
    filtered = out("journalctl -u monitor EVENT=probe OUTCOME=credential_invalid")
    assert "identity=sales-sync" in filtered
    assert "identity=erp-import" not in filtered
    rows = [json.loads(line) for line in out("journalctl -u monitor -o json | jq").splitlines()]
    assert {
        "IDENTITY": "sales-sync",
        "ENVIRONMENT": "system-prod",
        "OUTCOME": "credential_invalid",
    } in rows
    assert all(row["OUTCOME"] != "ok" for row in rows)
    score = re.search(
        r"Overall exposure level for monitor\.service: (\d+\.\d)",
        out("systemd-analyze security monitor"),
    )
    assert score is not None
    offline_copy = WORK / "offline" / "monitor.service"
    offline_copy.parent.mkdir(exist_ok=True)
    offline_copy.write_text(
        re.sub(
            r"(?m)^ExecStart=.*$", "ExecStart=true", (REPO / "systemd/monitor.service").read_text()
        )
    )
    offline = run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(offline_copy)]
    ).stdout
    offline_score = re.search(r"Overall exposure level for monitor\.service: (\d+\.\d)", offline)
    assert offline_score is not None, offline
    print(f"exposure: online {score[1]}, offline {offline_score[1]}")
    assert score[1] == offline_score[1]
    assert float(score[1]) <= 1.5
    # The secrets never reached the journal.
    raw = box("journalctl", "-b", "-o", "json", "--no-pager").stdout
    for secret in SECRETS.values():
        assert secret not in raw


def metrics_inside(box: Container) -> None:
    """/metrics and /healthz answer on the loopback listener, inside the container."""
    listen = tomllib.loads((REPO / "config.example.toml").read_text())["metrics"]["listen"]
    fetch = (
        "import sys, urllib.request, urllib.error\n"
        "try:\n"
        f"    r = urllib.request.urlopen('http://{listen}' + sys.argv[1], timeout=10)\n"
        "    print(r.status); sys.stdout.write(r.read().decode())\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(e.code); sys.stdout.write(e.read().decode())\n"
    )

    def get(path: str) -> tuple[int, str]:
        done = box("/opt/monitor/venv/bin/python", "-c", fetch, path)
        status, _, body = done.stdout.partition("\n")
        return int(status), body

    status, body = get("/healthz")
    assert 200 == status, body
    status, scrape = get("/metrics")
    assert 200 == status
    success = re.search(
        r'^monitor_probe_success\{[^}]*identity="sales-sync"[^}]*\} (\S+)$', scrape, re.M
    )
    assert success is not None, scrape[:2000]
    assert 0.0 == float(success[1])
    assert re.search(r"^monitor_build_info\{", scrape, re.M)
    for secret in SECRETS.values():
        assert secret not in scrape
    assert 404 == get("/")[0]
    promtool = shutil.which("promtool")
    if promtool:  # .ci/run installs Debian's prometheus
        checked = subprocess.run(
            [promtool, "check", "metrics"],
            input=scrape,
            capture_output=True,
            text=True,
            check=False,
        )
        assert 0 == checked.returncode, checked.stdout + checked.stderr


def reload_tells_the_truth(box: Container) -> None:
    """On a system without procps, an invalid configuration fails `systemctl reload` and the
    daemon keeps running on the old one; a valid one reloads."""
    # A minimal Debian: no procps, so no /bin/kill for ExecReload= to lean on.
    assert not (ROOTFS / "usr/bin/kill").exists()
    assert not (ROOTFS / "bin/kill").exists()
    config = ROOTFS / "etc/monitor/monitor.toml"
    good = config.read_text()
    pid = box.show("MainPID")
    config.write_text(
        good.replace("probe_interval_seconds = 3\n", 'probe_interval_seconds = "often"\n', 1)
    )
    since = box("date", "+%Y-%m-%d %H:%M:%S").stdout.strip()
    failed = box("systemctl", "reload", "monitor", check=False)
    assert failed.returncode != 0
    assert "active" == box.show("ActiveState")
    assert pid == box.show("MainPID")
    problems = box(
        "journalctl", "-u", "monitor", "--since", since, "-o", "cat", "--no-pager"
    ).stdout
    assert "probe_interval_seconds" in problems, problems
    config.write_text(good)
    box("systemctl", "reload", "monitor")
    assert pid == box.show("MainPID")
    assert "active" == box.show("ActiveState")


def watchdog_and_stop(box: Container) -> None:
    """A stalled scheduler (SIGUSR2 test hook) gets the unit restarted; `stop` is clean."""
    old_pid, restarts = box.show("MainPID"), int(box.show("NRestarts"))
    box("systemctl", "kill", "-s", "SIGUSR2", "--kill-whom=main", "monitor.service")
    wait_for(lambda: int(box.show("NRestarts")) > restarts, timeout=40)
    wait_for(lambda: box.show("ActiveState") == "active", timeout=40)
    new_pid = box.show("MainPID")
    assert new_pid != old_pid
    full = box("journalctl", "-b", "-u", "monitor.service", "--no-pager").stdout
    assert "Watchdog timeout" in full
    assert any(str(e["event"]).startswith("scheduler stalled") for e in json_events(box))
    print(f"watchdog restart: MainPID {old_pid} -> {new_pid}")

    # systemctl stop is clean: STOPPING, every job ended, exit 0.
    wait_for(lambda: any(e["event"] == "probe" for e in json_events(box)), timeout=30)
    box("systemctl", "stop", "monitor.service")
    assert "inactive" == box.show("ActiveState")
    assert "success" == box.show("Result")
    assert "0" == box.show("ExecMainStatus")
    # Results of the last write window are committed (and their probe lines logged) while the
    # daemon stops: between STOPPING and the final line only probe lines may come.
    names = [e["event"] for e in json_events(box)]
    stopping = len(names) - 1 - names[::-1].index("stopping")
    assert "stopped" == names[-1]
    assert set(names[stopping + 1 : -1]) <= {"probe"}, names[stopping:]


def the_group_while_stopped(box: Container) -> None:
    """With the daemon stopped (no -wal and -shm files left), the group still reads and
    annotates the history; the daemon starts again on the same database."""
    assert [] == [p.name for p in (ROOTFS / "var/lib/monitor").glob("monitor.db-*")]
    report = box.as_operator("monitor report")
    assert 0 == report.returncode, (report.stdout, report.stderr)
    assert "not running" in report.stdout or "stopped" in report.stdout, report.stdout
    silence = box.as_operator(
        "monitor silence add --identity erp-import --until 1h --reason 'while stopped'"
    )
    assert 0 == silence.returncode, (silence.stdout, silence.stderr)
    box("systemctl", "start", "monitor.service")
    assert "active" == box.show("ActiveState")
    reasons = [r for (r,) in box.sql("SELECT reason FROM silence ORDER BY id")]
    assert ["while stopped"] == reasons[-1:]
    box("systemctl", "stop", "monitor.service")

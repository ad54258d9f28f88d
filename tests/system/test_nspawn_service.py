"""``monitor run`` under a real systemd: a Debian 12 rootfs booted with ``systemd-nspawn -b``.

The package is built as wheels on the host (``pip wheel``) and installed in a venv inside the
container; the shipped ``systemd/monitor.service`` and ``sysusers.d/monitor.conf`` are installed
as they are, with two drop-ins: the credentials of this deployment (as an operator adds them) and
a shorter ``WatchdogSec=`` / ``RestartSec=`` so the watchdog restart takes seconds, not minutes.
The simulator runs inside the container as its own unit.

It shows: ``systemctl start`` returns only after READY=1; STATUS= is visible; secrets come only
from ``$CREDENTIALS_DIRECTORY``; the database is in the StateDirectory; a stalled scheduler
(SIGUSR2 test hook) gets the unit restarted by the watchdog; ``systemctl stop`` is clean;
``journalctl -u monitor`` has one entry per record with its priority and fields; the online
security score equals the offline one.

Needs root, systemd-nspawn and debootstrap, and the network to reach a Debian mirror (and PyPI
for the wheels). The base rootfs is kept in ``.cache/system-test/`` inside the repository so a
second run boots in seconds. Marker ``system``: not part of the default run; ``.ci/run`` runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

pytestmark = [pytest.mark.system, pytest.mark.timeout(1500)]

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / ".cache" / "system-test"
ROOTFS = WORK / "rootfs"
MACHINE = "monitor-systest"
SUITE = "bookworm"
PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-venv"

TENANT_ID = "6a1c1f5e-2b7d-4c39-9a55-3f0e8d2b7c11"
APP_ID = "0f9d3c2a-5b7e-4d11-8c3a-7e2f6b1d9a01"
PUBLIC_APP_ID = "1e8c2b3d-6a7f-4e22-9d4b-8f3a7c2e0b02"
APP_SECRET = "SYS-app-secret-Qw8~3kPq9ZrT1mW"
USER_UPN = "svc-system@system.example"
USER_PASSWORD = "SYS-user-password-7hG2kL9q"
PORT = 8443


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


def ensure_rootfs() -> None:
    """Debootstrap a minimal bookworm with systemd and python3-venv, unless one is cached."""
    needed = ("usr/lib/systemd/systemd", "usr/bin/python3", "usr/lib/python3.11/ensurepip")
    if all((ROOTFS / path).exists() for path in needed):
        return
    shutil.rmtree(ROOTFS, ignore_errors=True)
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    done = run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={PACKAGES}",
            SUITE,
            str(ROOTFS),
            debian_mirror(),
        ],
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"debootstrap failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    print(f"debootstrap: {time.monotonic() - started:.0f} s")


def build_wheels() -> Path:
    """Build the package and its dependencies as wheels on the host."""
    wheelhouse = WORK / "wheelhouse"
    shutil.rmtree(wheelhouse, ignore_errors=True)
    started = time.monotonic()
    # pip's cache goes under .cache/ too: the test leaves nothing outside the work tree.
    env = {**os.environ, "PIP_CACHE_DIR": str(WORK / "pip-cache")}
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(wheelhouse), str(REPO)],
        timeout=900,
        env=env,
    )
    print(f"pip wheel: {time.monotonic() - started:.0f} s")
    return wheelhouse


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

CONFIG = f"""
[network]
ca_bundle = "/var/lib/monitor-simulator/ca.pem"
probe_deadline_seconds = 10

[schedule]
probe_interval_seconds = 3
probe_jitter_seconds = 0
password_probe_interval_seconds = 3
stop_timeout_seconds = 10

[tenants.system]
tenant_id = "{TENANT_ID}"
cloud = "custom"
authority_host = "https://localhost:{PORT}"
graph_url = "https://localhost:{PORT}/graph"

[environments.system-prod]
tenant = "system"
url = "https://localhost:{PORT}/env/system-prod"

[identities.app-secret]
kind = "application"
tenant = "system"
client_id = "{APP_ID}"
secret = {{ credential = "app-secret" }}
environments = ["system-prod"]

[identities.user-password]
kind = "user"
tenant = "system"
client_id = "{PUBLIC_APP_ID}"
username = "{USER_UPN}"
password = {{ credential = "user-password" }}
environments = ["system-prod"]
"""

SIMULATOR_UNIT = f"""[Unit]
Description=Entra ID / Dataverse simulator for the system test

[Service]
ExecStart=/opt/monitor/venv/bin/monitor simulator --scenario /etc/monitor/scenario.toml \\
  --port {PORT} --state-dir /var/lib/monitor-simulator

[Install]
WantedBy=multi-user.target
"""

CREDENTIALS_DROPIN = """[Service]
LoadCredential=app-secret:/etc/monitor/credentials/app-secret
LoadCredential=user-password:/etc/monitor/credentials/user-password
"""

# The shipped WatchdogSec=120 would make the restart test take minutes.
WATCHDOG_DROPIN = """[Service]
WatchdogSec=6
RestartSec=1
"""


def write(path: Path, text: str | bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    path.chmod(mode)


def install_payload(wheelhouse: Path) -> None:
    """Lay the shipped units, the configuration, secrets and wheels into the rootfs."""
    from monitor.simulator.ca import ensure_tls_files

    (ROOTFS / "etc/hostname").write_text(MACHINE + "\n")
    # debootstrap --variant=minbase writes no /etc/hosts: "localhost" would not resolve.
    write(ROOTFS / "etc/hosts", f"127.0.0.1 localhost {MACHINE}\n::1 localhost ip6-localhost\n")
    shutil.rmtree(ROOTFS / "var/lib/monitor", ignore_errors=True)
    shutil.rmtree(ROOTFS / "var/lib/private/monitor", ignore_errors=True)
    shutil.rmtree(ROOTFS / "opt/wheelhouse", ignore_errors=True)
    shutil.copytree(wheelhouse, ROOTFS / "opt/wheelhouse")
    system = REPO / "systemd"
    write(ROOTFS / "etc/systemd/system/monitor.service", (system / "monitor.service").read_text())
    write(ROOTFS / "etc/sysusers.d/monitor.conf", (system / "sysusers.d/monitor.conf").read_text())
    dropins = ROOTFS / "etc/systemd/system/monitor.service.d"
    shutil.rmtree(dropins, ignore_errors=True)
    write(dropins / "credentials.conf", CREDENTIALS_DROPIN)
    write(dropins / "watchdog-for-test.conf", WATCHDOG_DROPIN)
    write(ROOTFS / "etc/systemd/system/monitor-simulator.service", SIMULATOR_UNIT)
    write(ROOTFS / "etc/monitor/monitor.toml", CONFIG)
    write(ROOTFS / "etc/monitor/scenario.toml", SCENARIO, 0o600)
    credentials = ROOTFS / "etc/monitor/credentials"
    shutil.rmtree(credentials, ignore_errors=True)
    credentials.mkdir(mode=0o700, parents=True)
    write(credentials / "app-secret", APP_SECRET, 0o600)
    write(credentials / "user-password", USER_PASSWORD, 0o600)
    write(credentials / "fingerprint-key", os.urandom(32), 0o600)
    simulator_state = ROOTFS / "var/lib/monitor-simulator"
    ensure_tls_files(simulator_state)
    simulator_state.chmod(0o755)
    (simulator_state / "ca.pem").chmod(0o644)


class Container:
    """A booted container, commands run in it through nsenter (no host systemd needed)."""

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
        self, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return run(
            [
                "nsenter",
                "-t",
                str(self.leader),
                "-a",
                "--",
                "env",
                "-i",
                "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                "LANG=C.UTF-8",
                "SYSTEMD_PAGER=cat",
                "SYSTEMD_COLORS=0",
                *args,
            ],
            check=check,
            timeout=timeout,
        )

    def show(self, prop: str, unit: str = "monitor.service") -> str:
        return self("systemctl", "show", "-P", prop, unit).stdout.strip()

    def wait_running(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            state = self("systemctl", "is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.3)
        raise AssertionError(f"container never finished booting: {state}")

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


@pytest.fixture(scope="module")
def container() -> Iterator[Container]:
    reason = _why_not()
    if reason:
        pytest.skip(f"system test skipped: {reason}")
    ensure_rootfs()
    wheelhouse = build_wheels()
    install_payload(wheelhouse)
    started = time.monotonic()
    box = Container()
    try:
        box.wait_running()
        print(f"boot: {time.monotonic() - started:.1f} s")
        started = time.monotonic()
        box("python3", "-m", "venv", "/opt/monitor/venv", timeout=300)
        box(
            "/opt/monitor/venv/bin/pip",
            "install",
            "--quiet",
            "--no-index",
            "--find-links",
            "/opt/wheelhouse",
            "monitor",
            timeout=600,
        )
        print(f"venv + install: {time.monotonic() - started:.1f} s")
        box("systemd-sysusers")
        box("systemctl", "daemon-reload")
        box("systemctl", "start", "monitor-simulator.service")
        box(
            "bash",
            "-c",
            f"for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/{PORT}) "
            "2>/dev/null && exit 0; sleep 0.2; done; exit 1",
        )
        yield box
    finally:
        box.stop()


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


def wait_for(condition, timeout: float = 60, step: float = 0.5) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(step)
    raise AssertionError(f"condition not met within {timeout} s")


def test_monitor_under_systemd(container: Container) -> None:
    """The whole life of the unit, in order: start, status, credentials, state, journal,
    watchdog restart, security score, stop."""
    try:
        check_the_unit(container)
    except AssertionError:
        print("---- journal of monitor.service (last 40 lines) ----")
        print("\n".join(journal(container)[-40:]))
        print("---- journal of monitor-simulator.service (last 15 lines) ----")
        print("\n".join(journal(container, "monitor-simulator.service")[-15:]))
        raise


def check_the_unit(box: Container) -> None:

    # start returns only after READY=1: activation came well after the process started.
    started = time.monotonic()
    box("systemctl", "start", "monitor.service")
    start_seconds = time.monotonic() - started
    assert "active" == box.show("ActiveState")
    exec_start = int(box.show("ExecMainStartTimestampMonotonic"))
    active_enter = int(box.show("ActiveEnterTimestampMonotonic"))
    ready_after = (active_enter - exec_start) / 1e6
    print(
        f"systemctl start returned after {start_seconds:.2f} s; READY {ready_after:.2f} s "
        "after the process started"
    )
    assert ready_after > 0.2  # Type=simple would be active at once; notify waits for READY=1
    started_event = next(e for e in json_events(box) if e["event"] == "daemon started")
    assert 2 == started_event["identities"]

    # STATUS= is visible and counts probes.
    assert "identities scheduled" in box.show("StatusText")
    wait_for(lambda: "pairs not ok" in box.show("StatusText"), timeout=60)
    print("StatusText:", box.show("StatusText"))

    # The database lives in the StateDirectory, owned by the static user, private.
    stat = box("stat", "-c", "%U %a", "/var/lib/monitor", "/var/lib/monitor/monitor.db").stdout
    assert ["monitor 750", "monitor 600"] == stat.split("\n")[:2]
    counts = box(
        "/opt/monitor/venv/bin/python",
        "-c",
        "import sqlite3; c = sqlite3.connect('file:/var/lib/monitor/monitor.db?mode=ro', "
        "uri=True); print(c.execute(\"SELECT count(*) FROM probe_result WHERE outcome = 'ok'\")"
        ".fetchone()[0])",
    ).stdout
    assert int(counts) >= 2

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
        "/etc/monitor/credentials/app-secret",
        check=False,
    )
    assert denied.returncode != 0
    assert "Permission denied" in denied.stderr
    lines = journal(box)
    assert not any(APP_SECRET in line or USER_PASSWORD in line for line in lines)
    raw = box("journalctl", "-b", "-u", "monitor.service", "-o", "json", "--no-pager").stdout
    assert APP_SECRET not in raw
    assert USER_PASSWORD not in raw

    # journalctl -u monitor: one entry per record with its priority and fields, one canonical
    # entry per probe; `journalctl -p warning` shows no healthy probe.
    events = json_events(box)
    probes = [e for e in events if e["event"] == "probe"]
    assert {"app-secret", "user-password"} <= {e["identity"] for e in probes}
    assert all(e["outcome"] == "ok" and e["priority"] == 6 for e in probes)
    assert any(line.startswith("probe identity=") for line in lines)
    warnings = box(
        "journalctl", "-b", "-u", "monitor.service", "-p", "warning", "-o", "cat", "--no-pager"
    ).stdout
    assert "outcome=ok" not in warnings

    # A stalled scheduler (SIGUSR2 test hook) stops the pings; the watchdog restarts the unit.
    old_pid, restarts = box.show("MainPID"), int(box.show("NRestarts"))
    box("systemctl", "kill", "-s", "SIGUSR2", "--kill-whom=main", "monitor.service")
    wait_for(lambda: int(box.show("NRestarts")) > restarts, timeout=40)
    wait_for(lambda: box.show("ActiveState") == "active", timeout=40)
    new_pid = box.show("MainPID")
    assert new_pid != old_pid
    full = box("journalctl", "-b", "-u", "monitor.service", "--no-pager").stdout
    assert "Watchdog timeout" in full
    assert any(e["event"].startswith("scheduler stalled") for e in json_events(box))
    print(f"watchdog restart: MainPID {old_pid} -> {new_pid}")

    # The online security score agrees with the offline score of the shipped file.
    online = box("systemd-analyze", "security", "monitor.service", "--no-pager").stdout
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
    score = re.compile(r"Overall exposure level for monitor\.service: (\d+\.\d)")
    online_score, offline_score = score.search(online), score.search(offline)
    assert online_score is not None, online
    assert offline_score is not None, offline
    print(f"exposure: online {online_score[1]}, offline {offline_score[1]}")
    assert online_score[1] == offline_score[1]

    # systemctl stop is clean: STOPPING, every job ended, exit 0.
    wait_for(
        lambda: any(e["event"] == "probe" for e in json_events(box)),
        timeout=30,
    )
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

"""``monitor reload`` (the unit's ``ExecReload=``) beside the real daemon: an invalid
configuration fails the reload and never reaches the daemon; one that only the daemon can judge
(its secrets) is refused by the daemon, and the command reports the daemon's verdict; a valid one
is reloaded."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from support.daemon import FAST_SCHEDULE, DaemonProcess, append_config
from support.deployment import Deployment, write_deployment

from monitor.simulator import Simulator

pytestmark = pytest.mark.e2e


@pytest.fixture
def deployment(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> Deployment:
    deployed = write_deployment(
        tmp_path / "deployment", sim, certificate[0], identities=["app-secret"]
    )
    append_config(deployed, FAST_SCHEDULE)
    return deployed


def test_an_invalid_configuration_fails_the_reload_and_the_daemon_keeps_running(
    deployment: Deployment,
) -> None:
    """With a broken file, `monitor reload $MAINPID` exits 78 naming the problem; the daemon is
    not signalled (it logs no reload attempt) and goes on probing. Fixed, the reload exits 0
    and the daemon reloads."""
    good = deployment.config.read_text()
    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("probe")
        deployment.config.write_text(good.replace('kind = "application"', 'kind = "robot"'))

        refused = deployment.run("reload", extra_env={"MAINPID": str(daemon.pid)})
        probes_before = len([e for e in daemon.events() if e.get("event") == "probe"])
        daemon.wait_for_event(
            "probe",
            lambda _e: (
                len([e for e in daemon.events() if e.get("event") == "probe"]) > probes_before
            ),
        )
        events_after_refusal = [e.get("event", "") for e in daemon.events()]

        deployment.config.write_text(good)
        accepted = deployment.run("reload", str(daemon.pid))
        daemon.wait_for_event("configuration reloaded")
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()

    assert 78 == refused.returncode
    assert "identities.app-secret.kind" in refused.stderr
    assert "not reloaded" in refused.stderr
    assert not [event for event in events_after_refusal if event.startswith("reload")]
    assert (0, "") == (accepted.returncode, accepted.stderr)
    assert f"process {daemon.pid} reloaded the configuration" in accepted.stdout


def test_the_daemon_judges_what_the_command_cannot_read(deployment: Deployment) -> None:
    """As under systemd 252, the command may not read the credentials: a configuration whose
    secret reference only the daemon can check passes the command's own check, the daemon
    refuses it, and the command exits 78 with the daemon's problem; the daemon keeps its
    configuration, and a later valid reload is answered 0."""
    good = deployment.config.read_text()
    no_secrets = {"CREDENTIALS_DIRECTORY": ""}
    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("probe")
        deployment.config.write_text(
            good.replace('credential = "app-secret"', 'credential = "gone"')
        )
        refused = deployment.run("reload", str(daemon.pid), extra_env=no_secrets)
        daemon.wait_for_event(
            "reload refused: the configuration is invalid; the running configuration stays"
        )
        deployment.config.write_text(good)
        accepted = deployment.run("reload", str(daemon.pid), extra_env=no_secrets)
        daemon.wait_for_event("configuration reloaded")
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()

    assert 78 == refused.returncode, refused.stderr
    assert "identities.app-secret.secret" in refused.stderr
    assert "'gone'" in refused.stderr or "gone" in refused.stderr
    assert "not reloaded" in refused.stderr
    assert 0 == accepted.returncode, accepted.stderr
    # Nothing is left in the reload folder.
    assert [] == sorted(p.name for p in (deployment.database.parent / "reload").iterdir())


def test_a_daemon_that_does_not_answer_fails_the_reload(
    deployment: Deployment, tmp_path: Path
) -> None:
    """A process that takes the signal but never answers: exit 1 after --timeout, and the
    request is withdrawn."""
    folder = deployment.database.parent / "reload"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    deaf = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
            "print(1, flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert deaf.stdout is not None
        assert deaf.stdout.readline()
        silent = deployment.run("reload", "--timeout", "0.5", str(deaf.pid))
    finally:
        deaf.kill()
        deaf.wait()
        deaf.stdout.close()
    assert 1 == silent.returncode
    assert "gave no verdict within 0.5 s" in silent.stderr
    assert [] == list(folder.iterdir())


def test_reload_without_a_process_id_or_process_says_so(deployment: Deployment) -> None:
    """No PID and no $MAINPID: exit 2; a PID that is not running: exit 1."""
    no_pid = deployment.run("reload", extra_env={"MAINPID": ""})
    gone = deployment.run("reload", "999999999")

    assert 2 == no_pid.returncode
    assert "$MAINPID" in no_pid.stderr
    assert (1, "monitor reload: no process 999999999\n") == (gone.returncode, gone.stderr)

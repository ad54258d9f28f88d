"""``monitor reload`` (the unit's ``ExecReload=``) beside the real daemon: an invalid
configuration fails the reload and never reaches the daemon; a valid one is reloaded."""

from __future__ import annotations

import signal
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
    assert f"process {daemon.pid} told to reload it" in accepted.stdout


def test_reload_without_a_process_id_or_process_says_so(deployment: Deployment) -> None:
    """No PID and no $MAINPID: exit 2; a PID that is not running: exit 1."""
    no_pid = deployment.run("reload", extra_env={"MAINPID": ""})
    gone = deployment.run("reload", "999999999")

    assert 2 == no_pid.returncode
    assert "$MAINPID" in no_pid.stderr
    assert (1, "monitor reload: no process 999999999\n") == (gone.returncode, gone.stderr)

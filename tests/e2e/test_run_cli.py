"""``monitor run`` end to end: the real CLI daemon against the simulator over TLS, with
``monitor report`` run beside it, and the configuration error exit code."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from cryptography import x509
from support.daemon import FAST_SCHEDULE, DaemonProcess, append_config
from support.deployment import APP_SECRET, USER_PASSWORD, Deployment, write_deployment

from monitor.simulator import Simulator

pytestmark = pytest.mark.e2e

IDENTITIES = ("app-secret", "app-cert", "user-password")


@pytest.fixture
def deployment(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> Deployment:
    deployed = write_deployment(tmp_path / "deployment", sim, certificate[0], deadline_seconds=3)
    append_config(deployed, FAST_SCHEDULE)
    return deployed


def test_report_beside_the_running_daemon(deployment: Deployment) -> None:
    """`monitor report --json` five times while the daemon records every second: every run
    succeeds, none meets a locked database, and the board shows every identity with the state
    the daemon recorded for it."""
    outputs = []
    with DaemonProcess(deployment) as daemon:
        for identity in IDENTITIES:  # a probe line follows its result's commit
            daemon.wait_for_event("probe", lambda event, name=identity: event["identity"] == name)
        for _ in range(5):
            done = deployment.run("report", "--json")
            outputs.append(done)
            time.sleep(0.3)
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()
        log = daemon.text()

    expected = {identity: ("ok", "e2e-prod") for identity in IDENTITIES}
    for done in outputs:
        assert (0, "") == (done.returncode, done.stderr)
        board = json.loads(done.stdout)
        assert "board" == board["view"]
        assert expected == {
            row["identity"]: (row["state"], row["environments"]) for row in board["identities"]
        }
    assert "database is locked" not in log


def test_secrets_never_reach_the_daemon_log(deployment: Deployment) -> None:
    """Secrets come from $CREDENTIALS_DIRECTORY; at DEBUG no secret value is in the output."""
    append_config(deployment, '\n[logging]\nlevel = "debug"\n')
    with DaemonProcess(deployment) as daemon:
        daemon.wait_for_event("probe")
        daemon.signal(signal.SIGTERM)
        assert 0 == daemon.wait()
        text = daemon.text()

    assert '"level": "debug"' in text
    assert APP_SECRET not in text
    assert USER_PASSWORD not in text


def test_invalid_configuration_exits_78(deployment: Deployment) -> None:
    """A configuration error at start is EX_CONFIG, with the problem on standard error."""
    append_config(deployment, "\n[retention]\nprobe_results_days = 0\n")

    done = deployment.run("run", timeout=30)

    assert 78 == done.returncode
    assert "retention.probe_results_days" in done.stderr

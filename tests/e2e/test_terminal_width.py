"""``monitor check``'s table uses a terminal wider than 100 columns (``COLUMNS``) instead of
clipping DETAIL, and keeps its 100-column form without one."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from support.deployment import SECRET_APP, write_deployment

from monitor.simulator import Simulator
from monitor.simulator.control import perform

pytestmark = pytest.mark.e2e

DETAIL = "AADSTS7000222 the client secret or certificate has expired"


def test_check_detail_is_whole_on_a_wide_terminal(
    tmp_path: Path, sim: Simulator, certificate: tuple[bytes, x509.Certificate]
) -> None:
    """An expired secret: COLUMNS=160 shows the whole DETAIL in the row; without COLUMNS the
    row clips it at 44 characters, as before."""
    deployment = write_deployment(tmp_path, sim, certificate[0], identities=["app-secret"])
    perform(sim, "expire-secret", {"client_id": SECRET_APP})

    wide = deployment.run("check", "--no-notify", extra_env={"COLUMNS": "160"})
    narrow = deployment.run("check", "--no-notify", extra_env={"COLUMNS": ""})

    row = next(line for line in wide.stdout.splitlines() if line.startswith("app-secret "))
    clipped = next(line for line in narrow.stdout.splitlines() if line.startswith("app-secret "))
    assert (2, 2) == (wide.returncode, narrow.returncode)
    assert row.endswith(DETAIL)
    assert clipped.endswith(DETAIL[:43] + "…")

"""``monitor usage import | record | show`` in-process, on a real database."""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.usage import LICENSED_REPORT, NAMED_USER, NON_LICENSED_REPORT

from monitor.cli import main
from monitor.usage.csv_import import MAX_REPORT_BYTES

TENANT_ID = "3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70"
OTHER_TENANT_ID = "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d"


def write_config(tmp_path: Path, *, second_tenant: bool = False) -> Path:
    text = f"""
[database]
path = "state/monitor.db"

[tenants.contoso]
tenant_id = "{TENANT_ID}"

[environments.contoso-prod]
tenant = "contoso"
url = "https://contoso.crm.dynamics.com"

[identities.dataverse-sync]
kind = "user"
tenant = "contoso"
client_id = "2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a"
username = "svc-sync@contoso.com"
password = {{ env = "SYNC_PASSWORD" }}
environments = ["contoso-prod"]
licences = ["DYN365_ENTERPRISE_TEAM_MEMBERS"]
"""
    if second_tenant:
        text += f"""
[tenants.fabrikam]
tenant_id = "{OTHER_TENANT_ID}"
"""
    path = tmp_path / "monitor.toml"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNC_PASSWORD", "a-test-password")


def database(tmp_path: Path) -> Path:
    return tmp_path / "state" / "monitor.db"


def rows(tmp_path: Path, table: str) -> int:
    with sqlite3.connect(database(tmp_path)) as connection:
        (number,) = connection.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608
    return int(number)


def test_import_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The first import reports its rows and unmatched callers; the second changes nothing."""
    config = str(write_config(tmp_path))

    first = main(["--config", config, "usage", "import", str(LICENSED_REPORT)])
    out = capsys.readouterr().out
    second = main(["--config", config, "usage", "import", str(LICENSED_REPORT)])
    again = capsys.readouterr().out

    assert (0, 0) == (first, second)
    assert (
        "imported Licensed User report licensed-user-report.csv for tenant contoso: 6 rows "
        "(2026-03-01 .. 2026-03-02): 6 new, 0 updated, 0 unchanged"
    ) == out.splitlines()[0]
    assert "3 callers match no identity" in out
    assert "already imported on" in again
    assert "nothing changed" in again
    assert (6, 1) == (rows(tmp_path, "usage_report_row"), rows(tmp_path, "usage_import"))


def test_malformed_file_is_refused_and_nothing_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file with a bad line 4 is refused naming it; no row and no import record is stored."""
    config = str(write_config(tmp_path))
    lines = LICENSED_REPORT.read_text(encoding="utf-8-sig").splitlines()
    lines[3] = lines[3].replace(",33900,", ",thirty-three thousand,")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")

    code = main(["--config", config, "usage", "import", str(bad)])

    err = capsys.readouterr().err
    assert 65 == code
    assert f"monitor usage import: {bad}: refused, nothing imported:" in err
    assert "line 4: Total consumed quantity: expected a number of requests" in err
    assert (0, 0) == (rows(tmp_path, "usage_report_row"), rows(tmp_path, "usage_import"))


def test_import_needs_a_tenant_when_it_cannot_tell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two tenants and no matched caller: --tenant is required; with it the import works."""
    config = str(write_config(tmp_path, second_tenant=True))

    code = main(["--config", config, "usage", "import", str(NON_LICENSED_REPORT)])
    assert 2 == code
    assert "pass --tenant NAME" in capsys.readouterr().err
    assert 2 == main(
        ["--config", config, "usage", "import", "--tenant", "nope", str(NON_LICENSED_REPORT)]
    )
    code = main(
        [
            "--config",
            config,
            "usage",
            "import",
            "--tenant",
            "fabrikam",
            "--json",
            str(NON_LICENSED_REPORT),
        ]
    )
    capsys.readouterr()
    assert 0 == code


def test_import_infers_the_tenant_from_a_matched_caller(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two tenants, but a row names a configured identity of one: that tenant."""
    path = write_config(tmp_path, second_tenant=True)
    path.write_text(
        path.read_text().replace(
            'licences = ["DYN365_ENTERPRISE_TEAM_MEMBERS"]',
            f'licences = ["DYN365_ENTERPRISE_TEAM_MEMBERS"]\nobject_id = "{NAMED_USER}"',
        )
    )

    code = main(["--config", str(path), "usage", "import", "--json", str(LICENSED_REPORT)])

    summary = json.loads(capsys.readouterr().out)
    assert 0 == code
    assert ("contoso", {"dataverse-sync": 66_000}) == (
        summary["tenant"],
        summary["matched_requests"],
    )


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing file is refused (exit 65, EX_DATAERR)."""
    config = str(write_config(tmp_path))

    assert 65 == main(["--config", config, "usage", "import", str(tmp_path / "nope.csv")])
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["/dev/zero", "fifo", "oversized"])
def test_only_a_regular_file_of_bounded_size_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    """/dev/zero (endless), a FIFO (whose open would block) and a file over the size limit are
    refused before anything is read: one line, exit 65, nothing stored."""
    config = str(write_config(tmp_path))
    target = Path("/dev/zero")
    expected = "/dev/zero is not a regular file"
    if kind == "fifo":
        target = tmp_path / "report.csv"
        os.mkfifo(target)
        expected = f"{target} is not a regular file"
    elif kind == "oversized":
        target = tmp_path / "report.csv"
        with target.open("wb") as file:
            file.truncate(MAX_REPORT_BYTES + 1)  # sparse: nothing is written
        expected = f"{target} has {MAX_REPORT_BYTES + 1:,} bytes; a report has at most"

    code = main(["--config", config, "usage", "import", str(target)])

    err = capsys.readouterr().err.splitlines()
    assert 65 == code
    assert 1 == len(err)
    assert err[0].startswith(f"monitor usage import: {expected}")
    assert err[0].endswith("; nothing imported")
    assert (0, 0) == (rows(tmp_path, "usage_report_row"), rows(tmp_path, "usage_import"))


def test_record_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A pushed count of 5,400 for a Team Member (6,000) shows as 90% and a WARNING (exit 1);
    recording again replaces it."""
    config = str(write_config(tmp_path))

    assert 0 == main(
        [
            "--config",
            config,
            "usage",
            "record",
            "--identity",
            "dataverse-sync",
            "--environment",
            "contoso-prod",
            "--count",
            "5000",
        ]
    )
    assert 0 == main(
        [
            "--config",
            config,
            "usage",
            "record",
            "--identity",
            "dataverse-sync",
            "--environment",
            "contoso-prod",
            "--count",
            "5400",
        ]
    )
    out = capsys.readouterr().out
    today = datetime.now(UTC).date().isoformat()
    assert f"recorded 5,400 requests for dataverse-sync in contoso-prod on {today} (was 5,000)" in (
        out
    )

    code = main(["--config", config, "usage", "show"])
    shown = capsys.readouterr().out

    assert 1 == code
    assert "allocation: 6,000 requests per 24 h" in shown
    assert "Dynamics 365 Team Members (DYN365_ENTERPRISE_TEAM_MEMBERS): 6,000" in shown
    assert f"{today}: 5,400 requests (90%), recorded by the integration" in shown
    assert "WARNING 24-hour Power Platform request allocation: dataverse-sync used 5,400" in shown

    assert 1 == main(["--config", config, "usage", "show", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert ["warning"] == [finding["level"] for finding in document["findings"]]
    assert 6000 == document["identities"][0]["allocation"]["requests"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--identity", "nobody", "--environment", "contoso-prod", "--count", "1"],
            "unknown identity 'nobody'",
        ),
        (
            ["--identity", "dataverse-sync", "--environment", "elsewhere", "--count", "1"],
            "does not use environment 'elsewhere'",
        ),
        (
            ["--identity", "dataverse-sync", "--environment", "contoso-prod", "--count", "-1"],
            "--count must be 0 or more",
        ),
        (
            ["--identity", "dataverse-sync", "--environment", "contoso-prod", "--count", "9" * 19],
            "--count must be 0 or more and at most 1,000,000,000,000",
        ),
        (
            [
                "--identity",
                "dataverse-sync",
                "--environment",
                "contoso-prod",
                "--count",
                "1",
                "--date",
                "03/01/2026",
            ],
            "is not a date",
        ),
        (
            [
                "--identity",
                "dataverse-sync",
                "--environment",
                "contoso-prod",
                "--count",
                "1",
                "--date",
                (datetime.now(UTC).date() + timedelta(days=2)).isoformat(),
            ],
            "in the future",
        ),
        (
            [
                "--identity",
                "dataverse-sync",
                "--environment",
                "contoso-prod",
                "--count",
                "1",
                "--date",
                "0001-01-01",
            ],
            "--date 0001-01-01 is more than 3660 days ago",
        ),
    ],
)
def test_record_refuses_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    """Unknown names, negative counts or counts beyond any allocation (2**63 would overflow the
    database), bad or future dates: exit 2 and nothing stored."""
    config = str(write_config(tmp_path))

    assert 2 == main(["--config", config, "usage", "record", *arguments])
    assert message in capsys.readouterr().err
    assert 0 == rows(tmp_path, "usage_recorded")


def test_show_without_a_database_is_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No database yet: exit 3, one line saying so."""
    config = str(write_config(tmp_path))

    assert 3 == main(["--config", config, "usage", "show"])
    assert "no database" in capsys.readouterr().err
    assert 2 == main(["--config", config, "usage", "show", "--identity", "nobody"])

"""``monitor config validate`` and ``monitor config show`` through the real argument parser."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from config_testkit import MINIMAL, SECRET_VALUE, WriteConfig, WriteSecret

from monitor import cli
from monitor.exits import EXIT_CONFIG

Main = Callable[[Sequence[str] | None], int]


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch) -> Main:
    """Return monitor.cli.main with only the config command registered.

    The parser, the global --config option and the dispatch are the real ones; the other commands
    are other units with their own tests (and import heavier things).
    """
    monkeypatch.setattr(cli, "COMMANDS", {"config": "config"})
    monkeypatch.setenv("SALES_SECRET", SECRET_VALUE)
    for name in ("CREDENTIALS_DIRECTORY", "STATE_DIRECTORY", "MONITOR_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return cli.main


def test_validate_good_config(
    main: Main, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """A usable configuration: exit 0 and a one-line summary."""
    path = write_config(MINIMAL)

    code = main(["--config", str(path), "config", "validate"])

    out, err = capsys.readouterr()
    assert (code, out, err) == (0, "OK: 1 tenants, 1 environments, 1 identities\n", "")


def test_validate_bad_config_exits_78(
    main: Main, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unusable configuration: exit 78 (EX_CONFIG) and every problem on stderr."""
    path = write_config(MINIMAL.replace('kind = "application"', 'kind = "app"') + "extra = 1\n")

    code = main(["-c", str(path), "config", "validate"])

    out, err = capsys.readouterr()
    assert code == EXIT_CONFIG == 78
    assert out == ""
    assert err.splitlines() == [
        f"{path}: 2 configuration problems:",
        '  identities.sales-sync.kind: expected one of "application", "user", found "app"',
        "  identities.sales-sync.extra: expected one of the keys kind, tenant, client_id, "
        "environments, owner, tags, secret, certificate, certificate_passphrase, username, "
        "password, credential_expires, credential_expires_source, credential_key_id, licences, "
        "object_id, found "
        "unknown key 'extra'; hint: remove it, or check the spelling against "
        "config.example.toml",
    ]


def test_an_endless_ca_bundle_is_a_configuration_error(
    main: Main, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """`network.ca_bundle = "/dev/zero"` is reported at once (exit 78), never read."""
    path = write_config(f'[network]\nca_bundle = "/dev/zero"\n{MINIMAL}')

    code = main(["--config", str(path), "config", "validate"])

    out, err = capsys.readouterr()
    assert (EXIT_CONFIG, "") == (code, out)
    assert [
        f"{path}: 1 configuration problem:",
        "  network.ca_bundle: expected a readable PEM file with at least one CA certificate, "
        "found '/dev/zero', which is not a regular file; hint: point to the CA bundle file "
        "(PEM), or leave ca_bundle out for the system store",
    ] == err.splitlines()


@pytest.mark.parametrize(
    "nested",
    [
        "x = " + "[" * 800 + "]" * 800,
        "x = " + "{ a = " * 800 + "1" + " }" * 800,
    ],
    ids=["arrays", "inline tables"],
)
def test_deeply_nested_toml_is_a_configuration_error(
    main: Main, write_config: WriteConfig, capsys: pytest.CaptureFixture[str], nested: str
) -> None:
    """800 levels of nested arrays or inline tables (which exhaust the TOML parser's recursion)
    are one configuration problem, exit 78, not a traceback."""
    path = write_config(f"{MINIMAL}\n{nested}\n")

    code = main(["--config", str(path), "config", "validate"])

    out, err = capsys.readouterr()
    assert (EXIT_CONFIG, "") == (code, out)
    assert [
        f"{path}: 1 configuration problem:",
        "  (file): expected valid TOML, found arrays or inline tables nested hundreds of levels "
        "deep; hint: the monitor's configuration nests at most a few levels; check the file is "
        "the right one",
    ] == err.splitlines()


def test_validate_missing_config_exits_78(
    main: Main, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A missing file is a configuration error too."""
    code = main(["--config", str(tmp_path / "nope.toml"), "config", "validate"])

    assert code == EXIT_CONFIG
    assert "expected a configuration file, found no such file" in capsys.readouterr().err


def test_validate_uses_monitor_config_variable(
    main: Main,
    write_config: WriteConfig,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --config, $MONITOR_CONFIG names the file."""
    monkeypatch.setenv("MONITOR_CONFIG", str(write_config(MINIMAL)))

    assert main(["config", "validate"]) == 0
    assert capsys.readouterr().out.startswith("OK: ")


def test_show_prints_secrets_by_source_only(
    main: Main,
    write_config: WriteConfig,
    write_secret: WriteSecret,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``config show`` resolves defaults and endpoints and shows secrets only by their source."""
    password = write_secret("password", "correct horse battery staple")
    path = write_config(
        '[network]\nproxy = "http://proxy-user:proxy-pass-9876@proxy.example.com:3128"\n'
        + MINIMAL
        + f"""
[identities."svc.user"]
kind = "user"
tenant = "contoso"
client_id = "2d8f6a14-7b3c-4d5e-8f9a-0b1c2d3e4f5a"
username = "svc@contoso.com"
password = {{ file = "{password}" }}
environments = ["contoso-prod"]
"""
    )

    code = main(["--config", str(path), "config", "show"])

    out = capsys.readouterr().out
    assert code == 0
    assert 'secret = "<secret from env:SALES_SECRET>"' in out
    assert f'password = "<secret from file:{password}>"' in out
    assert 'proxy = "http://proxy-user:********@proxy.example.com:3128"' in out
    assert 'authority_host = "https://login.microsoftonline.com"' in out
    assert f'path = "{path.parent / "monitor.db"}"' in out
    assert '[identities."svc.user"]' in out
    for value in (SECRET_VALUE, "correct horse battery staple", "proxy-pass-9876"):
        assert value not in out


def test_show_bad_config_exits_78(
    main: Main, write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    """``config show`` refuses an unusable configuration the same way."""
    path = write_config("[tenants]\n")

    assert main(["--config", str(path), "config", "show"]) == EXIT_CONFIG
    assert capsys.readouterr().err.startswith(f"{path}: ")


def test_config_needs_a_subcommand(main: Main, capsys: pytest.CaptureFixture[str]) -> None:
    """``monitor config`` alone is a usage error (argparse exit 2)."""
    with pytest.raises(SystemExit) as info:
        main(["config"])

    assert info.value.code == 2
    assert "validate" in capsys.readouterr().err

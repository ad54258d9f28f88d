"""config.example.toml stays true: it loads, and it mentions every option the schema knows."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from config_testkit import PASSPHRASE_FOR_EXAMPLE, CertificateFiles

from monitor.config import Config, load_config
from monitor.config.schema import ArrayOfTables, NamedTables, Table, ValueType
from monitor.config.sections import ROOT

EXAMPLE = Path(__file__).resolve().parents[3] / "config.example.toml"


def write_private(path: Path, data: bytes) -> None:
    """Write *data* to *path* with mode 0600 (parents 0700)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_bytes(data)
    path.chmod(0o600)


@pytest.fixture
def example(tmp_path: Path, certificate_files: CertificateFiles) -> tuple[Path, Path]:
    """Copy the example to a directory with every secret it refers to; return (config, creds)."""
    config = tmp_path / "monitor.toml"
    shutil.copyfile(EXAMPLE, config)
    credentials = tmp_path / "credentials"
    write_private(tmp_path / "certs" / "inventory-sync.pem", certificate_files.pem)
    write_private(credentials / "fingerprint-key", os.urandom(32))
    write_private(credentials / "sales-sync-secret", b"example client secret\n")
    write_private(credentials / "gov-reporting.pfx", certificate_files.pfx(PASSPHRASE_FOR_EXAMPLE))
    write_private(credentials / "gov-reporting-pfx-passphrase", PASSPHRASE_FOR_EXAMPLE + b"\n")
    write_private(credentials / "dataverse-sync-password", b"example password\n")
    return config, credentials


def load_example(example: tuple[Path, Path]) -> Config:
    """Load the copied example with its credentials directory."""
    config, credentials = example
    return load_config(config, environ={}, credentials_directory=credentials)


def test_example_loads(example: tuple[Path, Path]) -> None:
    """The example is a valid configuration once its secrets exist."""
    config = load_example(example)

    assert list(config.tenants) == ["contoso", "fabrikam-gov"]
    assert list(config.environments) == ["contoso-prod", "contoso-test", "fabrikam-prod"]
    assert list(config.identities) == [
        "sales-sync",
        "inventory-sync",
        "gov-reporting",
        "dataverse-sync",
    ]
    assert config.database.fingerprint_key is not None


def test_example_shows_every_identity_kind(example: tuple[Path, Path]) -> None:
    """Client secret, PEM certificate, PFX + passphrase and user password are all shown."""
    identities = load_example(example).identities

    assert identities["sales-sync"].credential_type == "client_secret"
    assert identities["inventory-sync"].credential_type == "certificate"
    pfx = identities["gov-reporting"].certificate
    assert pfx is not None
    assert pfx.passphrase is not None
    assert identities["dataverse-sync"].credential_type == "password"
    assert identities["dataverse-sync"].username == "svc-dataverse-sync@contoso.com"


def schema_keys(node: ValueType, prefix: str = "") -> list[str]:
    """Return the dotted key of every field in the schema (NAME for named tables)."""
    if isinstance(node, NamedTables):
        return schema_keys(node.table, f"{prefix}.NAME")
    if isinstance(node, ArrayOfTables):
        return schema_keys(node.table, prefix)
    if not isinstance(node, Table):
        return []
    keys: list[str] = []
    for key, field in node.fields.items():
        dotted = f"{prefix}.{key}" if prefix else key
        keys.append(dotted)
        keys.extend(schema_keys(field.type, dotted))
    return keys


@pytest.mark.parametrize("key", schema_keys(ROOT))
def test_example_mentions_every_option(key: str) -> None:
    """Every option of the schema appears in the example (set, or commented out)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    last = key.rsplit(".", 1)[-1]

    assert re.search(rf"(^|[\s\[.{{#]){re.escape(last)}(\s*=|[.\]])", text, re.MULTILINE), key

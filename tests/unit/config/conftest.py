"""Fixtures for the configuration tests (helpers live in ``config_testkit``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_testkit import CertificateFiles, WriteConfig, WriteSecret, make_certificate
from cryptography.hazmat.primitives.asymmetric import rsa


@pytest.fixture
def write_config(tmp_path: Path) -> WriteConfig:
    """Return a function that writes a config file (mode 0600 unless told) and returns its path."""

    def write(text: str, *, name: str = "monitor.toml", mode: int = 0o600) -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
        return path

    return write


@pytest.fixture
def write_secret(tmp_path: Path) -> WriteSecret:
    """Return a function that writes a secret file (mode 0600 unless told) and returns its path."""

    def write(name: str, data: str | bytes, *, mode: int = 0o600) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        path.chmod(mode)
        return path

    return write


@pytest.fixture
def credentials_dir(tmp_path: Path) -> Path:
    """Return an empty directory standing in for systemd's $CREDENTIALS_DIRECTORY."""
    path = tmp_path / "credentials"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """Return one RSA key for the whole session (generating keys is slow)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def certificate_files(rsa_key: rsa.RSAPrivateKey) -> CertificateFiles:
    """Return a valid RSA key and certificate."""
    return CertificateFiles(rsa_key, make_certificate(rsa_key))

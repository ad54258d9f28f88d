"""Helpers for the configuration tests: config and secret files, throwaway certificates.

Imported by name (``import config_testkit``): pytest puts this directory on ``sys.path``.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from monitor.config import Config, ConfigError, load_config

TENANT_ID = "3f2c9a1e-8b4d-4c6e-9a1f-2b3c4d5e6f70"
CLIENT_ID = "5c1e8b3a-2d4f-4a6b-9c8d-1e2f3a4b5c6d"
SECRET_VALUE = "Zq8~hunter2-client-secret-value"
PASSPHRASE_FOR_EXAMPLE = b"example pfx passphrase"

# One tenant, one environment, one application identity whose secret comes from $SALES_SECRET.
MINIMAL = f"""
[tenants.contoso]
tenant_id = "{TENANT_ID}"

[environments.contoso-prod]
tenant = "contoso"
url = "https://contoso.crm.dynamics.com"

[identities.sales-sync]
kind = "application"
tenant = "contoso"
client_id = "{CLIENT_ID}"
secret = {{ env = "SALES_SECRET" }}
environments = ["contoso-prod"]
"""
MINIMAL_ENVIRON = {"SALES_SECRET": SECRET_VALUE}

WriteConfig = Callable[..., Path]
WriteSecret = Callable[..., Path]


def load(
    path: Path,
    environ: Mapping[str, str] | None = None,
    credentials_directory: Path | None = None,
) -> Config:
    """Load *path* with an explicit (by default empty) environment, never the test runner's."""
    return load_config(
        path, environ=dict(environ or {}), credentials_directory=credentials_directory
    )


def error_of(
    path: Path,
    environ: Mapping[str, str] | None = None,
    credentials_directory: Path | None = None,
) -> ConfigError:
    """Return the ConfigError that loading *path* raises; fail the test if it loads."""
    with pytest.raises(ConfigError) as info:
        load(path, environ, credentials_directory)
    return info.value


def problems_of(
    path: Path,
    environ: Mapping[str, str] | None = None,
    credentials_directory: Path | None = None,
) -> str:
    """Return the rendered ConfigError that loading *path* raises."""
    return error_of(path, environ, credentials_directory).render()


@dataclass(frozen=True)
class CertificateFiles:
    """A key pair with a certificate, in the encodings the loader accepts."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def encrypted_key_pem(self, passphrase: bytes) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def pem(self) -> bytes:
        return self.key_pem + self.certificate_pem

    def pfx(self, passphrase: bytes | None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase)
            if passphrase
            else serialization.NoEncryption()
        )
        return pkcs12.serialize_key_and_certificates(
            b"monitor-test", self.key, self.certificate, None, encryption
        )


def make_certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    *,
    not_after: datetime.datetime | None = None,
) -> x509.Certificate:
    """Return a self-signed certificate for *key*, valid for a year or until *not_after*."""
    now = datetime.datetime.now(datetime.UTC)
    not_after = not_after or now + datetime.timedelta(days=365)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "monitor test")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, not_after) - datetime.timedelta(days=1))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )

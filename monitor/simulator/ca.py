"""The simulator's own certificate authority and its ``localhost`` server certificate.

Clients trust the simulator through a CA bundle setting pointed at :attr:`TlsFiles.ca_path`
(``ca.pem`` in the state directory); nothing is installed into a system trust store and nothing
turns verification off. Valid files are reused across restarts; keys are EC P-256. The files and
when they are renewed: docs/simulator.md ("TLS").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import ipaddress
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_VALIDITY = dt.timedelta(days=3650)
SERVER_VALIDITY = dt.timedelta(days=397)
RENEW_BEFORE = dt.timedelta(days=30)
SERVER_DNS_NAMES = ("localhost",)
SERVER_IP_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


@dataclass(frozen=True)
class TlsFiles:
    """Paths of the PEM files a simulator serves with and clients trust."""

    ca_path: Path
    ca_key_path: Path
    cert_path: Path
    key_path: Path


def ensure_tls_files(state_dir: Path, *, now: dt.datetime | None = None) -> TlsFiles:
    """Given a state directory, return valid CA and server certificate files inside it.

    Reuse the files already there when they are valid at ``now`` (default: the current time);
    otherwise generate what is missing or invalid. A new CA always comes with a new server
    certificate. Concurrent callers on the same directory are serialised with a lock file.
    """
    when = now if now is not None else dt.datetime.now(dt.UTC)
    state_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_path=state_dir / "ca.pem",
        ca_key_path=state_dir / "ca-key.pem",
        cert_path=state_dir / "server.pem",
        key_path=state_dir / "server-key.pem",
    )
    with _locked(state_dir / ".tls.lock"):
        ca = _load_valid_ca(files, when)
        if ca is None:
            ca_key = ec.generate_private_key(ec.SECP256R1())
            ca_cert = _build_ca_certificate(ca_key, when)
            _write_key(files.ca_key_path, ca_key)
            _write_public(files.ca_path, ca_cert.public_bytes(serialization.Encoding.PEM))
            server_valid = False
        else:
            ca_cert, ca_key = ca
            server_valid = _server_is_valid(files, ca_cert, when)
        if not server_valid:
            server_key = ec.generate_private_key(ec.SECP256R1())
            server_cert = _build_server_certificate(server_key, ca_cert, ca_key, when)
            _write_key(files.key_path, server_key)
            _write_public(files.cert_path, server_cert.public_bytes(serialization.Encoding.PEM))
    return files


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        os.close(descriptor)


def _load_valid_ca(
    files: TlsFiles, now: dt.datetime
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    try:
        cert = x509.load_pem_x509_certificate(files.ca_path.read_bytes())
        key = serialization.load_pem_private_key(files.ca_key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return None
    if not _same_public_key(cert, key) or not _valid_for_a_while(cert, now):
        return None
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None
    if not constraints.ca:
        return None
    return cert, key


def _server_is_valid(files: TlsFiles, ca_cert: x509.Certificate, now: dt.datetime) -> bool:
    try:
        cert = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
        key = serialization.load_pem_private_key(files.key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return False
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not _same_public_key(cert, key):
        return False
    if not _valid_for_a_while(cert, now):
        return False
    try:
        cert.verify_directly_issued_by(ca_cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
        return False
    dns_names = set(names.get_values_for_type(x509.DNSName))
    ip_addresses = set(names.get_values_for_type(x509.IPAddress))
    return set(SERVER_DNS_NAMES) <= dns_names and set(SERVER_IP_ADDRESSES) <= ip_addresses


def _same_public_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    der = serialization.Encoding.DER
    return cert.public_key().public_bytes(der, spki) == key.public_key().public_bytes(der, spki)


def _valid_for_a_while(cert: x509.Certificate, now: dt.datetime) -> bool:
    return cert.not_valid_before_utc <= now and now + RENEW_BEFORE < cert.not_valid_after_utc


def _signing_usage(*, certificates: bool) -> x509.KeyUsage:
    """Return the key usage of a key that signs (TLS handshakes), and *certificates* (and
    CRLs) too for the CA."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificates,
        crl_sign=certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _build_ca_certificate(key: ec.EllipticCurvePrivateKey, now: dt.datetime) -> x509.Certificate:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "monitor simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, "monitor simulator local CA"),
        ]
    )
    public_key = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_signing_usage(certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def _build_server_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    now: dt.datetime,
) -> x509.Certificate:
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    alternative_names: list[x509.GeneralName] = [x509.DNSName(n) for n in SERVER_DNS_NAMES]
    alternative_names += [x509.IPAddress(a) for a in SERVER_IP_ADDRESSES]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(min(now + SERVER_VALIDITY, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_signing_usage(certificates=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_atomically(path, data, 0o600)


def _write_public(path: Path, data: bytes) -> None:
    _write_atomically(path, data, 0o644)


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def make_client_certificate(
    common_name: str, *, days: int = 365, now: dt.datetime | None = None
) -> tuple[bytes, x509.Certificate]:
    """Return (PEM private key + certificate, the certificate) for a certificate identity:
    a self-signed RSA 2048 certificate, as an app registration accepts, valid for *days*."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    now = now or dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + certificate.public_bytes(serialization.Encoding.PEM)
    return pem, certificate

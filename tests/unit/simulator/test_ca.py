"""The simulator's CA: created once, reused while valid, renewed when not."""

from __future__ import annotations

import datetime as dt
import ipaddress
import stat
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from monitor.simulator.ca import ensure_tls_files


def test_creates_an_ec_ca_and_a_localhost_server_certificate(tmp_path: Path) -> None:
    """The CA signs a P-256 server certificate for localhost, 127.0.0.1 and ::1."""
    files = ensure_tls_files(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_path.read_bytes())
    server = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    server.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    public_key = server.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert public_key.curve.name == "secp256r1"


def test_private_keys_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    """Key files are created with mode 0600."""
    files = ensure_tls_files(tmp_path)
    for path in (files.ca_key_path, files.key_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_valid_files_are_reused(tmp_path: Path) -> None:
    """A second call keeps the CA (and server certificate) a user already trusts."""
    first = ensure_tls_files(tmp_path)
    contents = {path: path.read_bytes() for path in (first.ca_path, first.cert_path)}
    second = ensure_tls_files(tmp_path)
    assert {path: path.read_bytes() for path in (second.ca_path, second.cert_path)} == contents


def test_a_broken_server_certificate_is_replaced_under_the_same_ca(tmp_path: Path) -> None:
    """A corrupt server certificate is regenerated; the CA stays."""
    files = ensure_tls_files(tmp_path)
    ca_before = files.ca_path.read_bytes()
    files.cert_path.write_text("not a certificate")
    ensure_tls_files(tmp_path)
    ca = x509.load_pem_x509_certificate(files.ca_path.read_bytes())
    server = x509.load_pem_x509_certificate(files.cert_path.read_bytes())
    assert files.ca_path.read_bytes() == ca_before
    server.verify_directly_issued_by(ca)


def test_a_mismatched_ca_key_replaces_everything(tmp_path: Path) -> None:
    """A CA key that does not belong to the CA certificate means a new CA."""
    files = ensure_tls_files(tmp_path)
    other = ensure_tls_files(tmp_path / "other")
    files.ca_key_path.write_bytes(other.ca_key_path.read_bytes())
    ca_before = files.ca_path.read_bytes()
    ensure_tls_files(tmp_path)
    assert files.ca_path.read_bytes() != ca_before


def test_certificates_near_their_end_are_renewed(tmp_path: Path) -> None:
    """Past the renewal margin the server certificate (and, much later, the CA) is renewed."""
    files = ensure_tls_files(tmp_path)
    ca_before = files.ca_path.read_bytes()
    server_before = files.cert_path.read_bytes()
    in_a_year = dt.datetime.now(dt.UTC) + dt.timedelta(days=380)
    ensure_tls_files(tmp_path, now=in_a_year)
    assert files.cert_path.read_bytes() != server_before
    assert files.ca_path.read_bytes() == ca_before
    in_ten_years = dt.datetime.now(dt.UTC) + dt.timedelta(days=3640)
    ensure_tls_files(tmp_path, now=in_ten_years)
    assert files.ca_path.read_bytes() != ca_before

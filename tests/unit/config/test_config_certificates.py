"""Certificate credentials: PEM and PFX, passphrases, and what is checked at load time."""

from __future__ import annotations

import datetime
import hashlib
from pathlib import Path

import pytest
from config_testkit import (
    CLIENT_ID,
    MINIMAL,
    CertificateFiles,
    WriteConfig,
    WriteSecret,
    error_of,
    load,
    make_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from monitor.config.model import CertificateCredential

PASSPHRASE = b"pfx-export-passphrase"


def certificate_config(
    write_config: WriteConfig,
    write_secret: WriteSecret,
    data: bytes,
    passphrase: bytes | None = None,
) -> Path:
    """Write a config whose identity uses *data* as its certificate file (and passphrase)."""
    certificate = write_secret("app.cert", data)
    lines = f'certificate = {{ file = "{certificate}" }}'
    if passphrase is not None:
        secret = write_secret("app.passphrase", passphrase + b"\n")
        lines += f'\ncertificate_passphrase = {{ file = "{secret}" }}'
    return write_config(MINIMAL.replace('secret = { env = "SALES_SECRET" }', lines))


def thumbprints(certificate: x509.Certificate) -> tuple[str, str]:
    """Return the SHA-1 and SHA-256 thumbprints of *certificate* as Entra ID shows them: the hash
    of its DER bytes in upper-case hex (computed here, not by the loader's code path)."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    return (
        hashlib.sha1(der, usedforsecurity=False).hexdigest().upper(),
        hashlib.sha256(der).hexdigest().upper(),
    )


def thumbprints_of(credential: CertificateCredential) -> tuple[str | None, str | None]:
    """Return the thumbprints the loader put on *credential*."""
    return credential.thumbprint_sha1, credential.thumbprint_sha256


def loaded_certificate(path: Path) -> CertificateCredential:
    """Load *path* and return the identity's certificate credential."""
    certificate = load(path).identities["sales-sync"].certificate
    assert certificate is not None
    return certificate


def only_problem(path: Path) -> str:
    """Return the one problem line of loading *path*."""
    error = error_of(path)
    assert len(error.problems) == 1, error.render()
    return error.problems[0].render()


def test_pem_key_and_certificate(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """A PEM file with key and certificate loads; the key and thumbprints are ready for msal."""
    path = certificate_config(write_config, write_secret, certificate_files.pem)

    certificate = loaded_certificate(path)

    assert certificate.data.reveal_bytes() == certificate_files.pem
    assert certificate.passphrase is None
    assert certificate.private_key_pem is not None
    assert certificate.private_key_pem.reveal_bytes() == certificate_files.key_pem
    assert certificate.certificate_pem == certificate_files.certificate_pem.decode()
    assert thumbprints(certificate_files.certificate) == thumbprints_of(certificate)
    assert certificate.not_after == certificate_files.certificate.not_valid_after_utc
    identity = load(path).identities["sales-sync"]
    assert identity.credential_type == "certificate"
    assert identity.credential() == certificate.data


def test_pem_certificate_first(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """The order of the PEM blocks does not matter: the same key, certificate and thumbprints."""
    data = certificate_files.certificate_pem + certificate_files.key_pem
    path = certificate_config(write_config, write_secret, data)

    certificate = loaded_certificate(path)

    assert certificate.private_key_pem is not None
    assert certificate.private_key_pem.reveal_bytes() == certificate_files.key_pem
    assert certificate.certificate_pem == certificate_files.certificate_pem.decode()
    assert thumbprints(certificate_files.certificate) == thumbprints_of(certificate)


def test_pem_with_chain_picks_the_certificate_of_the_key(
    write_config: WriteConfig,
    write_secret: WriteSecret,
    certificate_files: CertificateFiles,
) -> None:
    """With a chain in the file, the certificate that belongs to the key is the one used."""
    other_key = ec.generate_private_key(ec.SECP256R1())
    issuer = make_certificate(other_key).public_bytes(serialization.Encoding.PEM)
    data = certificate_files.key_pem + issuer + certificate_files.certificate_pem
    path = certificate_config(write_config, write_secret, data)

    certificate = loaded_certificate(path)

    assert certificate.certificate_pem == certificate_files.certificate_pem.decode()
    assert thumbprints(certificate_files.certificate) == thumbprints_of(certificate)


def test_encrypted_pem_with_passphrase(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """An encrypted PEM key is decrypted with certificate_passphrase (newline stripped)."""
    data = certificate_files.encrypted_key_pem(PASSPHRASE) + certificate_files.certificate_pem
    path = certificate_config(write_config, write_secret, data, PASSPHRASE)

    certificate = loaded_certificate(path)

    assert certificate.passphrase is not None
    assert certificate.passphrase.reveal_bytes() == PASSPHRASE
    assert certificate.private_key_pem is not None
    assert certificate.private_key_pem.reveal_bytes() == certificate_files.key_pem


def test_encrypted_pem_without_passphrase(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """An encrypted PEM key without certificate_passphrase is a problem."""
    data = certificate_files.encrypted_key_pem(PASSPHRASE) + certificate_files.certificate_pem
    path = certificate_config(write_config, write_secret, data)

    assert only_problem(path) == (
        "identities.sales-sync.certificate: expected certificate_passphrase for an encrypted "
        "private key, found an encrypted private key and no passphrase; hint: set "
        "certificate_passphrase"
    )


def test_encrypted_pem_with_wrong_passphrase(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """A wrong passphrase for a PEM key says so."""
    data = certificate_files.encrypted_key_pem(PASSPHRASE) + certificate_files.certificate_pem
    path = certificate_config(write_config, write_secret, data, b"wrong")

    assert only_problem(path) == (
        "identities.sales-sync.certificate: expected the key's passphrase in "
        "certificate_passphrase, found a wrong passphrase; hint: check certificate_passphrase"
    )


def test_passphrase_for_an_unencrypted_pem(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """A passphrase for a key that is not encrypted is a mistake msal would fail on too."""
    path = certificate_config(write_config, write_secret, certificate_files.pem, PASSPHRASE)

    assert only_problem(path) == (
        "identities.sales-sync.certificate: expected no certificate_passphrase for an unencrypted "
        "private key, found a passphrase for a key that is not encrypted; hint: remove "
        "certificate_passphrase"
    )


def test_pfx_with_passphrase(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """A PFX is opened with its passphrase; the key comes out as unencrypted PEM."""
    path = certificate_config(
        write_config, write_secret, certificate_files.pfx(PASSPHRASE), PASSPHRASE
    )

    certificate = loaded_certificate(path)

    assert certificate.private_key_pem is not None
    assert certificate.private_key_pem.reveal_bytes() == certificate_files.key_pem
    assert certificate.data.source == f"file:{path.parent / 'app.cert'}"
    assert thumbprints(certificate_files.certificate) == thumbprints_of(certificate)


def test_unencrypted_pfx(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """A PFX exported without a password needs no passphrase."""
    path = certificate_config(write_config, write_secret, certificate_files.pfx(None))

    certificate = loaded_certificate(path)

    assert certificate.passphrase is None
    assert certificate.private_key_pem is not None
    assert certificate.private_key_pem.reveal_bytes() == certificate_files.key_pem
    assert thumbprints(certificate_files.certificate) == thumbprints_of(certificate)


def test_pfx_with_wrong_passphrase(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """A wrong PFX passphrase is reported as such."""
    path = certificate_config(write_config, write_secret, certificate_files.pfx(PASSPHRASE), b"x")

    assert only_problem(path) == (
        "identities.sales-sync.certificate: expected the PFX's passphrase in "
        "certificate_passphrase, found a wrong passphrase (or a damaged PFX); hint: check "
        "certificate_passphrase; an unencrypted PFX needs none"
    )


def test_pfx_without_passphrase(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """An encrypted PFX without certificate_passphrase asks for it."""
    path = certificate_config(write_config, write_secret, certificate_files.pfx(PASSPHRASE))

    assert only_problem(path) == (
        "identities.sales-sync.certificate: expected certificate_passphrase for an encrypted PFX, "
        "found a PFX that needs a passphrase (or is damaged); hint: set certificate_passphrase to "
        "the PFX's export password"
    )


NOT_BOTH = "not a PEM/PFX with both a private key and a certificate"
EXPECTED = "a PEM or PFX (PKCS#12) file with an RSA private key and its certificate"


@pytest.mark.parametrize(
    ("which", "found"),
    [
        ("key", f"{NOT_BOTH} (no CERTIFICATE block)"),
        ("certificate", f"{NOT_BOTH} (no readable PRIVATE KEY block)"),
        ("garbage", NOT_BOTH),
    ],
)
def test_not_a_certificate_with_key(
    write_config: WriteConfig,
    write_secret: WriteSecret,
    certificate_files: CertificateFiles,
    which: str,
    found: str,
) -> None:
    """A key alone, a certificate alone or anything else is refused with one message."""
    data = {
        "key": certificate_files.key_pem,
        "certificate": certificate_files.certificate_pem,
        "garbage": b"\x01\x02 this is not a certificate",
    }[which]
    path = certificate_config(write_config, write_secret, data)

    problem = only_problem(path)

    assert problem.startswith(
        f"identities.sales-sync.certificate: expected {EXPECTED}, found {found}; hint: "
    )


def test_key_must_be_rsa(write_config: WriteConfig, write_secret: WriteSecret) -> None:
    """Entra ID only takes RSA-signed client assertions: an EC key is refused at load."""
    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ) + make_certificate(key).public_bytes(serialization.Encoding.PEM)
    path = certificate_config(write_config, write_secret, data)

    assert only_problem(path) == (
        "identities.sales-sync.certificate: expected an RSA private key (Entra ID signs client "
        "assertions with RS256/PS256), found an EC (elliptic curve) key; hint: create the "
        "certificate with an RSA key (openssl req -newkey rsa:2048 ...)"
    )


def test_key_must_match_the_certificate(
    write_config: WriteConfig,
    write_secret: WriteSecret,
    certificate_files: CertificateFiles,
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    """A key with someone else's certificate is refused."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = certificate_files.key_pem + make_certificate(other).public_bytes(
        serialization.Encoding.PEM
    )
    path = certificate_config(write_config, write_secret, data)

    assert only_problem(path) == (
        "identities.sales-sync.certificate: expected a certificate that belongs to the private "
        "key, found no certificate in the file matches the private key; hint: put the key and its "
        "own certificate in the file"
    )


def test_expired_certificate_is_accepted(
    write_config: WriteConfig, write_secret: WriteSecret, rsa_key: rsa.RSAPrivateKey
) -> None:
    """An expired certificate loads: reporting it is the monitor's job, not a config error."""
    expired = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=3)
    expired = expired.replace(microsecond=0)
    files = CertificateFiles(rsa_key, make_certificate(rsa_key, not_after=expired))
    path = certificate_config(write_config, write_secret, files.pem)

    assert loaded_certificate(path).not_after == expired


def test_observer_with_certificate(
    write_config: WriteConfig, write_secret: WriteSecret, certificate_files: CertificateFiles
) -> None:
    """A tenant's observer may sign in with a certificate, checked the same way."""
    certificate = write_secret("observer.pem", certificate_files.pem)
    text = MINIMAL.replace(
        "[environments.contoso-prod]",
        f'[tenants.contoso.observer]\nclient_id = "{CLIENT_ID}"\n'
        f'certificate = {{ file = "{certificate}" }}\n\n[environments.contoso-prod]',
    )

    observer = load(write_config(text), {"SALES_SECRET": "x"}).tenants["contoso"].observer

    assert observer is not None
    assert observer.secret is None
    assert observer.certificate is not None
    assert thumbprints(certificate_files.certificate) == thumbprints_of(observer.certificate)


def test_observer_needs_one_credential(write_config: WriteConfig) -> None:
    """An observer without secret or certificate is a problem at the observer's path."""
    text = MINIMAL.replace(
        "[environments.contoso-prod]",
        f'[tenants.contoso.observer]\nclient_id = "{CLIENT_ID}"\n\n[environments.contoso-prod]',
    )

    error = error_of(write_config(text), {"SALES_SECRET": "x"})

    assert [problem.render() for problem in error.problems] == [
        "tenants.contoso.observer: expected exactly one of the keys secret, certificate, found "
        "neither; hint: an application signs in with a client secret or with a certificate"
    ]

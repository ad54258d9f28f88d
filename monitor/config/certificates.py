"""Checking an application's certificate credential when the configuration is loaded.

The certificate file must hold an RSA private key and its certificate: PEM (both blocks in one
file, the key optionally encrypted) or PKCS#12 / PFX. It is parsed here only to catch a wrong file
or passphrase before any sign-in is attempted, and to give the probes what msal wants (an
unencrypted PEM key and the SHA-1 / SHA-256 thumbprints) without parsing the key again on every
probe. An expired certificate is *not* a configuration error: reporting it is the monitor's job.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.config.model import CertificateCredential
from monitor.config.secrets_source import SecretSourceError
from monitor.secrets import Secret

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

NOT_A_CERTIFICATE = "not a PEM/PFX with both a private key and a certificate"
EXPECTED = "a PEM or PFX (PKCS#12) file with an RSA private key and its certificate"


def load_certificate(data: Secret, passphrase: Secret | None) -> CertificateCredential:
    """Given the certificate file's bytes and the optional passphrase, return the credential.

    Raise :class:`SecretSourceError` if the bytes are not a PEM/PFX with both a private key and a
    certificate, the passphrase is wrong or missing, the key is not RSA, or the key does not belong
    to any certificate in the file.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import pkcs12

    raw = data.reveal_bytes()
    password = passphrase.reveal_bytes() if passphrase is not None else None
    certificates: list[x509.Certificate]
    if b"-----BEGIN" in raw:
        key = _load_pem_key(raw, password)
        try:
            certificates = x509.load_pem_x509_certificates(raw)
        except ValueError:
            raise SecretSourceError(
                EXPECTED,
                f"{NOT_A_CERTIFICATE} (no CERTIFICATE block)",
                "append the certificate (PEM) to the key file",
            ) from None
    else:
        try:
            pfx_key, leaf, extra = pkcs12.load_key_and_certificates(raw, password)
        except ValueError as error:
            if "password" not in str(error).lower():
                raise SecretSourceError(EXPECTED, NOT_A_CERTIFICATE, _export_hint()) from None
            if password is None:
                raise SecretSourceError(
                    "certificate_passphrase for an encrypted PFX",
                    "a PFX that needs a passphrase (or is damaged)",
                    "set certificate_passphrase to the PFX's export password",
                ) from None
            raise SecretSourceError(
                "the PFX's passphrase in certificate_passphrase",
                "a wrong passphrase (or a damaged PFX)",
                "check certificate_passphrase; an unencrypted PFX needs none",
            ) from None
        certificates = [c for c in (leaf, *extra) if c is not None]
        if pfx_key is None or not certificates:
            raise SecretSourceError(EXPECTED, NOT_A_CERTIFICATE, _export_hint())
        key = pfx_key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise SecretSourceError(
            "an RSA private key (Entra ID signs client assertions with RS256/PS256)",
            f"{_key_kind(key)} key",
            "create the certificate with an RSA key (openssl req -newkey rsa:2048 ...)",
        )
    public = key.public_key().public_numbers()
    leaf_certificate = next(
        (
            c
            for c in certificates
            if isinstance(c.public_key(), rsa.RSAPublicKey)
            and c.public_key().public_numbers() == public  # type: ignore[union-attr]
        ),
        None,
    )
    if leaf_certificate is None:
        raise SecretSourceError(
            "a certificate that belongs to the private key",
            "no certificate in the file matches the private key",
            "put the key and its own certificate in the file",
        )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return CertificateCredential(
        data=data,
        passphrase=passphrase,
        private_key_pem=Secret(key_pem, data.source),
        certificate_pem=leaf_certificate.public_bytes(serialization.Encoding.PEM).decode(),
        thumbprint_sha1=leaf_certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
        thumbprint_sha256=leaf_certificate.fingerprint(hashes.SHA256()).hex().upper(),
        not_after=leaf_certificate.not_valid_after_utc,
    )


def _load_pem_key(raw: bytes, password: bytes | None) -> PrivateKeyTypes:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        # The RSA consistency check (~50-80 ms a key) is skipped: every command loads the
        # configuration, and the checks that matter stay (the key parses, is RSA and belongs to
        # the certificate). A key damaged inside would be refused by Entra ID's signature check,
        # which the probe reports as a broken credential.
        return load_pem_private_key(raw, password, unsafe_skip_rsa_key_validation=True)
    except TypeError:
        if password is None:
            raise SecretSourceError(
                "certificate_passphrase for an encrypted private key",
                "an encrypted private key and no passphrase",
                "set certificate_passphrase",
            ) from None
        raise SecretSourceError(
            "no certificate_passphrase for an unencrypted private key",
            "a passphrase for a key that is not encrypted",
            "remove certificate_passphrase",
        ) from None
    except ValueError as error:
        if password is not None and "password" in str(error).lower():
            raise SecretSourceError(
                "the key's passphrase in certificate_passphrase",
                "a wrong passphrase",
                "check certificate_passphrase",
            ) from None
        raise SecretSourceError(
            EXPECTED, f"{NOT_A_CERTIFICATE} (no readable PRIVATE KEY block)", _export_hint()
        ) from None


def _key_kind(key: PrivateKeyTypes) -> str:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519

    kinds: tuple[tuple[type, str], ...] = (
        (ec.EllipticCurvePrivateKey, "an EC (elliptic curve)"),
        (ed25519.Ed25519PrivateKey, "an Ed25519"),
        (ed448.Ed448PrivateKey, "an Ed448"),
        (dsa.DSAPrivateKey, "a DSA"),
    )
    return next((name for kind, name in kinds if isinstance(key, kind)), "a non-RSA")


def _export_hint() -> str:
    return (
        "export the certificate with its private key (PFX), or concatenate the key and "
        "certificate PEM files"
    )

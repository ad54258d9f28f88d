"""Certificate client assertions, built once per certificate and reused like msal reuses them.

A fresh msal application given a private key parses it and signs a new JWT on every probe (about
8x the CPU of a client-secret probe). :class:`CertificateAssertions` keeps msal's own machinery
across probes instead: per identity one parsed key and one ``JwtAssertionCreator``, and one
refresher per token endpoint, keyed by a digest of the certificate bytes and passphrase (a
rotated certificate is used on the next probe). Only the local signing is shared: every probe
still sends its assertion to the token endpoint.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from msal.oauth2cli.assertion import JwtAssertionCreator

from monitor.config.model import CertificateCredential

_PRIVATE_KEY_BLOCK = re.compile(
    rb"-----BEGIN ((?:RSA |ENCRYPTED |EC )?PRIVATE KEY)-----.+?-----END \1-----", re.DOTALL
)
ASSERTION_LIFETIME_SECONDS = 600  # msal's default; re-signed 60 s before it ends
_MAX_AUDIENCES = 8


class CertificateError(ValueError):
    """The configured certificate cannot be used. The message never contains key material."""


@dataclass(frozen=True)
class LoadedCertificate:
    """A parsed certificate credential: the signing key and the JWT headers that name it."""

    private_key: rsa.RSAPrivateKey
    sha256_thumbprint: str  # hex
    x5c: tuple[str, ...]  # base64 DER, leaf first (msal's format: PEM body lines)
    not_after: datetime  # the leaf's notAfter (aware, UTC)


def _x5c_entry(certificate: x509.Certificate) -> str:
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return "\n".join(pem.splitlines()[1:-1])


def _public_der(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_certificate(credential: CertificateCredential) -> LoadedCertificate:
    """Parse a PEM (key + certificate chain) or PKCS#12 credential.

    Raise :class:`CertificateError` when it cannot be parsed, the passphrase is wrong or
    missing, the key is not RSA, or no certificate matches the key.
    """
    data = credential.data.reveal_bytes()
    passphrase = credential.passphrase.reveal_bytes() if credential.passphrase else None
    certificates: list[x509.Certificate]
    key: PrivateKeyTypes
    if credential.private_key_pem is not None and credential.certificate_pem is not None:
        # The configuration loader has already read and fully validated this key (an RSA
        # consistency check costs ~50 ms per key); its unencrypted PKCS#8 copy is loaded without
        # repeating that check, which keeps a certificate probe as cheap as a secret probe.
        try:
            key = serialization.load_pem_private_key(
                credential.private_key_pem.reveal_bytes(),
                None,
                unsafe_skip_rsa_key_validation=True,
            )
            certificates = x509.load_pem_x509_certificates(credential.certificate_pem.encode())
        except (ValueError, TypeError):
            raise CertificateError("the validated certificate could not be read again") from None
    elif data.lstrip().startswith(b"-----BEGIN"):
        match = _PRIVATE_KEY_BLOCK.search(data)
        if match is None:
            raise CertificateError("the PEM data holds no private key block")
        try:
            try:
                key = serialization.load_pem_private_key(match.group(0), passphrase)
            except TypeError:
                if passphrase is None:
                    raise CertificateError(
                        "the private key is encrypted: configure its passphrase"
                    ) from None
                key = serialization.load_pem_private_key(match.group(0), None)
        except CertificateError:
            raise
        except (ValueError, TypeError):
            raise CertificateError(
                "the private key could not be read (wrong passphrase or damaged PEM)"
            ) from None
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise CertificateError("the PEM data holds no readable certificate") from None
    else:
        try:
            loaded_key, leaf, extra = pkcs12.load_key_and_certificates(data, passphrase)
        except (ValueError, TypeError):
            raise CertificateError(
                "the PKCS#12 (PFX) data could not be read (wrong passphrase or damaged file)"
            ) from None
        if loaded_key is None or leaf is None:
            raise CertificateError("the PKCS#12 (PFX) data must hold both a key and a certificate")
        key = loaded_key
        certificates = [leaf, *extra]
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CertificateError("Entra ID client assertions need an RSA key")
    key_der = _public_der(key.public_key())
    leaves = [c for c in certificates if _public_der(c.public_key()) == key_der]
    if not leaves:
        raise CertificateError("no certificate in the credential matches its private key")
    leaf = leaves[0]
    chain = [leaf, *(c for c in certificates if c is not leaf)]
    return LoadedCertificate(
        private_key=key,
        sha256_thumbprint=leaf.fingerprint(hashes.SHA256()).hex(),
        x5c=tuple(_x5c_entry(c) for c in chain),
        not_after=leaf.not_valid_after_utc,
    )


class AssertionSigner:
    """One certificate's ``JwtAssertionCreator`` and its assertion refreshers, per audience.

    The creator signs PS256 with ``x5t#S256`` and ``x5c`` headers, exactly as msal builds them
    for a PEM certificate; a refresher re-signs only when the assertion is 60 s from expiry (540
    s of a 600 s lifetime), as msal's ``AutoRefresher`` does within one application object.
    """

    def __init__(self, certificate: LoadedCertificate, client_id: str) -> None:
        self.client_id = client_id
        self.sha256_thumbprint = certificate.sha256_thumbprint
        self._creator = JwtAssertionCreator(
            certificate.private_key,
            "PS256",
            headers={"x5c": list(certificate.x5c)},
            sha256_thumbprint=certificate.sha256_thumbprint,
        )
        self._refreshers: dict[str, Callable[[], bytes]] = {}
        self._lock = threading.Lock()

    def assertion(self, audience: str) -> bytes:
        """Return a signed assertion for *audience* (the token endpoint), reused until near expiry.

        The assertion is re-signed 60 s before it expires (msal's ``AutoRefresher``).
        """
        with self._lock:
            refresher = self._refreshers.get(audience)
            if refresher is None:
                if len(self._refreshers) >= _MAX_AUDIENCES:
                    self._refreshers.clear()
                refresher = self._creator.create_regenerative_assertion(
                    audience=audience,
                    issuer=self.client_id,
                    expires_in=ASSERTION_LIFETIME_SECONDS,
                )
                self._refreshers[audience] = refresher
        return refresher()


class BoundAssertion:
    """msal's ``client_assertion`` callable for one probe.

    The token endpoint (the assertion's audience) comes from OIDC discovery, which msal performs
    while constructing the application; the probe sets :attr:`audience` right after, and msal
    calls this object only when it sends the token request.
    """

    def __init__(self, signer: AssertionSigner) -> None:
        self.signer = signer
        self.audience: str | None = None

    def __call__(self) -> bytes:
        if self.audience is None:
            raise RuntimeError("the client assertion was requested before its audience was known")
        return self.signer.assertion(self.audience)


def credential_digest(credential: CertificateCredential) -> bytes:
    """Return a digest identifying the certificate bytes and passphrase (kept in memory only)."""
    digest = hashlib.sha256()
    data = credential.data.reveal_bytes()
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)
    if credential.passphrase is not None:
        digest.update(credential.passphrase.reveal_bytes())
    return digest.digest()


class CertificateAssertions:
    """Per identity, the signer built from its current certificate. Thread-safe."""

    def __init__(self) -> None:
        self._signers: dict[str, tuple[bytes, AssertionSigner]] = {}
        self._lock = threading.Lock()
        self.loads = 0  # how many times a certificate was parsed (observable in tests)

    def signer(
        self, identity_name: str, client_id: str, credential: CertificateCredential
    ) -> AssertionSigner:
        """Return the signer for *identity_name*'s certificate, parsing it only when it changed.

        Raise :class:`CertificateError` when the certificate cannot be used.
        """
        digest = hashlib.sha256(credential_digest(credential) + client_id.encode()).digest()
        with self._lock:
            entry = self._signers.get(identity_name)
            if entry is not None and entry[0] == digest:
                return entry[1]
        signer = AssertionSigner(load_certificate(credential), client_id)
        with self._lock:
            self.loads += 1
            self._signers[identity_name] = (digest, signer)
        return signer

"""The ``certificate`` probe kind: msal's assertion machinery, built once, every probe a POST."""

from __future__ import annotations

import base64
import hashlib
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from probe_fakes import (
    TENANT_ID,
    FakeEntra,
    KeyAndCertificate,
    certificate_identity,
    config_for,
    context_for,
    entra_error,
    secret_identity,
)

from monitor.config.model import IdentityConfig
from monitor.model.outcomes import Outcome
from monitor.model.probes import ProbeResult
from monitor.probes.certificate import ApplicationCertificateProbe
from monitor.probes.client_secret import ApplicationSecretProbe
from monitor.probes.context import ProbeContext

TOKEN_ENDPOINT = f"https://login.example.test/{TENANT_ID}/oauth2/v2.0/token"


def _run(
    fake: FakeEntra,
    identity: IdentityConfig,
    context: ProbeContext,
    environments: tuple[str, ...] = ("prod",),
) -> list[ProbeResult]:
    probe = ApplicationCertificateProbe(identity, config_for(identity), context)
    return probe.run(list(environments))


def _register(fake: FakeEntra, identity: IdentityConfig, certificate: KeyAndCertificate) -> None:
    fake.certificates[identity.client_id] = certificate.certificate


def test_pem_certificate_signs_in(fake: FakeEntra, certificate: KeyAndCertificate) -> None:
    """PEM key + certificate: a PS256 assertion Entra verifies, then WhoAmI."""
    identity = certificate_identity(certificate.pem())
    _register(fake, identity, certificate)
    [result] = _run(fake, identity, context_for(fake))
    assert result.outcome is Outcome.OK
    assert result.credential_type == "certificate"


def test_encrypted_pem_and_pfx_sign_in(fake: FakeEntra, certificate: KeyAndCertificate) -> None:
    """An encrypted PEM key and a PFX, each with its passphrase, both work."""
    for data in (certificate.pem(b"pem-pass-phrase"), certificate.pfx(b"pem-pass-phrase")):
        identity = certificate_identity(data, b"pem-pass-phrase")
        _register(fake, identity, certificate)
        assert _run(fake, identity, context_for(fake))[0].outcome is Outcome.OK


def test_assertion_looks_like_msals(fake: FakeEntra, certificate: KeyAndCertificate) -> None:
    """Header: PS256, x5t#S256 of the certificate, x5c; claims: aud = token endpoint, iss = sub."""
    identity = certificate_identity(certificate.pem())
    _register(fake, identity, certificate)
    _run(fake, identity, context_for(fake))
    request = fake.last("token")
    assert request.data["client_assertion_type"] == (
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    )
    assert "client_secret" not in request.data
    assertion = request.data["client_assertion"]
    header = jwt.get_unverified_header(assertion)
    der = certificate.certificate.public_bytes(serialization.Encoding.DER)
    assert header["alg"] == "PS256"
    assert header["x5t#S256"] == base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode()
    assert base64.b64decode("".join(header["x5c"][0].split())) == der
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["aud"] == TOKEN_ENDPOINT
    assert claims["iss"] == claims["sub"] == identity.client_id
    assert claims["exp"] - claims["iat"] == 600


def test_key_parsed_once_assertion_reused_but_every_probe_posts(
    fake: FakeEntra, certificate: KeyAndCertificate
) -> None:
    """Across probes the key is parsed once and the assertion reused; each probe still POSTs."""
    identity = certificate_identity(certificate.pem())
    _register(fake, identity, certificate)
    context = context_for(fake)
    for _ in range(5):
        assert _run(fake, identity, context)[0].outcome is Outcome.OK
    assert context.assertions.loads == 1
    assert fake.count("token") == 5
    assert len({r.data["client_assertion"] for r in fake.requests if r.family == "token"}) == 1


def test_rotated_certificate_is_picked_up(
    fake: FakeEntra, certificate: KeyAndCertificate, other_certificate: KeyAndCertificate
) -> None:
    """New certificate bytes: parsed again, and the assertion names the new thumbprint."""
    context = context_for(fake)
    old = certificate_identity(certificate.pem())
    _register(fake, old, certificate)
    assert _run(fake, old, context)[0].outcome is Outcome.OK
    new = certificate_identity(other_certificate.pem())
    assert _run(fake, new, context)[0].outcome is Outcome.CREDENTIAL_INVALID  # not registered
    _register(fake, new, other_certificate)
    assert _run(fake, new, context)[0].outcome is Outcome.OK
    assert context.assertions.loads == 2


def test_removed_certificate_fails_on_the_next_probe(
    fake: FakeEntra, certificate: KeyAndCertificate
) -> None:
    """The reused assertion is still judged by Entra: a removed certificate is AADSTS700027."""
    identity = certificate_identity(certificate.pem(), environments=("prod", "test"))
    _register(fake, identity, certificate)
    context = context_for(fake)
    assert [r.outcome for r in _run(fake, identity, context, ("prod", "test"))] == [Outcome.OK] * 2
    del fake.certificates[identity.client_id]
    results = _run(fake, identity, context, ("prod", "test"))
    assert [r.outcome for r in results] == [Outcome.CREDENTIAL_INVALID] * 2
    assert results[0].aadsts_code == 700027
    assert [r.attempted for r in results] == [True, False]


def test_clock_skew_is_its_own_class(fake: FakeEntra, certificate: KeyAndCertificate) -> None:
    """AADSTS700024 points at the monitor host's clock, not at the certificate."""
    identity = certificate_identity(certificate.pem())
    fake.overrides["token"] = lambda request: entra_error(
        700024, "invalid_client", "Client assertion is not within its valid time range.", status=401
    )
    [result] = _run(fake, identity, context_for(fake))
    assert result.outcome is Outcome.CLOCK_SKEW


def _ec_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.mark.parametrize(
    ("data", "passphrase", "words"),
    [
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", None, "no private key"),
        (b"\x30\x82garbage", b"x", "PKCS#12"),
        ("encrypted-without-passphrase", None, "passphrase"),
        ("wrong-passphrase", b"wrong", "wrong passphrase"),
        ("mismatch", None, "matches its private key"),
        ("ec", None, "RSA"),
    ],
)
def test_unusable_certificates_are_misconfigured_without_a_request(
    fake: FakeEntra,
    certificate: KeyAndCertificate,
    other_certificate: KeyAndCertificate,
    data: bytes | str,
    passphrase: bytes | None,
    words: str,
) -> None:
    """A certificate that cannot be used is reported for every environment; nothing is sent."""
    if data == "encrypted-without-passphrase":
        data = certificate.pem(b"secret-pass")
    elif data == "wrong-passphrase":
        data = certificate.pfx(b"right-pass")
    elif data == "mismatch":
        data = certificate.pem().split(b"-----BEGIN CERTIFICATE-----")[0] + (
            other_certificate.certificate.public_bytes(serialization.Encoding.PEM)
        )
    elif data == "ec":
        data = _ec_pem() + certificate.certificate.public_bytes(serialization.Encoding.PEM)
    assert isinstance(data, bytes)
    identity = certificate_identity(data, passphrase, environments=("prod", "test"))
    results = _run(fake, identity, context_for(fake), ("prod", "test"))
    assert [r.outcome for r in results] == [Outcome.MISCONFIGURED] * 2
    assert not any(r.attempted for r in results)
    assert words in results[0].message
    assert fake.requests == []


def test_certificate_probe_cpu_is_close_to_a_secret_probe(
    certificate: KeyAndCertificate,
) -> None:
    """With the signer shared, a certificate probe costs about what a secret probe costs.

    A coarse guard (generous bound, fake transport): the benchmark measures it properly.
    """
    fake = FakeEntra()
    cert_identity = certificate_identity(certificate.pem())
    _register(fake, cert_identity, certificate)
    secret = secret_identity()
    fake.secrets[secret.client_id] = {"s3cr3t-value-~abc"}
    cert_context, secret_context = context_for(fake), context_for(fake)
    cert_probe = ApplicationCertificateProbe(cert_identity, config_for(cert_identity), cert_context)
    secret_probe = ApplicationSecretProbe(secret, config_for(secret), secret_context)
    cert_probe.run(["prod"])  # parse the key and sign once, outside the measurement
    secret_probe.run(["prod"])

    def cpu(probe: ApplicationSecretProbe | ApplicationCertificateProbe) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            for _ in range(40):
                probe.run(["prod"])
            best = min(best, time.process_time() - start)
        return best

    assert cpu(cert_probe) <= 2.0 * cpu(secret_probe) + 0.02


def test_rejected_assertion_of_an_expired_certificate_is_credential_expired(
    fake: FakeEntra, certificate: KeyAndCertificate
) -> None:
    """AADSTS700027 while the configured certificate's notAfter has passed is an expired
    certificate (credential_expired, renew it), whatever reason Entra's text gives."""
    import dataclasses
    from datetime import timedelta

    from probe_fakes import NOW

    identity = certificate_identity(certificate.pem())
    assert identity.certificate is not None
    expired = dataclasses.replace(
        identity,
        certificate=dataclasses.replace(identity.certificate, not_after=NOW - timedelta(days=2)),
    )
    valid = dataclasses.replace(
        identity,
        certificate=dataclasses.replace(identity.certificate, not_after=NOW + timedelta(days=90)),
    )

    [past] = _run(fake, expired, context_for(fake))  # nothing registered: "key not found"
    [current] = _run(fake, valid, context_for(fake))

    assert (Outcome.CREDENTIAL_EXPIRED, 700027) == (past.outcome, past.aadsts_code)
    assert past.message.startswith("the configured certificate expired on ")
    assert Outcome.CREDENTIAL_INVALID is current.outcome

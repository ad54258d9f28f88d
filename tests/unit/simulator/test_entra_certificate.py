"""Client-credentials sign-in with certificates: msal's assertions verified for real."""

from __future__ import annotations

import datetime as dt
import time

import jwt
import pytest
import requests

from monitor.simulator import Simulator

from .helpers import (
    CERTIFICATE_APP,
    SECRET_APP,
    TENANT_ID,
    CertificatePair,
    assert_entra_error,
    confidential_app,
    default_scope,
    who_am_i,
)


def test_sha256_certificate_credential_signs_in(
    sim: Simulator, session: requests.Session, certificate: CertificatePair
) -> None:
    """msal's PS256 assertion with x5t#S256 is accepted and the token works on WhoAmI."""
    application = confidential_app(sim, session, CERTIFICATE_APP, certificate.sha256_credential())
    result = application.acquire_token_for_client([default_scope(sim)])
    assert result["token_source"] == "identity_provider"
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["appidacr"] == "2"
    assert who_am_i(sim, session, result["access_token"]).status_code == 200


def test_legacy_sha1_thumbprint_credential_signs_in(
    sim: Simulator, session: requests.Session, certificate: CertificatePair
) -> None:
    """msal's RS256 assertion with the legacy x5t (SHA-1) header is accepted."""
    application = confidential_app(sim, session, CERTIFICATE_APP, certificate.sha1_credential())
    assert "access_token" in application.acquire_token_for_client([default_scope(sim)])


def test_unregistered_certificate_answers_aadsts700027(
    sim: Simulator, session: requests.Session, stranger_certificate: CertificatePair
) -> None:
    """A certificate the app does not have: 700027 'The key was not found'."""
    application = confidential_app(
        sim, session, CERTIFICATE_APP, stranger_certificate.sha256_credential()
    )
    result = application.acquire_token_for_client([default_scope(sim)])
    assert_entra_error(result, "invalid_client", 700027)
    assert (
        "[Reason - The key was not found., Thumbprint of key used by client:"
        in result["error_description"]
    )


def test_assertion_signed_with_another_key_answers_aadsts700027(
    sim: Simulator,
    session: requests.Session,
    certificate: CertificatePair,
    stranger_certificate: CertificatePair,
) -> None:
    """The registered thumbprint with the wrong private key fails signature validation."""
    credential = {"private_key": stranger_certificate.key_pem, "thumbprint": certificate.sha1}
    result = confidential_app(sim, session, CERTIFICATE_APP, credential).acquire_token_for_client(
        [default_scope(sim)]
    )
    assert_entra_error(result, "invalid_client", 700027)
    assert "did not match the expected signature value" in result["error_description"]
    assert certificate.sha1.upper() in result["error_description"]


def test_expired_certificate_registration_answers_aadsts700027(
    sim: Simulator,
    session: requests.Session,
    certificate: CertificatePair,
    stranger_certificate: CertificatePair,
) -> None:
    """A registered key past its end date is rejected as expired."""
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    sim.add_certificate(CERTIFICATE_APP, stranger_certificate.cert_pem, end=past)
    result = confidential_app(
        sim, session, CERTIFICATE_APP, stranger_certificate.sha256_credential()
    ).acquire_token_for_client([default_scope(sim)])
    assert_entra_error(result, "invalid_client", 700027)
    assert "The key used is expired." in result["error_description"]


def test_revoked_certificate_fails_on_the_next_request(
    sim: Simulator, session: requests.Session, certificate: CertificatePair
) -> None:
    """revoke_certificate removes the key; a fresh sign-in fails with 700027."""
    sim.revoke_certificate(CERTIFICATE_APP, certificate.sha1)
    result = confidential_app(
        sim, session, CERTIFICATE_APP, certificate.sha256_credential()
    ).acquire_token_for_client([default_scope(sim)])
    assert_entra_error(result, "invalid_client", 700027)


@pytest.mark.parametrize(
    "claims",
    [{"exp": -60}, {"nbf": 3600}, {"iat": 3600}],
    ids=["expired", "not-yet-valid", "issued-in-the-future"],
)
def test_assertion_outside_its_time_range_answers_aadsts700024(
    sim: Simulator,
    session: requests.Session,
    certificate: CertificatePair,
    claims: dict[str, int],
) -> None:
    """An expired assertion, or one valid only in the future (beyond 5 min skew), is 700024."""
    now = int(time.time())
    shifted = {name: now + offset for name, offset in claims.items()}
    result = confidential_app(
        sim, session, CERTIFICATE_APP, certificate.sha256_credential(), client_claims=shifted
    ).acquire_token_for_client([default_scope(sim)])
    assert_entra_error(result, "invalid_client", 700024)
    assert (
        "Client assertion is not within its valid time range. Current time: "
        in result["error_description"]
    )


def test_small_clock_skew_is_tolerated(
    sim: Simulator, session: requests.Session, certificate: CertificatePair
) -> None:
    """nbf/iat up to five minutes ahead of the server clock are accepted."""
    ahead = int(time.time()) + 120
    result = confidential_app(
        sim,
        session,
        CERTIFICATE_APP,
        certificate.sha256_credential(),
        client_claims={"nbf": ahead, "iat": ahead},
    ).acquire_token_for_client([default_scope(sim)])
    assert "access_token" in result


def test_wrong_audience_answers_aadsts700023(
    sim: Simulator, session: requests.Session, certificate: CertificatePair
) -> None:
    """An assertion for another token endpoint does not match the realm."""
    result = confidential_app(
        sim,
        session,
        CERTIFICATE_APP,
        certificate.sha256_credential(),
        client_claims={"aud": f"https://login.microsoftonline.com/{TENANT_ID}/oauth2/v2.0/token"},
    ).acquire_token_for_client([default_scope(sim)])
    assert_entra_error(result, "invalid_client", 700023)


def test_issuer_other_than_the_client_answers_aadsts700021(
    sim: Simulator, session: requests.Session, certificate: CertificatePair
) -> None:
    """iss and sub must both be the client id."""
    result = confidential_app(
        sim,
        session,
        CERTIFICATE_APP,
        certificate.sha256_credential(),
        client_claims={"iss": SECRET_APP, "sub": SECRET_APP},
    ).acquire_token_for_client([default_scope(sim)])
    assert_entra_error(result, "invalid_client", 700021)


def test_malformed_assertion_answers_aadsts50027(sim: Simulator, session: requests.Session) -> None:
    """Something that is not a JWT is rejected as malformed."""
    response = session.post(
        sim.token_endpoint(TENANT_ID),
        data={
            "client_id": CERTIFICATE_APP,
            "grant_type": "client_credentials",
            "scope": default_scope(sim),
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": "not-a-jwt",
        },
    )
    assert response.status_code == 401
    assert_entra_error(response.json(), "invalid_client", 50027)

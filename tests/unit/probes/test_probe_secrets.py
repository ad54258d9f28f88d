"""No secret value (client secret, password, private key, passphrase, access token) ever appears
in a ProbeResult, whatever the services answer, even when an answer echoes the request."""

from __future__ import annotations

import base64
import dataclasses
import json
import urllib.parse
from collections.abc import Callable, Iterator

import pytest
import requests
from probe_fakes import (
    FakeEntra,
    FakeResponse,
    KeyAndCertificate,
    Request,
    certificate_identity,
    config_for,
    context_for,
    password_identity,
    secret_identity,
)

from monitor.config.model import IdentityConfig
from monitor.model.probes import ProbeResult
from monitor.probes.registry import PROBE_KINDS

SECRET = "SENTINEL-client-secret-7f3a9c"
PASSWORD = "SENTINEL-password-Q9z!x"
PASSPHRASE = b"SENTINEL-passphrase-k2"


def _echo_body(request: Request) -> str:
    data = {key: value.decode() if isinstance(value, bytes) else value
            for key, value in request.data.items()}  # fmt: skip
    return json.dumps(data) + " " + urllib.parse.urlencode(data)


def _echo_headers(request: Request) -> str:
    return json.dumps(request.headers)


Answer = Callable[[Request], FakeResponse]


def _raise_with(text_of: Callable[[Request], str]) -> Answer:
    def answer(request: Request) -> FakeResponse:
        raise requests.exceptions.ConnectionError(
            f"connection broke while sending {text_of(request)}"
        )

    return answer


# Failure paths, each echoing the request (form body or headers) back in some way.
TOKEN_FAILURES: dict[str, Answer] = {
    "error_description_echo": lambda r: FakeResponse(
        400,
        json.dumps(
            {"error": "invalid_request", "error_codes": [9999999],
             "error_description": f"AADSTS9999999: bad request {_echo_body(r)}"}
        ),
    ),
    "known_code_echo": lambda r: FakeResponse(
        401,
        json.dumps(
            {"error": "invalid_client", "error_codes": [7000215],
             "error_description": f"AADSTS7000215: Invalid client secret {_echo_body(r)}"}
        ),
    ),
    "html_echo": lambda r: FakeResponse(200, f"<html>{_echo_body(r)}</html>"),
    "plain_429_echo": lambda r: FakeResponse(429, _echo_body(r)),
    "5xx_echo": lambda r: FakeResponse(500, _echo_body(r)),
    "exception_echo": _raise_with(_echo_body),
    "weird_shapes": lambda r: FakeResponse(
        400, json.dumps({"error": _echo_body(r), "error_codes": [_echo_body(r)],
                         "correlation_id": _echo_body(r), "suberror": _echo_body(r)})
    ),
}  # fmt: skip
WHOAMI_FAILURES: dict[str, Answer] = {
    "dataverse_echo": lambda r: FakeResponse(
        403, json.dumps({"error": {"code": "0x80072560", "message": _echo_headers(r)}})
    ),
    "dataverse_401_echo": lambda r: FakeResponse(
        401, json.dumps({"error": {"code": _echo_headers(r), "message": _echo_headers(r)}})
    ),
    "dataverse_ids_echo": lambda r: FakeResponse(
        200, json.dumps({"UserId": r.headers.get("Authorization", "")[7:],
                         "OrganizationId": _echo_headers(r)})
    ),
    "dataverse_html_echo": lambda r: FakeResponse(500, f"<html>{_echo_headers(r)}</html>"),
    "dataverse_exception_echo": _raise_with(_echo_headers),
}  # fmt: skip


def _forms(value: str) -> Iterator[str]:
    yield value
    yield urllib.parse.quote(value, safe="")
    yield urllib.parse.quote_plus(value)
    yield base64.b64encode(value.encode()).decode()
    yield json.dumps(value)[1:-1]


def _sentinels(certificate: KeyAndCertificate, tokens: list[str]) -> list[str]:
    values = [SECRET, PASSWORD, PASSPHRASE.decode(), *tokens]
    pem = certificate.pem(PASSPHRASE).decode()
    key_lines = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    values.extend(key_lines[:-1][:20])  # base64 body lines of the encrypted key
    return [form for value in values for form in _forms(value)]


def _identities(certificate: KeyAndCertificate) -> list[IdentityConfig]:
    return [
        secret_identity(SECRET, ("prod", "test")),
        certificate_identity(certificate.pem(PASSPHRASE), PASSPHRASE, ("prod", "test")),
        password_identity(PASSWORD, ("prod", "test")),
    ]


def _assert_clean(results: list[ProbeResult], sentinels: list[str]) -> None:
    for result in results:
        texts = [repr(result), str(result)]
        texts.extend(str(getattr(result, f.name)) for f in dataclasses.fields(result))
        for text in texts:
            for sentinel in sentinels:
                assert sentinel not in text, (result.outcome, result.message)


@pytest.mark.parametrize("family_and_name", [
    *(("token", name) for name in TOKEN_FAILURES),
    *(("whoami", name) for name in WHOAMI_FAILURES),
])  # fmt: skip
def test_no_secret_reaches_a_result(
    certificate: KeyAndCertificate, family_and_name: tuple[str, str]
) -> None:
    """Every kind, every echoing failure: no sentinel secret in any field of any result."""
    family, name = family_and_name
    answer = TOKEN_FAILURES.get(name) or WHOAMI_FAILURES[name]
    for identity in _identities(certificate):
        fake = FakeEntra()
        fake.secrets[identity.client_id] = {SECRET}
        fake.certificates[identity.client_id] = certificate.certificate
        if identity.username:
            fake.passwords[identity.username] = PASSWORD
        fake.overrides[family] = answer
        probe = PROBE_KINDS[identity.credential_type](
            identity, config_for(identity), context_for(fake)
        )
        results = probe.run(list(identity.environments))
        assert len(results) == 2
        if family == "whoami":
            assert fake.issued_tokens, "the sign-in must have succeeded for this path"
        assertions = [str(r.data["client_assertion"]) for r in fake.requests
                      if "client_assertion" in r.data]  # fmt: skip
        _assert_clean(results, _sentinels(certificate, fake.issued_tokens + assertions))


def test_the_sentinels_would_be_caught(certificate: KeyAndCertificate) -> None:
    """Control: the scanner does see a sentinel placed in a result."""
    identity = secret_identity(SECRET)
    fake = FakeEntra()
    fake.secrets[identity.client_id] = {SECRET}
    [result] = PROBE_KINDS["client_secret"](identity, config_for(identity), context_for(fake)).run(
        ["prod"]
    )
    leaked = dataclasses.replace(result, trace_id=SECRET)
    with pytest.raises(AssertionError):
        _assert_clean([leaked], _sentinels(certificate, []))

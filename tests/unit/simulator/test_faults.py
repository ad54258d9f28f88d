"""Fault injection: every mode misbehaves as documented, and none outlives the server."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import msal
import pytest
import requests

from monitor.simulator import Simulator
from monitor.simulator.entra import echo_encode

from .helpers import (
    GOOD_SECRET,
    PROD,
    SECRET_APP,
    TENANT_ID,
    USER,
    assert_entra_error,
    confidential_app,
    default_scope,
    public_app,
    sign_in_with_password,
    who_am_i,
)


def app_token(sim: Simulator, session: requests.Session) -> str:
    result = confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(
        [default_scope(sim)]
    )
    token: str = result["access_token"]
    return token


def sign_in(sim: Simulator, session: requests.Session) -> dict[str, Any]:
    application = confidential_app(sim, session, SECRET_APP, GOOD_SECRET)
    result: dict[str, Any] = application.acquire_token_for_client([default_scope(sim)])
    return result


@pytest.mark.parametrize("status", [500, 502, 503])
def test_http_5xx_answers_an_html_error_page(
    sim: Simulator, session: requests.Session, status: int
) -> None:
    """http_5xx answers that status with an HTML page; 503 also carries Retry-After."""
    token = app_token(sim, session)
    sim.set_fault("whoami", f"http_{status}", retry_after=7)  # type: ignore[arg-type]
    response = who_am_i(sim, session, token)
    assert response.status_code == status
    assert response.headers["Content-Type"].startswith("text/html")
    assert f"<h1>{status} " in response.text
    assert response.headers.get("Retry-After") == ("7" if status == 503 else None)


def test_http_500_on_the_token_endpoint_makes_msal_raise(
    sim: Simulator, session: requests.Session
) -> None:
    """msal raises MsalServiceError for a 5xx from the token endpoint."""
    application = confidential_app(sim, session, SECRET_APP, GOOD_SECRET)
    sim.set_fault("token", "http_500")
    with pytest.raises(msal.exceptions.MsalServiceError, match="HTTP Error: 500"):
        application.acquire_token_for_client([default_scope(sim)])


def test_throttle_on_the_token_endpoint_answers_temporarily_unavailable(
    sim: Simulator, session: requests.Session
) -> None:
    """throttle_429 on token: 429, Retry-After and an Entra temporarily_unavailable body."""
    sim.set_fault("token", "throttle_429", retry_after=30)
    response = session.post(
        sim.token_endpoint(TENANT_ID),
        data={
            "client_id": SECRET_APP,
            "client_secret": GOOD_SECRET,
            "grant_type": "client_credentials",
            "scope": default_scope(sim),
        },
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert_entra_error(response.json(), "temporarily_unavailable", 90055)
    assert_entra_error(sign_in(sim, session), "temporarily_unavailable", 90055)


def test_plain_text_throttle_makes_msal_fail_to_parse(
    sim: Simulator, session: requests.Session
) -> None:
    """A 'Too Many Requests' text body (as some proxies send) is not JSON for msal."""
    application = confidential_app(sim, session, SECRET_APP, GOOD_SECRET)
    sim.set_fault("token", "throttle_429", text_body=True)
    with pytest.raises(ValueError, match="Expecting value"):
        application.acquire_token_for_client([default_scope(sim)])


def test_throttle_on_who_am_i_answers_the_dataverse_limit_body(
    sim: Simulator, session: requests.Session
) -> None:
    """throttle_429 on whoami answers like Dataverse service protection."""
    token = app_token(sim, session)
    sim.set_fault("whoami", "throttle_429", retry_after=5)
    response = who_am_i(sim, session, token)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"]["code"] == "0x80072322"


def test_loop_detected_answers_aadsts50196(sim: Simulator, session: requests.Session) -> None:
    """loop_detected is Entra's invalid_grant 50196 for request loops."""
    sim.set_fault("token", "loop_detected")
    assert_entra_error(sign_in(sim, session), "invalid_grant", 50196)


def test_loop_detected_is_only_for_the_token_endpoint(sim: Simulator) -> None:
    """Fault validation rejects impossible combinations and unknown names."""
    with pytest.raises(ValueError, match="token family only"):
        sim.set_fault("whoami", "loop_detected")
    with pytest.raises(ValueError, match="unknown fault mode"):
        sim.set_fault("token", "explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown endpoint family"):
        sim.set_fault("ldap", "drop")


def test_echo_quotes_the_credential_in_the_encoding_asked_for(
    sim: Simulator, session: requests.Session
) -> None:
    """echo answers the wrong-secret error quoting the secret it received, re-encoded; with
    html an HTML page; it applies to the token endpoint only."""
    sim.set_fault("token", "echo", encoding="percent_lower", count=1)
    result = sign_in(sim, session)
    assert_entra_error(result, "invalid_client", 7000215)
    assert f"Received '{echo_encode(GOOD_SECRET, 'percent_lower')}'" in result["error_description"]
    sim.set_fault("token", "echo", encoding="html", count=1)
    page = session.post(
        f"{sim.authority_host}/{TENANT_ID}/oauth2/v2.0/token",
        data={"client_id": SECRET_APP, "client_secret": "a<b", "grant_type": "client_credentials"},
        timeout=5,
    )
    assert 400 == page.status_code
    assert "<p>Rejected credential: a&lt;b</p>" in page.text
    with pytest.raises(ValueError, match="token family only"):
        sim.set_fault("whoami", "echo")
    with pytest.raises(ValueError, match="unknown echo encoding"):
        sim.set_fault("token", "echo", encoding="rot13")  # type: ignore[arg-type]


def test_slow_delays_the_answer_and_trips_a_read_timeout(
    sim: Simulator, session: requests.Session
) -> None:
    """slow waits before answering: long enough for a short read timeout to fire."""
    token = app_token(sim, session)
    sim.set_fault("whoami", "slow", seconds=0.4, count=1)
    started = time.monotonic()
    assert who_am_i(sim, session, token).status_code == 200
    assert 0.4 <= time.monotonic() - started < 2
    sim.set_fault("whoami", "slow", seconds=0.5, count=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(sim.environment_url(PROD) + "/api/data/v9.2/WhoAmI", timeout=(2, 0.1))


def test_drip_delivers_the_whole_answer_slowly(sim: Simulator, session: requests.Session) -> None:
    """drip sends the complete response, one byte at a time."""
    token = app_token(sim, session)
    sim.set_fault("whoami", "drip", seconds=0.001, count=1)
    started = time.monotonic()
    response = who_am_i(sim, session, token)
    assert response.status_code == 200
    assert "UserId" in response.json()
    assert time.monotonic() - started > 0.2


def test_drip_defeats_the_read_timeout_but_ends_when_the_server_stops(
    sim: Simulator, session: requests.Session
) -> None:
    """Each byte arrives within the read timeout, so only stopping the server ends the call."""
    sim.set_fault("discovery", "drip", seconds=0.05)
    outcome: list[BaseException | requests.Response] = []

    def call() -> None:
        try:
            url = f"{sim.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration"
            outcome.append(session.get(url, timeout=(2, 0.5)))
        except requests.RequestException as error:
            outcome.append(error)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(1.2)
    assert caller.is_alive()  # more than twice the read timeout, still receiving
    started = time.monotonic()
    sim.stop()
    caller.join(2)
    assert time.monotonic() - started < 2
    assert not caller.is_alive()
    # Cut off mid-headers, http.client may even report a 200 with an empty body; either way
    # the metadata never arrived.
    [result] = outcome
    if isinstance(result, requests.Response):
        assert "token_endpoint" not in result.text
    else:
        assert isinstance(result, requests.RequestException)


def test_drop_closes_the_connection_without_an_answer(
    sim: Simulator, session: requests.Session
) -> None:
    """drop: the client sees the connection closed."""
    sim.set_fault("discovery", "drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"{sim.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration", timeout=5)


def test_hang_never_answers(sim: Simulator, session: requests.Session) -> None:
    """hang reads the request and keeps silent: the client's read timeout fires."""
    sim.set_fault("token", "hang")
    started = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.post(
            sim.token_endpoint(TENANT_ID), data={"client_id": SECRET_APP}, timeout=(2, 0.3)
        )
    assert time.monotonic() - started < 2


def test_stop_is_prompt_with_hanging_clients(sim: Simulator, session: requests.Session) -> None:
    """stop() returns within two seconds while clients without timeouts hang on it."""
    sim.set_fault("*", "hang")
    errors: list[BaseException] = []

    def call() -> None:
        try:
            with requests.Session() as own:
                own.trust_env = False
                own.verify = str(sim.ca_path)
                own.get(f"{sim.authority(TENANT_ID)}/v2.0/.well-known/openid-configuration")
        except requests.RequestException as error:
            errors.append(error)

    callers = [threading.Thread(target=call) for _ in range(3)]
    for caller in callers:
        caller.start()
    deadline = time.monotonic() + 5
    while sim.request_count("discovery") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 2
    for caller in callers:
        caller.join(2)
        assert not caller.is_alive()
    assert len(errors) == 3


def test_malformed_json_makes_msal_fail_to_parse(sim: Simulator, session: requests.Session) -> None:
    """malformed_json answers 200 with a truncated JSON body."""
    application = confidential_app(sim, session, SECRET_APP, GOOD_SECRET)
    sim.set_fault("token", "malformed_json")
    with pytest.raises(ValueError, match=r"Unterminated string|Expecting"):
        application.acquire_token_for_client([default_scope(sim)])
    raw = session.post(sim.token_endpoint(TENANT_ID), data={})
    assert raw.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(raw.text)


def test_html_answers_a_captive_portal(sim: Simulator, session: requests.Session) -> None:
    """html answers 200 with an HTML page instead of the service."""
    sim.set_fault("userrealm", "html")
    response = session.get(f"{sim.authority_host}/common/userrealm/{USER}?api-version=1.0")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Sign in to the network" in response.text


def test_count_limits_a_fault_to_the_next_requests(
    sim: Simulator, session: requests.Session
) -> None:
    """A fault with count=2 spoils two requests; the third is normal. All three are counted."""
    token = app_token(sim, session)
    sim.set_fault("whoami", "http_503", count=2)
    statuses = [who_am_i(sim, session, token).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert sim.request_count("whoami") == 3
    assert sim.scenario.faults == []


def test_faults_can_target_one_client_user_or_environment(
    sim: Simulator, session: requests.Session
) -> None:
    """Filters restrict a fault to one client id, username or environment."""
    sim.set_fault("token", "http_500", client_id="0f0f0f0f-0000-4000-8000-000000000000")
    sim.set_fault("whoami", "http_500", environment="contoso-test")
    sim.set_fault("userrealm", "http_500", username="someone-else@contoso.com")
    token = app_token(sim, session)
    assert who_am_i(sim, session, token).status_code == 200
    assert "access_token" in sign_in_with_password(
        public_app(sim, session), sim.environment_url(PROD) + "/user_impersonation"
    )
    sim.set_fault("token", "http_500", client_id=SECRET_APP.upper())
    with pytest.raises(msal.exceptions.MsalServiceError):
        confidential_app(sim, session, SECRET_APP, GOOD_SECRET).acquire_token_for_client(
            [default_scope(sim)]
        )


def test_star_applies_to_every_family_and_clear_faults_ends_it(
    sim: Simulator, session: requests.Session
) -> None:
    """A '*' fault spoils discovery too (msal cannot even be built); clear_faults ends it."""
    sim.set_fault("*", "http_503")
    with pytest.raises(msal.exceptions.MsalServiceError):
        confidential_app(sim, session, SECRET_APP, GOOD_SECRET)
    sim.clear_faults()
    assert "access_token" in sign_in(sim, session)


def test_first_matching_fault_wins(sim: Simulator, session: requests.Session) -> None:
    """Faults are tried in the order they were added."""
    token = app_token(sim, session)
    sim.set_fault("whoami", "http_502", count=1)
    sim.set_fault("*", "http_500", count=1)
    assert [who_am_i(sim, session, token).status_code for _ in range(3)] == [502, 500, 200]

"""JsonReader: paging, throttling, token refresh and how failures become "not observed"."""

from __future__ import annotations

import pytest
import requests
from directory_fakes import (
    GRAPH,
    FakeSession,
    FakeTokens,
    Sleeps,
    graph_error,
    reader,
    response,
)

from monitor.directory.client import JsonReader, NotFound, NotObserved, ReadPolicy
from monitor.directory.graph import GraphClient


def page(items: list[int], next_link: str | None = None) -> requests.Response:
    body: dict[str, object] = {"value": [{"n": n} for n in items]}
    if next_link is not None:
        body["@odata.nextLink"] = next_link
    return response(200, body)


def test_get_all_follows_next_links_to_the_end() -> None:
    """Every page of a collection is read through @odata.nextLink, in order."""
    session = FakeSession()
    client = reader(JsonReader, session)
    first = client.url("domains", {"$select": "id"})
    session.add(first, page([1, 2], f"{GRAPH}/domains?$skiptoken=A"))
    session.add(f"{GRAPH}/domains?$skiptoken=A", page([3], f"{GRAPH}/domains?$skiptoken=B"))
    session.add(f"{GRAPH}/domains?$skiptoken=B", page([4]))

    items = client.get_all("domains", {"$select": "id"})

    assert [1, 2, 3, 4] == [item["n"] for item in items]
    assert 3 == len(session.sent)


def test_bearer_token_goes_in_the_authorization_header() -> None:
    """Each request carries the observer's token as a bearer token and the reader's headers."""
    session = FakeSession()
    client = JsonReader(
        session.as_session(),
        GRAPH,
        FakeTokens(["abc"]),
        service="Graph",
        headers={"Accept": "application/json"},
    )
    session.add(client.url("organization"), response(200, {"id": "x"}))

    client.get("organization")

    _, _, headers = session.sent[0]
    assert {"Accept": "application/json", "Authorization": "Bearer abc"} == headers


def test_next_link_to_another_host_is_refused() -> None:
    """A nextLink pointing elsewhere is not followed: the token goes only to its own service."""
    session = FakeSession()
    client = reader(JsonReader, session)
    session.add(client.url("domains"), page([1], "https://evil.example/steal?x=1"))

    with pytest.raises(NotObserved) as caught:
        client.get_all("domains")

    assert "service_error" == caught.value.cause
    assert [client.url("domains")] == session.urls()


def test_endless_paging_stops_at_the_page_limit() -> None:
    """A service that pages for ever is cut off at max_pages."""
    session = FakeSession()
    client = reader(JsonReader, session, policy=ReadPolicy(max_pages=3))
    session.add(client.url("domains"), page([1], f"{GRAPH}/domains?next"))
    session.add(f"{GRAPH}/domains?next", page([2], f"{GRAPH}/domains?next"))

    with pytest.raises(NotObserved, match="beyond 3 pages"):
        client.get_all("domains")


def test_429_waits_retry_after_then_succeeds() -> None:
    """A 429 with a short Retry-After is waited out (by the injected sleep) and retried."""
    session = FakeSession()
    sleeps = Sleeps()
    client = reader(JsonReader, session, sleeps=sleeps)
    url = client.url("users/x")
    throttled = graph_error(429, "TooManyRequests", "Too many requests.")
    throttled.headers["Retry-After"] = "7"
    session.add(url, throttled, response(200, {"id": "x"}))

    assert {"id": "x"} == client.get("users/x")
    assert [7.0] == sleeps.calls


def test_long_retry_after_gives_up_for_the_rest_of_the_pass() -> None:
    """A Retry-After beyond max_wait_seconds is not waited for; later reads are skipped without
    a request (Graph keeps counting usage while it throttles)."""
    session = FakeSession()
    sleeps = Sleeps()
    client = reader(JsonReader, session, sleeps=sleeps, policy=ReadPolicy(max_wait_seconds=30))
    throttled = graph_error(429, "TooManyRequests", "Too many requests.")
    throttled.headers["Retry-After"] = "120"
    session.add(client.url("users/a"), throttled)

    with pytest.raises(NotObserved) as first:
        client.get("users/a")
    with pytest.raises(NotObserved) as second:
        client.get("users/b")

    assert ("throttled", "throttled") == (first.value.cause, second.value.cause)
    assert "retry after 120 s" in first.value.reason
    assert [] == sleeps.calls
    assert 1 == len(session.sent)


def test_429_retries_are_bounded_by_max_attempts() -> None:
    """A service that keeps answering 429 is tried max_attempts times, then given up."""
    session = FakeSession()
    sleeps = Sleeps()
    client = reader(JsonReader, session, sleeps=sleeps, policy=ReadPolicy(max_attempts=3))
    throttled = graph_error(429, "TooManyRequests", "Too many requests.")
    throttled.headers["Retry-After"] = "1"
    session.add(client.url("users/a"), throttled)

    with pytest.raises(NotObserved, match="throttled"):
        client.get("users/a")

    assert 3 == len(session.sent)
    assert [1.0, 1.0] == sleeps.calls


def test_503_with_retry_after_is_waited_like_a_429() -> None:
    """A 503 that says when to come back is retried after that wait."""
    session = FakeSession()
    sleeps = Sleeps()
    client = reader(JsonReader, session, sleeps=sleeps)
    busy = response(503, text="<html>busy</html>", headers={"Retry-After": "2"})
    session.add(client.url("domains"), busy, response(200, {"value": []}))

    assert [] == client.get_all("domains")
    assert [2.0] == sleeps.calls


def test_401_refreshes_the_token_once() -> None:
    """A refused token is dropped and a new one tried once; a second 401 is a sign-in problem."""
    session = FakeSession()
    tokens = FakeTokens(["old", "new"])
    client = reader(JsonReader, session, tokens=tokens)
    url = client.url("users/a")
    expired = graph_error(401, "InvalidAuthenticationToken", "Lifetime validation failed.")
    session.add(url, expired, response(200, {"id": "a"}))

    assert {"id": "a"} == client.get("users/a")
    assert ["Bearer old", "Bearer new"] == [h["Authorization"] for _, _, h in session.sent]
    assert 1 == tokens.invalidated

    session.add(client.url("users/b"), expired)
    with pytest.raises(NotObserved) as caught:
        client.get("users/b")
    assert "sign_in" == caught.value.cause
    assert "InvalidAuthenticationToken" in caught.value.reason


def test_403_names_the_missing_graph_permission() -> None:
    """Graph's 403 Authorization_RequestDenied becomes "the observer lacks <permission>"."""
    session = FakeSession()
    client = reader(GraphClient, session)
    session.add(
        client.url("subscribedSkus"),
        graph_error(403, "Authorization_RequestDenied", "Insufficient privileges."),
    )

    with pytest.raises(NotObserved) as caught:
        client.get_all("subscribedSkus", permission="Organization.Read.All")

    assert "permission" == caught.value.cause
    assert (
        "the observer lacks the Graph application permission Organization.Read.All "
        "(HTTP 403 Authorization_RequestDenied)" == caught.value.reason
    )


def test_404_is_not_found_not_a_failure() -> None:
    """A 404 raises NotFound with Graph's error code: a fact, not a missing observation."""
    session = FakeSession()
    client = reader(JsonReader, session)
    session.add(client.url("users/ghost"), graph_error(404, "Request_ResourceNotFound", "gone"))

    with pytest.raises(NotFound) as caught:
        client.get("users/ghost")

    assert "Request_ResourceNotFound" == caught.value.code


@pytest.mark.parametrize(
    ("answer", "cause", "fragment"),
    [
        (response(500, text="<html>oops</html>"), "service_error", "answered HTTP 500"),
        (response(200, text="{not json"), "service_error", "unreadable body"),
        (response(200, [1, 2]), "service_error", "unreadable body"),
        (graph_error(400, "BadRequest", "Invalid filter"), "service_error", "HTTP 400 BadRequest"),
        (requests.ConnectionError("refused"), "unreachable", "Graph unreachable"),
    ],
    ids=["5xx", "bad-json", "not-an-object", "400", "connection"],
)
def test_failures_become_not_observed(
    answer: requests.Response | Exception, cause: str, fragment: str
) -> None:
    """Server errors, unreadable bodies, refusals and network errors are "not observed"."""
    session = FakeSession()
    client = reader(JsonReader, session)
    session.add(client.url("domains"), answer)

    with pytest.raises(NotObserved) as caught:
        client.get("domains")

    assert cause == caught.value.cause
    assert fragment in caught.value.reason


def test_unreachable_service_is_not_asked_again_in_the_same_pass() -> None:
    """After a connection failure, further reads fail at once instead of waiting again."""
    session = FakeSession()
    client = reader(JsonReader, session)
    session.add(client.url("a"), requests.ConnectTimeout("timed out"))

    with pytest.raises(NotObserved):
        client.get("a")
    with pytest.raises(NotObserved, match="unreachable"):
        client.get("b")

    assert 1 == len(session.sent)


def test_token_failure_is_raised_before_any_request() -> None:
    """When the observer cannot sign in, the read fails with that reason and sends nothing."""
    session = FakeSession()
    tokens = FakeTokens(
        fail=NotObserved("sign_in", "the observer could not sign in (AADSTS7000215)")
    )
    client = reader(JsonReader, session, tokens=tokens)

    with pytest.raises(NotObserved, match="AADSTS7000215"):
        client.get("domains")

    assert [] == session.sent


def test_reasons_never_carry_a_token() -> None:
    """A service echoing the bearer token in its error message does not put it in a reason."""
    session = FakeSession()
    token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    client = reader(JsonReader, session, tokens=FakeTokens([token]))
    session.add(client.url("x"), graph_error(400, "BadRequest", f"bad token Bearer {token}"))

    with pytest.raises(NotObserved) as caught:
        client.get("x")

    assert token not in caught.value.reason
    assert token not in str(caught.value)


def test_read_guard_turns_a_parser_surprise_into_not_observed() -> None:
    """A read whose parser meets an unexpected shape raises "not observed", naming the read and
    the exception type (never the exception text, which may quote the answer)."""
    from monitor.directory.client import read_guard

    @read_guard("the tenant's SKUs")
    def parse() -> None:
        raise KeyError("secret-looking-payload")

    with pytest.raises(NotObserved) as caught:
        parse()

    assert "service_error" == caught.value.cause
    assert "the tenant's SKUs: unreadable answer (KeyError)" in caught.value.reason
    assert "secret-looking-payload" not in caught.value.reason


def test_read_guard_turns_an_unhandled_not_found_into_not_observed() -> None:
    """A NotFound the read did not handle means the read needed that object: not observed."""
    from monitor.directory.client import read_guard

    @read_guard("the roles")
    def parse() -> None:
        raise NotFound("0x80040217", "systemuser With Id = x Does Not Exist")

    with pytest.raises(
        NotObserved, match=r"the roles: the service answered HTTP 404 \(0x80040217\)"
    ):
        parse()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (response(200, text="<html>portal</html>"), "unreadable body"),
        (response(200, {"value": [1, 2]}), "not an object"),
        (response(200, {"value": [{"name": "x"}]}), "without its id"),
        (response(200, {"items": []}), "without 'value'"),
        (graph_error(404, "Request_ResourceNotFound", "gone"), "HTTP 404"),
        (response(404, text="Not Found"), "without its error body"),
    ],
    ids=["html", "item-not-object", "item-without-id", "no-value", "404", "bare-404"],
)
def test_collection_answers_a_reader_cannot_use_are_not_observed(
    answer: object, expected: str
) -> None:
    """A collection read never raises anything but NotObserved, whatever came back."""
    session = FakeSession()
    client = reader(JsonReader, session)
    session.add(client.url("things"), answer)  # type: ignore[arg-type]

    with pytest.raises(NotObserved, match=expected):
        client.get_all("things", key="id")

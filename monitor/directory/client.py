"""JSON reads from Graph and Dataverse with the observer's token: paging, throttling, errors.

A :class:`JsonReader` GETs JSON objects from one service through a
:class:`~monitor.http.MonitorSession` and turns every failure into :class:`NotObserved` with a
cause and a one-line reason; a 404 is :class:`NotFound` only where the service itself says the
object does not exist. Readers wrap their parsing with :func:`read_guard`, so that nothing a
service answers can raise anything else out of a read (``docs/posture.md``, "Not observed").
"""

from __future__ import annotations

import functools
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec, Protocol, TypeVar

import requests

from monitor.http import MonitorSession, odata_error
from monitor.model.observations import NotObservedCause
from monitor.model.outcomes import Outcome
from monitor.probes.classify import explain_exception, parse_retry_after, sanitise

Sleep = Callable[[float], None]
P = ParamSpec("P")
R = TypeVar("R")

# The services' own "this object does not exist" error codes (anything else in a 404 is not one).
NOT_FOUND_CODES = frozenset(
    {
        "request_resourcenotfound",  # Graph
        "resourcenotfound",  # Graph (some workloads)
        "0x80040217",  # Dataverse: "<entity> With Id = <id> Does Not Exist"
        "0x80060891",  # Dataverse: a record with the given key values does not exist
    }
)


class NotObserved(Exception):
    """A fact could not be read: ``cause`` is a short code, ``reason`` one line for people."""

    def __init__(self, cause: NotObservedCause, reason: str) -> None:
        super().__init__(reason)
        self.cause: NotObservedCause = cause
        self.reason = sanitise(reason)


class NotFound(Exception):
    """The service answered 404: the object does not exist (for the observer)."""

    def __init__(self, code: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def read_guard(what: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Wrap a read of *what* so that it raises nothing but :class:`NotObserved`.

    :class:`NotObserved` passes through; a :class:`NotFound` the read did not handle becomes
    "not observed" (the read needed that object); any other exception (an answer whose shape
    the parser did not expect) becomes "not observed: unreadable answer" naming its type.
    """

    def decorate(read: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(read)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return read(*args, **kwargs)
            except NotObserved:
                raise
            except NotFound as missing:
                detail = f" ({missing.code})" if missing.code else ""
                raise NotObserved(
                    "service_error",
                    f"{what}: the service answered HTTP 404{detail}: {missing.message}",
                ) from None
            except Exception as exc:  # a parser surprise must not take the pass down
                raise NotObserved(
                    "service_error",
                    f"{what}: unreadable answer ({type(exc).__name__}); the next read retries",
                ) from None

        return guarded

    return decorate


def malformed(service: str, what: str) -> NotObserved:
    """Return the "not observed" of an answer that lacks or garbles what a fact needs."""
    return NotObserved("service_error", f"{service} answered {what}; the next read retries")


class TokenProvider(Protocol):
    """The observer's access token for one resource, cached by the provider within a pass."""

    def token(self) -> str:
        """Return an access token. Raise :class:`NotObserved` (cause ``sign_in``) if none."""

    def invalidate(self) -> None:
        """Forget the cached token (the service refused it)."""


@dataclass(frozen=True)
class ReadPolicy:
    """How patient a directory pass is with one service."""

    max_attempts: int = 3  # tries per request, counting those after a 429 / 503
    max_wait_seconds: float = 30.0  # the longest Retry-After the pass sleeps for
    default_retry_after_seconds: float = 5.0  # a 429 without Retry-After
    max_pages: int = 100
    request_seconds: float = 30.0  # each request ends by then (MonitorSession deadline)
    until: float | None = None  # monotonic: the whole pass ends by then (check --timeout)


def _error_of(text: str) -> tuple[str | None, str]:
    """Return (code, message) of a Graph or Dataverse error body, or (None, "")."""
    try:
        error = odata_error(json.loads(text))
    except (ValueError, TypeError, RecursionError):
        return None, ""
    if error is None:
        return None, ""
    code = error.get("code")
    message = error.get("message")
    return (
        code if isinstance(code, str) and len(code) <= 64 else None,
        sanitise(message, 200) if isinstance(message, str) else "",
    )


class JsonReader:
    """GET JSON objects from one service with one token provider.

    It follows ``@odata.nextLink`` only to the same origin (the token is never sent elsewhere),
    waits out a short ``Retry-After`` of a 429 / 503 (``max_wait_seconds``) and otherwise gives
    up for the rest of the pass (a throttling service keeps counting, hammering only prolongs
    it), and refreshes the token once on a 401. *service* names it in reasons ("Graph",
    "Dataverse environment contoso-prod"). Subclasses say what a 403 means
    (:meth:`forbidden_reason`).
    """

    def __init__(
        self,
        session: MonitorSession,
        base_url: str,
        tokens: TokenProvider,
        *,
        service: str,
        headers: Mapping[str, str] | None = None,
        policy: ReadPolicy | None = None,
        sleep: Sleep = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.service = service
        self.headers = dict(headers or {})
        self.policy = policy or ReadPolicy()
        self.sleep = sleep
        self.monotonic = monotonic
        origin = urllib.parse.urlsplit(self.base_url)
        self._origin = (origin.scheme.lower(), origin.netloc.lower())
        self._gave_up: NotObserved | None = None

    # --- what subclasses refine ----------------------------------------------------------------

    def forbidden_reason(self, code: str | None, message: str, permission: str | None) -> str:
        """Return the reason a 403 gives for the fact that needed *permission*."""
        detail = f" ({code})" if code else ""
        return f"{self.service} refused the observer (HTTP 403{detail}): {message}"

    # --- reads -------------------------------------------------------------------------------

    def url(self, path: str, params: Mapping[str, str] | None = None) -> str:
        """Return the absolute URL of *path* (relative to the base URL) with *params*."""
        url = f"{self.base_url}/{path.lstrip('/')}"
        if params:
            url += "?" + urllib.parse.urlencode(params, safe="$,'()=", quote_via=urllib.parse.quote)
        return url

    def get(
        self, path: str, params: Mapping[str, str] | None = None, *, permission: str | None = None
    ) -> dict[str, Any]:
        """Return the JSON object at *path*.

        Raise :class:`NotFound` when the service answers that the object does not exist,
        :class:`NotObserved` for every other failure.
        """
        return self._get(self.url(path, params), permission, entity=True)

    def post(
        self, path: str, body: Mapping[str, Any], *, permission: str | None = None
    ) -> dict[str, Any]:
        """POST the JSON *body* to *path* and return the JSON object answered (Graph's
        ``$batch``: a read sent as a POST). Failures as :meth:`get`, a 404 included."""
        return self._get(self.url(path), permission, entity=False, body=body)

    def get_all(
        self, path: str, params: Mapping[str, str] | None = None, **options: str | None
    ) -> list[dict[str, Any]]:
        """Return every item of the collection at *path*, following ``@odata.nextLink``
        (*options*: those of :meth:`iterate`)."""
        return list(self.iterate(path, params, **options))

    def iterate(
        self,
        path: str,
        params: Mapping[str, str] | None = None,
        *,
        permission: str | None = None,
        key: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Yield every item of the collection at *path*, following ``@odata.nextLink``.

        Every item must be a JSON object and, with *key*, carry that property as a non-empty
        string (an item without its id cannot be told from any other). Raise
        :class:`NotObserved` for any failure, a 404 included.
        """
        url: str | None = self.url(path, params)
        pages = 0
        while url is not None:
            pages += 1
            if pages > self.policy.max_pages:
                raise NotObserved(
                    "service_error",
                    f"{self.service} kept paging beyond {self.policy.max_pages} pages",
                )
            page = self._get(url, permission, entity=False)
            items = page.get("value")
            if not isinstance(items, list):
                raise malformed(self.service, f"a collection without 'value' for {_short(path)}")
            for item in items:
                if not isinstance(item, dict):
                    raise malformed(
                        self.service, f"an item that is not an object in {_short(path)}"
                    )
                if key is not None and not _text(item.get(key)):
                    raise malformed(self.service, f"an item of {_short(path)} without its {key}")
            yield from items
            next_link = page.get("@odata.nextLink")
            url = self._same_origin(next_link) if next_link is not None else None

    def _same_origin(self, link: object) -> str:
        if not isinstance(link, str):
            raise NotObserved("service_error", f"{self.service} answered a malformed nextLink")
        parts = urllib.parse.urlsplit(link)
        if (parts.scheme.lower(), parts.netloc.lower()) != self._origin:
            # The bearer token goes only to the service it was issued for.
            raise NotObserved(
                "service_error", f"{self.service} answered a nextLink to another host"
            )
        return link

    def _get(
        self,
        url: str,
        permission: str | None,
        *,
        entity: bool,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        if self._gave_up is not None:
            raise self._gave_up
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = self.tokens.token()
            response = self._send(url, token, body)
            status = response.status_code
            if status == 200:
                return self._json(response)
            code, message = _error_of(response.text)
            if status == 401 and not refreshed:
                refreshed = True
                self.tokens.invalidate()
                attempt -= 1
                continue
            if status == 401:
                self.tokens.invalidate()
                raise NotObserved(
                    "sign_in",
                    f"{self.service} refused the observer's token (HTTP 401"
                    + (f" {code}" if code else "")
                    + (f": {message})" if message else ")"),
                )
            if status == 403:
                raise NotObserved("permission", self.forbidden_reason(code, message, permission))
            if status == 404:
                if entity and (code or "").lower() in NOT_FOUND_CODES:
                    raise NotFound(code, message)
                detail = f" {code}" if code else ""
                raise NotObserved(
                    "service_error",
                    f"{self.service} answered HTTP 404{detail} for {_short(_path_of(url))}"
                    + (f": {message}" if message else " without its error body (a proxy?)"),
                )
            if status == 429 or (status == 503 and "retry-after" in _lower_keys(response)):
                wait = parse_retry_after(response.headers)
                seconds = (
                    float(wait) if wait is not None else self.policy.default_retry_after_seconds
                )
                in_time = (
                    self.policy.until is None or self.monotonic() + seconds < self.policy.until
                )
                if (
                    attempt < self.policy.max_attempts
                    and seconds <= self.policy.max_wait_seconds
                    and in_time
                ):
                    self.sleep(seconds)
                    continue
                self._gave_up = NotObserved(
                    "throttled",
                    f"{self.service} throttled the observer (HTTP {status}, retry after "
                    f"{seconds:g} s); the remaining reads of this pass were skipped",
                )
                raise self._gave_up
            if status >= 500:
                raise NotObserved("service_error", f"{self.service} answered HTTP {status}")
            detail = f" {code}" if code else ""
            raise NotObserved(
                "service_error",
                f"{self.service} refused the request (HTTP {status}{detail}"
                + (f": {message})" if message else ")"),
            )

    def _send(
        self, url: str, token: str, body: Mapping[str, Any] | None = None
    ) -> requests.Response:
        headers = {**self.headers, "Authorization": f"Bearer {token}"}
        method = "GET" if body is None else "POST"
        payload: dict[str, Any] = {}
        if body is not None:
            headers["Content-Type"] = "application/json"
            payload["data"] = json.dumps(body).encode("utf-8")
        deadline = self.monotonic() + self.policy.request_seconds
        if self.policy.until is not None:
            if self.monotonic() >= self.policy.until:
                self._gave_up = NotObserved("unreachable", "not read: the check's time ran out")
                raise self._gave_up
            deadline = min(deadline, self.policy.until)
        try:
            return self.session.request(method, url, headers=headers, deadline=deadline, **payload)
        except (requests.RequestException, OSError) as exc:
            failure = explain_exception(exc)
            cause: NotObservedCause = (
                "unreachable"
                if failure.outcome in (Outcome.UNREACHABLE, Outcome.TLS_ERROR)
                else "service_error"
            )
            problem = NotObserved(cause, f"{self.service} unreachable: {failure.message}")
            if cause == "unreachable":
                # Every further read would wait for the same timeout: skip them this pass.
                self._gave_up = problem
            raise problem from None

    def _json(self, response: requests.Response) -> dict[str, Any]:
        try:
            body = json.loads(response.text)
        except (ValueError, TypeError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise NotObserved(
                "service_error", f"{self.service} answered HTTP 200 with an unreadable body"
            )
        return body


def _lower_keys(response: requests.Response) -> set[str]:
    return {key.lower() for key in response.headers}


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _path_of(url: str) -> str:
    return urllib.parse.unquote(urllib.parse.urlsplit(url).path)


def _short(path: str, limit: int = 80) -> str:
    """Return the resource part of *path* (after ``v1.0`` / ``v9.2``) for reasons."""
    for marker in ("/v1.0/", "/v9.2/", "/v9.1/", "/v9.0/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    path = path.strip("/")
    return path if len(path) <= limit else path[: limit - 1] + "…"

"""Fakes for the directory readers: a scripted HTTP session and a token provider.

The session stands in for :class:`monitor.http.MonitorSession` at its one method the readers
call (``request``); answers are realistic Graph / Dataverse bodies from ``directory_payloads``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import requests

from monitor.directory.client import JsonReader, NotObserved, ReadPolicy
from monitor.http import MonitorSession

GRAPH = "https://graph.example.test/v1.0"
DATAVERSE = "https://contoso.crm4.example.test"

Answer = requests.Response | Exception | Callable[[str], requests.Response]


def response(
    status: int = 200,
    body: object | None = None,
    *,
    headers: dict[str, str] | None = None,
    text: str | None = None,
) -> requests.Response:
    """Return a ``requests.Response`` with a JSON (or raw text) body."""
    answer = requests.Response()
    answer.status_code = status
    answer._content = (text if text is not None else json.dumps(body or {})).encode()
    answer.headers.update({"Content-Type": "application/json", **(headers or {})})
    return answer


def graph_error(status: int, code: str, message: str) -> requests.Response:
    return response(
        status,
        {"error": {"code": code, "message": message, "innerError": {"request-id": "x"}}},
    )


@dataclass
class FakeSession:
    """Answers GETs from a routing table of URL -> answers (consumed in order; the last one
    repeats). Records every request (method, url, headers)."""

    routes: dict[str, list[Answer]] = field(default_factory=dict)
    sent: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    closed: bool = False

    def add(self, url: str, *answers: Answer) -> None:
        self.routes.setdefault(url, []).extend(answers)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.get("headers") or {})
        self.sent.append((method, url, headers))
        answers = self.routes.get(url)
        if not answers:
            return graph_error(404, "Request_ResourceNotFound", f"no route for {url}")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(url)
        return answer

    def close(self) -> None:
        self.closed = True

    def urls(self) -> list[str]:
        return [url for _, url, _ in self.sent]

    def as_session(self) -> MonitorSession:
        return cast(MonitorSession, self)


@dataclass
class FakeTokens:
    """A token provider; ``fail`` makes ``token()`` raise like a failed observer sign-in."""

    tokens: list[str] = field(default_factory=lambda: ["token-1", "token-2", "token-3"])
    fail: NotObserved | None = None
    issued: int = 0
    invalidated: int = 0

    def token(self) -> str:
        if self.fail is not None:
            raise self.fail
        token = self.tokens[min(self.issued, len(self.tokens) - 1)]
        self.issued += 1
        return token

    def invalidate(self) -> None:
        self.invalidated += 1
        self.tokens = self.tokens[1:] or self.tokens


@dataclass
class Sleeps:
    """Records the waits a reader asked for instead of sleeping."""

    calls: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def reader(
    cls: type[JsonReader],
    session: FakeSession,
    base: str = GRAPH,
    *,
    tokens: FakeTokens | None = None,
    sleeps: Sleeps | None = None,
    policy: ReadPolicy | None = None,
    service: str = "Graph",
) -> JsonReader:
    """Return a reader of *cls* over the fake session."""
    return cls(
        session.as_session(),
        base,
        tokens or FakeTokens(),
        service=service,
        policy=policy or ReadPolicy(),
        sleep=sleeps or Sleeps(),
    )

"""Graph JSON batching: up to 20 reads in one round trip, each answered on its own.

Microsoft Graph, "Combine multiple requests in one HTTP call using JSON batching"
(https://learn.microsoft.com/graph/json-batching): ``POST /$batch`` with
``{"requests": [{"id", "method", "url"}]}`` answers ``{"responses": [{"id", "status",
"headers", "body"}]}``; at most 20 requests per batch; each one is throttled on its own (a 429
in a response, with its ``Retry-After``). The batch itself goes through the directory client
(:class:`~monitor.directory.client.JsonReader`): its token, throttling and errors hold for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from monitor.directory.client import (
    NOT_FOUND_CODES,
    JsonReader,
    NotFound,
    NotObserved,
    malformed,
)
from monitor.probes.classify import sanitise

BATCH_LIMIT = 20

Answer = dict[str, Any] | NotFound | NotObserved


def _retry_after(headers: object, default: float) -> float:
    if isinstance(headers, Mapping):
        for name, value in headers.items():
            if str(name).lower() == "retry-after":
                try:
                    return max(0.0, float(str(value)))
                except ValueError:
                    return default
    return default


def _error(body: object) -> tuple[str | None, str]:
    error = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(error, Mapping):
        return None, ""
    code, message = error.get("code"), error.get("message")
    return (
        code if isinstance(code, str) else None,
        sanitise(message, 200) if isinstance(message, str) else "",
    )


def batch_get(
    client: JsonReader, paths: Sequence[str], *, permission: str | None = None
) -> dict[str, Answer]:
    """GET every relative *path* (``users/{id}?$select=...``) through ``$batch``, 20 per round
    trip, and return each path's JSON object, :class:`NotFound` or :class:`NotObserved`.

    A request Graph throttled is sent again in a later batch after its ``Retry-After`` when the
    client's policy allows the wait, else it is "not observed" (throttled). A failed batch makes
    each of its requests "not observed" for the same reason; nothing is raised.
    """
    answers: dict[str, Answer] = {}
    unique = list(dict.fromkeys(paths))
    policy = client.policy
    for start in range(0, len(unique), BATCH_LIMIT):
        todo = unique[start : start + BATCH_LIMIT]
        attempt = 0
        while todo:
            attempt += 1
            body = {
                "requests": [
                    {"id": str(index), "method": "GET", "url": "/" + path.lstrip("/")}
                    for index, path in enumerate(todo)
                ]
            }
            try:
                answer = client.post("$batch", body, permission=permission)
            except NotObserved as problem:
                answers.update((path, problem) for path in todo)
                break
            responses = answer.get("responses")
            by_id = {
                str(item.get("id")): item
                for item in responses or ()
                if isinstance(responses, list) and isinstance(item, Mapping)
            }
            throttled: list[str] = []
            wait = 0.0
            for index, path in enumerate(todo):
                item = by_id.get(str(index))
                if item is None:
                    answers[path] = malformed(client.service, "a batch without one of its answers")
                    continue
                status = item.get("status")
                content = item.get("body")
                code, message = _error(content)
                if status == 200 and isinstance(content, dict):
                    answers[path] = content
                elif status == 404 and (code or "").lower() in NOT_FOUND_CODES:
                    answers[path] = NotFound(code, message)
                elif status == 429 or status == 503:
                    throttled.append(path)
                    wait = max(
                        wait,
                        _retry_after(item.get("headers"), policy.default_retry_after_seconds),
                    )
                elif status == 403:
                    answers[path] = NotObserved(
                        "permission", client.forbidden_reason(code, message, permission)
                    )
                else:
                    detail = f" {code}" if code else ""
                    answers[path] = NotObserved(
                        "service_error",
                        f"{client.service} answered HTTP {status}{detail} in a batch"
                        + (f": {message}" if message else ""),
                    )
            in_time = policy.until is None or client.monotonic() + wait < policy.until
            if (
                throttled
                and attempt < policy.max_attempts
                and wait <= policy.max_wait_seconds
                and in_time
            ):
                client.sleep(wait)
                todo = throttled
                continue
            for path in throttled:
                answers[path] = NotObserved(
                    "throttled",
                    f"{client.service} throttled the observer (HTTP 429 in a batch, retry after "
                    f"{wait:g} s)",
                )
            todo = []
    return answers

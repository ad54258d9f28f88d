"""Sending a rendered message to the URLs of a channel with apprise.

The only module that imports apprise (inside the functions that send). Each URL gets its own
``Apprise`` object, so the result is known per URL; by the kind of URL (:data:`SENDERS`) a Teams
workflow gets the monitor's Adaptive Card, e-mail the HTML body under its own subject line,
anything else plain text.
Failures are reduced to a short error class (:func:`classify_error`), never what the service
echoed; ``send_timeout_seconds`` bounds the whole call to one URL through a pool of daemon
threads (:mod:`monitor.notify.deadline`). Why each of these: docs/notifications.md ("Delivery
to a URL").
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
import urllib.parse
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from monitor.config.model import ChannelConfig
from monitor.config.urls import UrlKind, inspect_url, is_loopback_host, url_problems
from monitor.model.outbox import UrlAttempt
from monitor.notify.deadline import DeadlineExceeded, DeadlinePool, StillRunning
from monitor.notify.render import Rendered
from monitor.notify.trust import certificate_problem
from monitor.secrets import scrub

_HTTP_STATUS = re.compile(r"error=(\d{3})\b")
_SMTP_CODE = re.compile(r"\b([45]\d\d)\b")


_load_lock = threading.Lock()

# One pool for the whole process (the daemon's dispatch job, `monitor check`, `notify test`).
SEND_POOL_SIZE = 8
_send_pool = DeadlinePool(SEND_POOL_SIZE, name="monitor-send")


def load_apprise() -> ModuleType:
    """Import apprise and load its plugins once.

    apprise 2.3 imports the ``imghdr`` module (deprecated in Python 3.11, removed in 3.13) while
    loading its e-mail plugin; that one known warning is ignored here so that it neither floods
    the log nor fails a test run with warnings as errors.
    """
    with _load_lock, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*imghdr.*", category=DeprecationWarning)
        import apprise
        from apprise.manager_plugins import NotificationManager

        NotificationManager().load_modules()  # type: ignore[no-untyped-call]
    return apprise


class ChannelSender(Protocol):
    """Sends one rendered message to some URLs of a channel; one result per URL."""

    def send(
        self,
        channel: ChannelConfig,
        message: Rendered,
        url_indexes: Sequence[int],
        *,
        timeout: float,
    ) -> list[UrlAttempt]: ...


def _with_query(url: str, key: str, value: str) -> str:
    """Return *url* with ``key=value`` added to its query (apprise reads its options there)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{key}={urllib.parse.quote(value, safe='')}"


def _has_query(url: str, key: str) -> bool:
    query = urllib.parse.urlsplit(url).query
    return any(k.lower() == key for k, _ in urllib.parse.parse_qsl(query))


# What makes a receiver's certificate trusted: apprise sends HTTPS through requests, which
# honours REQUESTS_CA_BUNDLE; SMTP uses Python's default context, the system store. The
# monitor's own network.ca_bundle applies to neither (README, "Trust"; monitor/notify/trust.py).
TLS_NOT_TRUSTED_HTTPS = (
    "TLS not trusted: set REQUESTS_CA_BUNDLE to a bundle with the receiver's CA, or add the CA "
    "to the system store (network.ca_bundle does not apply to channels)"
)
TLS_NOT_TRUSTED_SMTP = (
    "TLS not trusted: add the mail server's CA to the system store (network.ca_bundle and "
    "REQUESTS_CA_BUNDLE do not apply to SMTP)"
)
TLS_CERTIFICATE_PROBLEMS = {
    "expired": "TLS failed: the receiver's certificate has expired",
    "hostname": "TLS failed: the receiver's certificate is for another host name or address",
    "invalid": "TLS failed: the receiver's certificate is invalid",
}
_SMTP_SCHEMES = ("mailto", "mailtos")
# Error classes behind which a certificate that is not trusted may hide.
_MAYBE_TLS = ("connection failed", "TLS failed", "delivery failed")


def classify_error(messages: Sequence[str], *, timed_out: bool = False) -> str:
    """Reduce apprise's log lines of a failed call to a short error class (never the URL)."""
    text = " ".join(messages)
    match = _HTTP_STATUS.search(text)
    if match:
        return f"HTTP {match[1]}"
    lowered = text.lower()
    if timed_out or "timed out" in lowered or "timeout" in lowered:
        return "timed out"
    if "certificate" in lowered or "ssl" in lowered:
        return "TLS failed"
    if "auth" in lowered or "login" in lowered:
        return "authentication failed"
    if "connection error" in lowered or "connect" in lowered:
        return "connection failed"
    if "template" in lowered:
        return "card rejected"
    if "recipient" in lowered:
        return "no valid recipient"
    match = _SMTP_CODE.search(text) if "email" in lowered else None
    if match:
        return f"SMTP {match[1]}"
    return "delivery failed"


class AppriseSender:
    """Deliver with apprise (see the module docstring). *pool* runs the calls (default: the
    process-wide send pool)."""

    def __init__(self, *, temp_dir: Path | None = None, pool: DeadlinePool | None = None) -> None:
        self._temp_dir = temp_dir
        self._pool = pool or _send_pool

    def send(
        self,
        channel: ChannelConfig,
        message: Rendered,
        url_indexes: Sequence[int],
        *,
        timeout: float,
    ) -> list[UrlAttempt]:
        attempts: list[UrlAttempt] = []
        for index in url_indexes:
            url = channel.urls[index].reveal()
            started = time.monotonic()
            ok, error = self._bounded(url, message, timeout)
            attempts.append(
                UrlAttempt(
                    url_index=index,
                    ok=ok,
                    error=None if ok else scrub(error or "delivery failed"),
                    duration_ms=int((time.monotonic() - started) * 1000),
                )
            )
        return attempts

    def _bounded(self, url: str, message: Rendered, timeout: float) -> tuple[bool, str | None]:
        """Send to *url* on the pool; give up waiting after *timeout* seconds."""
        key = hashlib.sha256(url.encode()).hexdigest()  # the pool never holds the URL itself
        try:
            return self._pool.run(key, lambda: self._send_one(url, message, timeout), timeout)
        except DeadlineExceeded as exc:
            if exc.started:
                return False, f"timed out after {timeout:g} s"
            return False, f"timed out after {timeout:g} s waiting for a free sender"
        except StillRunning:
            return False, "timed out: the previous send to this URL still hangs"
        except Exception as exc:  # a plugin bug must never stop the dispatcher
            return False, f"internal error ({type(exc).__name__})"

    def _send_one(self, url: str, message: Rendered, timeout: float) -> tuple[bool, str | None]:
        problems = url_problems(url)
        if problems:
            return False, f"refused: expected {problems[0].expected}"
        kind = inspect_url(url).kind
        sender = SENDERS[kind]
        return sender(self, url, message, timeout)

    # --- per kind --------------------------------------------------------------------------

    def _teams(self, url: str, message: Rendered, timeout: float) -> tuple[bool, str | None]:
        if _has_query(url, "template"):  # the operator's own card template wins
            return self._notify(url, message.title, message.text, "text", timeout)
        with tempfile.TemporaryDirectory(prefix="monitor-card-", dir=self._temp_dir) as folder:
            os.chmod(folder, 0o700)
            path = Path(folder) / "card.json"
            # Escape "{{" so apprise's template tokens can never be injected by message text.
            payload = json.dumps(message.card).replace("{{", "{\\u007b")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                file.write(payload)
            return self._notify(
                _with_query(url, "template", str(path)),
                message.title,
                message.text,
                "text",
                timeout,
            )

    def _email(self, url: str, message: Rendered, timeout: float) -> tuple[bool, str | None]:
        return self._notify(url, message.subject, message.html, "html", timeout)

    def _other(self, url: str, message: Rendered, timeout: float) -> tuple[bool, str | None]:
        return self._notify(url, message.title, message.text, "text", timeout)

    def _notify(
        self, url: str, title: str, body: str, body_format: str, timeout: float
    ) -> tuple[bool, str | None]:
        """Send with apprise on the calling thread; *timeout* is enforced by the pool around
        this call (apprise would enforce it on threads the interpreter waits for at exit)."""
        apprise = load_apprise()
        # service_timeout=0 and no call timeout: apprise then runs the service on this (pool)
        # thread instead of abandoning it on one of its own; the pool enforces the deadline.
        manager = apprise.Apprise(asset=apprise.AppriseAsset(service_timeout=0))
        if not manager.add(url):
            return False, "apprise cannot load this URL (check its form)"
        plugin = manager[0]
        protocol = getattr(plugin, "protocol", None)
        insecure = protocol and not getattr(plugin, "secure", True)
        if insecure and not is_loopback_host(getattr(plugin, "host", None)):
            return False, "refused: the URL would send without TLS"
        lines: list[str] = []

        def capture(entry: Any, _service: Any) -> None:
            lines.append(str(getattr(entry, "message", "")))

        result = manager.notify(
            body=body,
            title=title,
            body_format=body_format,
            log_callback=capture,
            log_level=logging.WARNING,
        )
        if bool(result):
            return True, None
        timed_out = int(getattr(result, "status", 1)) == 5  # AppriseResultStatus.TIMEOUT
        error = classify_error(lines, timed_out=timed_out)
        if error in _MAYBE_TLS:
            smtp = inspect_url(url).scheme in _SMTP_SCHEMES
            problem = certificate_problem(plugin, smtp=smtp, timeout=timeout)
            if problem == "untrusted":
                return False, TLS_NOT_TRUSTED_SMTP if smtp else TLS_NOT_TRUSTED_HTTPS
            if problem is not None:
                return False, TLS_CERTIFICATE_PROBLEMS[problem]
        return False, error


SendOne = Callable[[AppriseSender, str, Rendered, float], tuple[bool, str | None]]

# URL kind -> how a message is sent to it (see the module docstring).
SENDERS: dict[UrlKind, SendOne] = {
    "teams": AppriseSender._teams,
    "email": AppriseSender._email,
    "other": AppriseSender._other,
}
